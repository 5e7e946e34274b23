"""The OpenAI image-generation protocol: fields, limits, models, sizes and the error envelope.

This module is the one source of truth for what a request to ``POST /v1/images/generations``
may contain. The endpoint validates with it, the gallery's form offers its choices, and the
client builds requests from it. Plain Python: no Django, no HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MAX_PROMPT_CHARS = 32_000
MIN_N = 1
MAX_N = 10
# A request body is a prompt and a few short fields; 32,000 characters of escaped JSON fit well
# under this, and anything larger is refused with 413 before it is parsed.
MAX_BODY_BYTES = 256 * 1024

RESPONSE_FORMATS = ("url", "b64_json")
DEFAULT_RESPONSE_FORMAT = "url"
OUTPUT_FORMATS = ("png", "jpeg", "webp", "gif", "svg")
CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "svg": "image/svg+xml",
}

PROCEDURAL_MODEL = "novisurf-procedural"
DEFAULT_MODEL = PROCEDURAL_MODEL
URL_LIFETIME_SECONDS = 60 * 60

SIZE_PATTERN = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts. ``procedural`` models are rendered by this site, not forwarded."""

    id: str
    label: str
    sizes: tuple[str, ...]
    default_size: str
    max_n: int = MAX_N
    procedural: bool = False
    # gpt-image models always answer b64_json and refuse the field; others take url or b64_json.
    accepts_response_format: bool = True
    owned_by: str = "openai"
    description: str = ""


MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id=PROCEDURAL_MODEL,
            label="Novisurf procedural (not AI)",
            sizes=(
                "256x256",
                "512x512",
                "1024x1024",
                "1536x1024",
                "1024x1536",
                "1792x1024",
                "1024x1792",
                "auto",
            ),
            default_size="1024x1024",
            procedural=True,
            owned_by="novisurf",
            description=(
                "A procedural renderer built into Novisurf. It is not AI: the prompt's words pick "
                "a palette and shapes for a deterministic abstract composition."
            ),
        ),
        ModelSpec(
            id="gpt-image-1",
            label="gpt-image-1",
            sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
            default_size="auto",
            accepts_response_format=False,
        ),
        ModelSpec(
            id="gpt-image-1-mini",
            label="gpt-image-1-mini",
            sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
            default_size="auto",
            accepts_response_format=False,
        ),
        ModelSpec(
            id="dall-e-3",
            label="DALL·E 3",
            sizes=("1024x1024", "1792x1024", "1024x1792"),
            default_size="1024x1024",
            max_n=1,
        ),
        ModelSpec(
            id="dall-e-2",
            label="DALL·E 2",
            sizes=("256x256", "512x512", "1024x1024"),
            default_size="1024x1024",
        ),
    )
}

# Every size any known model offers, in a stable order, for forms that list them all.
ALL_SIZES: tuple[str, ...] = tuple(dict.fromkeys(s for spec in MODELS.values() for s in spec.sizes))

# Optional fields the OpenAI Images API defines, with the values it allows. ``None`` as the
# allowed set means "any string".
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "quality": ("standard", "hd", "low", "medium", "high", "xhigh", "max", "auto"),
    "style": ("vivid", "natural"),
    "output_format": OUTPUT_FORMATS,
    "background": ("transparent", "opaque", "auto"),
    "moderation": ("low", "auto"),
    "complexity": ("low", "medium", "high"),
}
# Fields passed on as they are, after a type check: strings, positive integers, objects.
STRING_FIELDS = ("user", "safety_identifier")
POSITIVE_INT_FIELDS = ("frame_count", "frame_duration_ms")
OBJECT_FIELDS = ("svg",)
KNOWN_FIELDS = frozenset(
    {
        "prompt",
        "model",
        "n",
        "size",
        "response_format",
        "output_compression",
        "stream",
        "partial_images",
        *ENUM_FIELDS,
        *STRING_FIELDS,
        *POSITIVE_INT_FIELDS,
        *OBJECT_FIELDS,
    }
)


class ProtocolError(Exception):
    """A request the protocol refuses. Carries everything the OpenAI error envelope needs."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.type = type

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.message, param=self.param, code=self.code, type=self.type)


def error_envelope(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The OpenAI error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass(frozen=True)
class GenerationRequest:
    """A validated request, defaults filled in."""

    prompt: str
    model: str
    n: int
    size: str
    response_format: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def dimensions(self) -> tuple[int, int]:
        return parse_size(self.size)

    def upstream_body(self) -> dict[str, Any]:
        """The body to send to another OpenAI-compatible endpoint for this request."""
        body: dict[str, Any] = {"prompt": self.prompt, "model": self.model, "n": self.n}
        if self.size != "auto":
            body["size"] = self.size
        body.update(self.options)
        return body


def parse_size(size: str) -> tuple[int, int]:
    """``"1024x768"`` -> ``(1024, 768)``; ``"auto"`` -> the default square."""
    if size == "auto":
        return (1024, 1024)
    match = SIZE_PATTERN.match(size)
    if not match:
        raise ValueError(f"not a size: {size!r}")
    return int(match.group(1)), int(match.group(2))


def accepts_response_format(model: str) -> bool:
    spec = MODELS.get(model)
    return spec.accepts_response_format if spec else True


def sizes_for(model: str) -> tuple[str, ...]:
    spec = MODELS.get(model)
    return spec.sizes if spec else ALL_SIZES


def _require_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(
            f"Invalid type for '{name}': expected a string, but got {_json_type(value)}.",
            param=name,
            code="invalid_type",
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON may carry a lone surrogate ("\ud800"), which no UTF-8 text can hold.
        raise ProtocolError(
            f"Invalid value for '{name}': the string is not valid Unicode.",
            param=name,
            code="invalid_value",
        ) from None
    return value


def _require_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    # bool is an int in Python, but JSON's true is not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ProtocolError(
            f"Invalid type for '{name}': expected an integer, but got {_json_type(value)}.",
            param=name,
            code="invalid_type",
        )
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def serves_procedural_only(model: str) -> bool:
    spec = MODELS.get(model)
    return spec is not None and spec.procedural


def validate_generation(
    body: Any, *, serves: Callable[[str], bool] = serves_procedural_only
) -> GenerationRequest:
    """Check a decoded JSON body against the protocol and fill in defaults.

    ``serves(model)`` says whether the caller can serve a model: the procedural ones always, any
    other when an upstream is configured. A model it cannot serve is a 404, as the OpenAI API
    answers it. Sizes are checked against a known model's list, and only for shape otherwise.
    """
    if not isinstance(body, dict):
        raise ProtocolError(
            f"The request body must be a JSON object, but got {_json_type(body)}.",
            code="invalid_type",
        )
    for name in body:
        if name not in KNOWN_FIELDS:
            raise ProtocolError(
                f"Unrecognized request argument supplied: {name}",
                param=name,
                code="unknown_parameter",
            )

    prompt = _require_string(body, "prompt")
    if prompt is None:
        raise ProtocolError(
            "Missing required parameter: 'prompt'.",
            param="prompt",
            code="missing_required_parameter",
        )
    if not prompt.strip():
        raise ProtocolError("The prompt must not be empty.", param="prompt", code="empty_prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ProtocolError(
            f"The prompt is {len(prompt):,} characters long; the maximum is {MAX_PROMPT_CHARS:,}.",
            param="prompt",
            code="string_above_max_length",
        )

    model = _require_string(body, "model") or DEFAULT_MODEL
    spec = MODELS.get(model)
    if not serves(model):
        raise ProtocolError(
            f"The model '{model}' does not exist or you do not have access to it.",
            status=404,
            param="model",
            code="model_not_found",
        )

    n = _require_int(body, "n")
    n = 1 if n is None else n
    max_n = spec.max_n if spec else MAX_N
    if not MIN_N <= n <= max_n:
        raise ProtocolError(
            f"Invalid 'n': {n}. It must be between {MIN_N} and {max_n} for model '{model}'.",
            param="n",
            code="integer_out_of_range" if n < MIN_N or n > MAX_N else "invalid_value",
        )

    size = _require_string(body, "size")
    if size is None:
        size = spec.default_size if spec else "auto"
    if spec is not None and size not in spec.sizes:
        raise ProtocolError(
            f"Invalid size '{size}' for model '{model}'. Supported sizes: {', '.join(spec.sizes)}.",
            param="size",
            code="invalid_value",
        )
    if spec is None and size != "auto" and not SIZE_PATTERN.match(size):
        raise ProtocolError(
            f"Invalid size '{size}': expected WIDTHxHEIGHT, such as 1024x1024, or 'auto'.",
            param="size",
            code="invalid_value",
        )

    response_format = _require_string(body, "response_format") or DEFAULT_RESPONSE_FORMAT
    if response_format not in RESPONSE_FORMATS:
        raise ProtocolError(
            f"Invalid response_format '{response_format}'. Supported values: url, b64_json.",
            param="response_format",
            code="invalid_value",
        )

    options: dict[str, Any] = {}
    for name, allowed in ENUM_FIELDS.items():
        value = _require_string(body, name)
        if value is None:
            continue
        if value not in allowed:
            raise ProtocolError(
                f"Invalid value for '{name}': '{value}'. Supported values: {', '.join(allowed)}.",
                param=name,
                code="invalid_value",
            )
        options[name] = value

    for name in STRING_FIELDS:
        value = _require_string(body, name)
        if value is not None:
            options[name] = value
    for name in POSITIVE_INT_FIELDS:
        value = _require_int(body, name)
        if value is None:
            continue
        if value < 1:
            raise ProtocolError(
                f"Invalid '{name}': {value}. It must be at least 1.",
                param=name,
                code="integer_below_min_value",
            )
        options[name] = value
    for name in OBJECT_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ProtocolError(
                f"Invalid type for '{name}': expected an object, but got {_json_type(value)}.",
                param=name,
                code="invalid_type",
            )
        options[name] = value

    compression = _require_int(body, "output_compression")
    if compression is not None:
        if not 0 <= compression <= 100:
            raise ProtocolError(
                f"Invalid 'output_compression': {compression}. It must be between 0 and 100.",
                param="output_compression",
                code="integer_out_of_range",
            )
        options["output_compression"] = compression

    stream = body.get("stream")
    if stream not in (None, False):
        raise ProtocolError(
            "Streaming is not supported by this endpoint; send 'stream': false or leave it out.",
            param="stream",
            code="unsupported_value",
        )
    partial = _require_int(body, "partial_images")
    if partial not in (None, 0):
        raise ProtocolError(
            "Partial images need streaming, which this endpoint does not support.",
            param="partial_images",
            code="unsupported_value",
        )

    return GenerationRequest(
        prompt=prompt,
        model=model,
        n=n,
        size=size,
        response_format=response_format,
        options=options,
    )
