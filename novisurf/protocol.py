"""The OpenAI Images protocol: fields, limits, the per-model table and the error envelope.

This module is the one source of truth for what a request to ``POST /v1/images/generations``
or ``POST /v1/images/edits`` may contain. The endpoint validates with it, the gallery's form
offers its choices, and the client builds requests from it. Plain Python: no Django, no HTTP.

The table follows the documentation of the ``openai`` SDK the tests pin (3.57:
``types/image_generate_params.py``, ``image_edit_params.py``, ``images_response.py``,
``image_model.py``). Validation reads as that table: one small check per field, each asking the
model's :class:`ModelSpec` what it takes, then a few rules that tie two fields together.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_PROMPT_CHARS = 32_000
MIN_N = 1
MAX_N = 10
# A request body is a prompt and a few short fields; 32,000 characters of escaped JSON fit well
# under this, and anything larger is refused with 413 before it is parsed.
MAX_BODY_BYTES = 256 * 1024
# An edit carries up to 16 images; the site caps the whole multipart body (settings) and this is
# its default. Each file is also held to its model's own limit below.
MAX_EDIT_BODY_BYTES = 64 * 1024 * 1024
MAX_MASK_BYTES = 4 * 1024 * 1024
MAX_PARTIAL_IMAGES = 3

RESPONSE_FORMATS = ("url", "b64_json")
DEFAULT_RESPONSE_FORMAT = "url"


@dataclass(frozen=True)
class ImageFormat:
    """One image format, everywhere it is named: in ``output_format``, on a stored row, in a
    ``Content-Type``, in a file name and to Pillow."""

    name: str
    content_type: str
    extension: str  # without the dot
    pillow: str  # Pillow's name for it (SVG is read by our own code, not Pillow)


IMAGE_FORMATS: dict[str, ImageFormat] = {
    image_format.name: image_format
    for image_format in (
        ImageFormat("png", "image/png", "png", "PNG"),
        ImageFormat("jpeg", "image/jpeg", "jpg", "JPEG"),
        ImageFormat("webp", "image/webp", "webp", "WEBP"),
        ImageFormat("gif", "image/gif", "gif", "GIF"),
        ImageFormat("svg", "image/svg+xml", "svg", "SVG"),
    )
}
# Thumbnails, and the previews of partial images, are made in this format; a stored image
# records the format its thumbnail was made in, so that changing this leaves old ones readable.
THUMBNAIL_FORMAT = IMAGE_FORMATS["webp"]
OUTPUT_FORMATS = tuple(IMAGE_FORMATS)
RASTER_OUTPUT_FORMATS = ("png", "webp", "jpeg")
CONTENT_TYPES = {name: image_format.content_type for name, image_format in IMAGE_FORMATS.items()}

PROCEDURAL_MODEL = "novisurf-procedural"
DEFAULT_MODEL = PROCEDURAL_MODEL
URL_LIFETIME_SECONDS = 60 * 60

SIZE_PATTERN = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")
# Free sizes of gpt-image-2 and later: both edges divisible by 16, aspect ratio 1:3 to 3:1, at
# most 3840x2160 (either orientation).
FREE_SIZE_MULTIPLE = 16
FREE_SIZE_MAX_ASPECT = 3
FREE_SIZE_LONG_EDGE = 3840
FREE_SIZE_SHORT_EDGE = 2160

GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
GPT_QUALITIES = ("low", "medium", "high", "auto")
BACKGROUNDS = ("transparent", "opaque", "auto")
MODERATIONS = ("low", "auto")
COMPLEXITIES = ("low", "medium", "high")
INPUT_FIDELITIES = ("high", "low")
STYLES = ("vivid", "natural")
GIF_FRAMES = (2, 16)
ALL_QUALITIES = ("standard", "hd", "low", "medium", "high", "xhigh", "max", "auto")


@dataclass(frozen=True)
class ModelSpec:
    """What one model takes. An empty tuple means the model does not take that field at all.

    ``procedural`` models are rendered by this site, the others forwarded to the upstream.
    """

    id: str
    label: str
    # Named sizes (the form's presets); ``free_sizes`` adds any WIDTHxHEIGHT within the limits.
    sizes: tuple[str, ...] = GPT_SIZES
    default_size: str = "auto"
    free_sizes: bool = False
    max_n: int = MAX_N
    max_prompt_chars: int = MAX_PROMPT_CHARS
    # GPT image models answer base64 only: "url" is refused, "b64_json" is what they do anyway.
    response_formats: tuple[str, ...] = ("b64_json",)
    default_response_format: str = "b64_json"
    qualities: tuple[str, ...] = GPT_QUALITIES
    styles: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = BACKGROUNDS
    output_formats: tuple[str, ...] = RASTER_OUTPUT_FORMATS
    output_compression: bool = True
    moderations: tuple[str, ...] = MODERATIONS
    complexities: tuple[str, ...] = COMPLEXITIES
    streams: bool = True
    edits: bool = True
    input_fidelities: tuple[str, ...] = ()
    markup: bool = False
    max_edit_images: int = 16
    edit_image_formats: tuple[str, ...] = ("png", "webp", "jpeg")
    max_edit_image_bytes: int = 50 * 1024 * 1024
    procedural: bool = False
    # Why a person should not pick it any more (shown beside its name); it still works where an
    # upstream serves it.
    retired: str = ""
    owned_by: str = "openai"
    description: str = ""
    # Sizes are checked for shape only (WIDTHxHEIGHT or auto): the engine behind decides.
    any_size: bool = False

    @property
    def title(self) -> str:
        """The name a person sees: the label, with "retired" where it is."""
        return f"{self.label} (retired)" if self.retired else self.label

    @property
    def answers_url(self) -> bool:
        return "url" in self.response_formats


def _gpt_image(model_id: str, label: str, **overrides: Any) -> ModelSpec:
    return ModelSpec(id=model_id, label=label, **overrides)


# gpt-image-2 and later: free sizes, and GIF and SVG output where the upstream grants access.
_GPT_IMAGE_2 = {"free_sizes": True, "output_formats": OUTPUT_FORMATS}
_GPT_IMAGE_25 = {
    **_GPT_IMAGE_2,
    "qualities": ("low", "medium", "high", "xhigh", "max", "auto"),
    "markup": True,
}

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
            response_formats=RESPONSE_FORMATS,
            default_response_format=DEFAULT_RESPONSE_FORMAT,
            # It serves old clients and new ones alike, and honours what it can: style steers
            # the palette, complexity the number of motifs, background the alpha.
            qualities=ALL_QUALITIES,
            styles=STYLES,
            output_formats=("png", "webp", "jpeg", "gif"),
            input_fidelities=INPUT_FIDELITIES,
            procedural=True,
            owned_by="novisurf",
            description=(
                "A procedural renderer built into Novisurf. It is not AI: the prompt's words pick "
                "a palette and shapes for a deterministic abstract composition."
            ),
        ),
        _gpt_image("gpt-image-2", "GPT Image 2", **_GPT_IMAGE_2),
        _gpt_image("gpt-image-2-2026-04-21", "GPT Image 2 (2026-04-21)", **_GPT_IMAGE_2),
        _gpt_image("gpt-image-2.5-sunburst", "GPT Image 2.5 Sunburst", **_GPT_IMAGE_25),
        _gpt_image(
            "gpt-image-2.5-sunburst-2026-09-08",
            "GPT Image 2.5 Sunburst (2026-09-08)",
            **_GPT_IMAGE_25,
        ),
        _gpt_image("gpt-image-2.5-flare", "GPT Image 2.5 Flare", **_GPT_IMAGE_25),
        _gpt_image(
            "gpt-image-2.5-flare-2026-09-08", "GPT Image 2.5 Flare (2026-09-08)", **_GPT_IMAGE_25
        ),
        _gpt_image("gpt-image-2.6-sunburst", "GPT Image 2.6 Sunburst", **_GPT_IMAGE_2),
        _gpt_image("gpt-image-2.6-flare", "GPT Image 2.6 Flare", **_GPT_IMAGE_2),
        _gpt_image("gpt-image-1.5", "GPT Image 1.5", input_fidelities=INPUT_FIDELITIES),
        _gpt_image("gpt-image-1-mini", "GPT Image 1 mini", input_fidelities=("low",)),
        _gpt_image("chatgpt-image-latest", "ChatGPT Image (latest)"),
        _gpt_image(
            "gpt-image-1",
            "GPT Image 1",
            input_fidelities=INPUT_FIDELITIES,
            retired="Shut down on October 23, 2026; use gpt-image-2.5-sunburst or -flare.",
        ),
        ModelSpec(
            id="dall-e-3",
            label="DALL·E 3",
            sizes=("1024x1024", "1792x1024", "1024x1792"),
            default_size="1024x1024",
            max_n=1,
            max_prompt_chars=4000,
            response_formats=RESPONSE_FORMATS,
            default_response_format="url",
            qualities=("standard", "hd", "auto"),
            styles=STYLES,
            backgrounds=(),
            output_formats=(),
            output_compression=False,
            moderations=(),
            complexities=(),
            streams=False,
            edits=False,
            retired="Retired on May 12, 2026; use a GPT image model.",
        ),
        ModelSpec(
            id="dall-e-2",
            label="DALL·E 2",
            sizes=("256x256", "512x512", "1024x1024"),
            default_size="1024x1024",
            max_prompt_chars=1000,
            response_formats=RESPONSE_FORMATS,
            default_response_format="url",
            qualities=("standard", "auto"),
            backgrounds=(),
            output_formats=(),
            output_compression=False,
            moderations=(),
            complexities=(),
            streams=False,
            max_edit_images=1,
            edit_image_formats=("png",),
            max_edit_image_bytes=4 * 1024 * 1024,
            retired="Retired on May 12, 2026; use a GPT image model.",
        ),
    )
}

# A model this table does not know, forwarded to an upstream that may: every value the OpenAI
# API defines is let through, sizes are checked for shape only, and the upstream decides.
OPEN_SPEC = ModelSpec(
    id="",
    label="",
    sizes=(),
    response_formats=RESPONSE_FORMATS,
    default_response_format=DEFAULT_RESPONSE_FORMAT,
    qualities=ALL_QUALITIES,
    styles=STYLES,
    output_formats=OUTPUT_FORMATS,
    input_fidelities=INPUT_FIDELITIES,
    markup=True,
    any_size=True,
)

# Every size any known model names, in a stable order, for forms that list them all.
ALL_SIZES: tuple[str, ...] = tuple(dict.fromkeys(s for spec in MODELS.values() for s in spec.sizes))


def spec_for(model: str) -> ModelSpec:
    """The model's row of the table, or the open row for a model it does not know."""
    return MODELS.get(model, OPEN_SPEC)


def accepts_response_format(model: str) -> bool:
    """Whether sending ``response_format`` to ``model`` means anything: it can answer a URL."""
    return spec_for(model).answers_url


def sizes_for(model: str) -> tuple[str, ...]:
    spec = MODELS.get(model)
    return spec.sizes if spec else ALL_SIZES


def streams(model: str) -> bool:
    return spec_for(model).streams


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


def body_too_large(limit: int | None = None) -> ProtocolError:
    """The one answer to a body over its cap (413), wherever it is noticed: the middleware, the
    API's readers, Django's own limits."""
    message = (
        f"The request body is larger than {limit // 1024:,} KB."
        if limit
        else "The request body is too large."
    )
    return ProtocolError(message, status=413, code="request_too_large")


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
class InputFile:
    """A file of an edit request: ``field`` is ``image``, ``mask`` or ``markup``."""

    field: str
    filename: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def format(self) -> str | None:
        return sniff_format(self.data)


@dataclass(frozen=True)
class GenerationRequest:
    """A validated request, defaults filled in. With ``images`` it is an edit."""

    prompt: str
    model: str
    n: int
    size: str
    response_format: str
    options: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    partial_images: int = 0
    images: tuple[InputFile, ...] = ()
    mask: InputFile | None = None
    markup: InputFile | None = None
    # The row the request was checked against, where the caller's models are not all in
    # MODELS (a provider's own models take what their engine takes); None: spec_for(model).
    model_spec: ModelSpec | None = field(default=None, compare=False, repr=False)

    @property
    def dimensions(self) -> tuple[int, int]:
        return parse_size(self.size)

    @property
    def is_edit(self) -> bool:
        return bool(self.images)

    @property
    def event_prefix(self) -> str:
        """``image_generation`` or ``image_edit``: how this request's stream events are named."""
        return "image_edit" if self.is_edit else "image_generation"

    @property
    def spec(self) -> ModelSpec:
        return self.model_spec or spec_for(self.model)

    def upstream_body(self) -> dict[str, Any]:
        """The JSON body (generations) or the form fields (edits) for another endpoint."""
        body: dict[str, Any] = {"prompt": self.prompt, "model": self.model, "n": self.n}
        if self.size != "auto":
            body["size"] = self.size
        # response_format is not sent: a URL is downloaded at once and base64 decoded, and the
        # caller gets what it asked for either way.
        body.update(self.options)
        if self.stream:
            body["stream"] = True
            body["partial_images"] = self.partial_images
        return body

    def upstream_files(self) -> list[tuple[str, tuple[str, bytes, str]]]:
        """An edit's files as multipart parts, named as the OpenAI SDK names them."""
        name = "image[]" if len(self.images) > 1 else "image"
        parts = [(name, (f.filename, f.data, f.content_type)) for f in self.images]
        for extra in (self.mask, self.markup):
            if extra is not None:
                parts.append((extra.field, (extra.filename, extra.data, extra.content_type)))
        return parts


def parse_size(size: str) -> tuple[int, int]:
    """``"1024x768"`` -> ``(1024, 768)``; ``"auto"`` -> the default square."""
    if size == "auto":
        return (1024, 1024)
    match = SIZE_PATTERN.match(size)
    if not match:
        raise ValueError(f"not a size: {size!r}")
    return int(match.group(1)), int(match.group(2))


def sniff_format(data: bytes) -> str | None:
    """The image format of ``data`` from its first bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"GIF8"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in data[:4096].lower():
        return "svg"
    return None


# -- types --------------------------------------------------------------------------------------


def _require_string(name: str, value: Any) -> str:
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


def _require_int(name: str, value: Any) -> int:
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


def _require_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(
            f"Invalid type for '{name}': expected a boolean, but got {_json_type(value)}.",
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


def _in_range(name: str, value: int, low: int, high: int, model: str | None = None) -> int:
    if not low <= value <= high:
        where = f" for model '{model}'" if model else ""
        raise ProtocolError(
            f"Invalid '{name}': {value}. It must be between {low} and {high}{where}.",
            param=name,
            code="integer_out_of_range",
        )
    return value


def _unsupported(name: str, spec: ModelSpec, why: str = "") -> ProtocolError:
    return ProtocolError(
        f"Unsupported parameter: '{name}' is not supported with the model '{spec.id}'"
        + (f"; {why}." if why else "."),
        param=name,
        code="unsupported_parameter",
    )


def _one_of(name: str, value: str, allowed: tuple[str, ...], spec: ModelSpec) -> str:
    if value not in allowed:
        model = f" for model '{spec.id}'" if spec.id else ""
        raise ProtocolError(
            f"Invalid value for '{name}': '{value}'{model}. Supported values: "
            f"{', '.join(allowed)}.",
            param=name,
            code="invalid_value",
        )
    return value


# -- one check per field, driven by the table ------------------------------------------------------

Check = Callable[[str, Any, ModelSpec], Any]


def _enum(attribute: str) -> Check:
    """A string field whose values the model lists in ``spec.<attribute>``."""

    def check(name: str, value: Any, spec: ModelSpec) -> str:
        value = _require_string(name, value)
        allowed = getattr(spec, attribute)
        if not allowed:
            raise _unsupported(name, spec)
        return _one_of(name, value, allowed, spec)

    return check


def _any_string(name: str, value: Any, spec: ModelSpec) -> str:
    return _require_string(name, value)


def _output_compression(name: str, value: Any, spec: ModelSpec) -> int:
    value = _in_range(name, _require_int(name, value), 0, 100)
    if not spec.output_compression:
        raise _unsupported(name, spec)
    return value


def _frame_count(name: str, value: Any, spec: ModelSpec) -> int:
    value = _in_range(name, _require_int(name, value), *GIF_FRAMES)
    if "gif" not in spec.output_formats:
        raise _unsupported(name, spec, "it makes no GIF")
    return value


def _frame_duration(name: str, value: Any, spec: ModelSpec) -> int:
    value = _require_int(name, value)
    if value < 1:
        raise ProtocolError(
            f"Invalid '{name}': {value}. It must be at least 1.",
            param=name,
            code="integer_below_min_value",
        )
    if "gif" not in spec.output_formats:
        raise _unsupported(name, spec, "it makes no GIF")
    return value


def _svg_options(name: str, value: Any, spec: ModelSpec) -> dict:
    if not isinstance(value, dict):
        raise ProtocolError(
            f"Invalid type for '{name}': expected an object, but got {_json_type(value)}.",
            param=name,
            code="invalid_type",
        )
    if "svg" not in spec.output_formats:
        raise _unsupported(name, spec, "it makes no SVG")
    return value


def _stream(name: str, value: Any, spec: ModelSpec) -> bool:
    value = _require_bool(name, value)
    if value and not spec.streams:
        raise _unsupported(name, spec, "it does not stream")
    return value


def _partial_images(name: str, value: Any, spec: ModelSpec) -> int:
    value = _in_range(name, _require_int(name, value), 0, MAX_PARTIAL_IMAGES)
    if value and not spec.streams:
        raise _unsupported(name, spec, "it does not stream")
    return value


# The optional fields of each endpoint, in the order they are checked. Each check takes the raw
# value (never None: null means "the default" and is skipped) and the model's row of the table.
_SHARED_OPTIONS: dict[str, Check] = {
    "quality": _enum("qualities"),
    "background": _enum("backgrounds"),
    "output_format": _enum("output_formats"),
    "output_compression": _output_compression,
    "complexity": _enum("complexities"),
    "user": _any_string,
    "safety_identifier": _any_string,
    "frame_count": _frame_count,
    "frame_duration_ms": _frame_duration,
    "svg": _svg_options,
    "stream": _stream,
    "partial_images": _partial_images,
}
GENERATION_OPTIONS: dict[str, Check] = {
    **_SHARED_OPTIONS,
    "style": _enum("styles"),
    "moderation": _enum("moderations"),
}
EDIT_OPTIONS: dict[str, Check] = {**_SHARED_OPTIONS, "input_fidelity": _enum("input_fidelities")}
_CORE_FIELDS = ("prompt", "model", "n", "size", "response_format")
GENERATION_FIELDS = frozenset({*_CORE_FIELDS, *GENERATION_OPTIONS})
EDIT_FILE_FIELDS = ("image", "mask", "markup")
EDIT_FIELDS = frozenset({*_CORE_FIELDS, *EDIT_OPTIONS, *EDIT_FILE_FIELDS})
# The fields of a generation request (what callers that ask about generations mean).
KNOWN_FIELDS = GENERATION_FIELDS
# The fields whose multipart text is a number or a boolean.
INT_FIELDS = frozenset(
    {"n", "output_compression", "partial_images", "frame_count", "frame_duration_ms"}
)
BOOL_FIELDS = frozenset({"stream"})


# -- rules that tie two fields together -----------------------------------------------------------

Rule = Callable[["_Draft"], None]


@dataclass
class _Draft:
    spec: ModelSpec
    n: int
    options: dict[str, Any]
    is_edit: bool = False
    has_mask: bool = False
    has_markup: bool = False


def _transparent_needs_alpha(draft: _Draft) -> None:
    output_format = draft.options.get("output_format", "png")
    if draft.options.get("background") == "transparent" and output_format not in ("png", "webp"):
        raise ProtocolError(
            f"A transparent background needs output_format png or webp, not {output_format}.",
            param="background",
            code="invalid_value",
        )


def _frames_need_gif(draft: _Draft) -> None:
    for name in ("frame_count", "frame_duration_ms"):
        if name in draft.options and draft.options.get("output_format") != "gif":
            raise ProtocolError(
                f"'{name}' needs output_format gif.", param=name, code="unsupported_parameter"
            )


def _svg_needs_svg(draft: _Draft) -> None:
    if "svg" in draft.options and draft.options.get("output_format") != "svg":
        raise ProtocolError(
            "'svg' needs output_format svg.", param="svg", code="unsupported_parameter"
        )
    if draft.options.get("output_format") == "svg" and draft.n != 1:
        raise ProtocolError(
            f"SVG output makes one image per request; 'n' must be 1, not {draft.n}.",
            param="n",
            code="invalid_value",
        )


def _animated_and_vector_do_not_stream(draft: _Draft) -> None:
    output_format = draft.options.get("output_format")
    if output_format in ("gif", "svg") and draft.options.get("stream"):
        raise ProtocolError(
            f"{output_format.upper()} output cannot be streamed; leave out 'stream'.",
            param="stream",
            code="unsupported_value",
        )
    if output_format == "gif" and draft.has_mask:
        raise ProtocolError("GIF output cannot use a mask.", param="mask", code="invalid_value")


def _markup_not_with_mask(draft: _Draft) -> None:
    if draft.has_markup and draft.has_mask:
        raise ProtocolError(
            "'markup' cannot be combined with 'mask'.", param="markup", code="invalid_value"
        )


RULES: tuple[Rule, ...] = (
    _transparent_needs_alpha,
    _frames_need_gif,
    _svg_needs_svg,
    _animated_and_vector_do_not_stream,
    _markup_not_with_mask,
)


# -- the core fields --------------------------------------------------------------------------------


def serves_procedural_only(model: str) -> bool:
    spec = MODELS.get(model)
    return spec is not None and spec.procedural


def _prompt(body: Mapping[str, Any]) -> str:
    if body.get("prompt") is None:
        raise ProtocolError(
            "Missing required parameter: 'prompt'.",
            param="prompt",
            code="missing_required_parameter",
        )
    prompt = _require_string("prompt", body["prompt"])
    if not prompt.strip():
        raise ProtocolError("The prompt must not be empty.", param="prompt", code="empty_prompt")
    return prompt


def _prompt_length(prompt: str, spec: ModelSpec) -> None:
    if len(prompt) > spec.max_prompt_chars:
        model = f" for model '{spec.id}'" if spec.id else ""
        raise ProtocolError(
            f"The prompt is {len(prompt):,} characters long; the maximum{model} is "
            f"{spec.max_prompt_chars:,}.",
            param="prompt",
            code="string_above_max_length",
        )


def _model(body: Mapping[str, Any], serves: Callable[[str], bool]) -> str:
    model = body.get("model")
    model = DEFAULT_MODEL if model is None else _require_string("model", model) or DEFAULT_MODEL
    if not serves(model):
        raise ProtocolError(
            f"The model '{model}' does not exist or you do not have access to it.",
            status=404,
            param="model",
            code="model_not_found",
        )
    return model


def _n(body: Mapping[str, Any], spec: ModelSpec) -> int:
    n = 1 if body.get("n") is None else _require_int("n", body["n"])
    _in_range("n", n, MIN_N, MAX_N)
    if n > spec.max_n:
        raise ProtocolError(
            f"Invalid 'n': {n}. It must be between {MIN_N} and {spec.max_n} for model '{spec.id}'.",
            param="n",
            code="invalid_value",
        )
    return n


def _size(body: Mapping[str, Any], spec: ModelSpec, *, is_edit: bool = False) -> str:
    size = body.get("size")
    if size is None:
        # An edit keeps its image's size unless told otherwise, where the model can.
        size = "auto" if is_edit and "auto" in spec.sizes else spec.default_size
    else:
        size = _require_string("size", size)
    if size in spec.sizes or (spec.any_size and size == "auto"):
        return size
    match = SIZE_PATTERN.match(size)
    if spec.any_size:
        if not match:
            raise ProtocolError(
                f"Invalid size '{size}': expected WIDTHxHEIGHT, such as 1024x1024, or 'auto'.",
                param="size",
                code="invalid_value",
            )
        return size
    if not spec.free_sizes or not match:
        free = " or WIDTHxHEIGHT" if spec.free_sizes else ""
        raise ProtocolError(
            f"Invalid size '{size}' for model '{spec.id}'. Supported sizes: "
            f"{', '.join(spec.sizes)}{free}.",
            param="size",
            code="invalid_value",
        )
    width, height = int(match.group(1)), int(match.group(2))
    problem = free_size_problem(width, height)
    if problem:
        raise ProtocolError(
            f"Invalid size '{size}' for model '{spec.id}': {problem}.",
            param="size",
            code="invalid_value",
        )
    return size


def free_size_problem(width: int, height: int) -> str:
    """Why ``width`` x ``height`` is not a free size of gpt-image-2 and later; "" if it is."""
    if width % FREE_SIZE_MULTIPLE or height % FREE_SIZE_MULTIPLE:
        return f"both edges must be divisible by {FREE_SIZE_MULTIPLE}"
    if max(width, height) > FREE_SIZE_MAX_ASPECT * min(width, height):
        return f"the aspect ratio must be between 1:{FREE_SIZE_MAX_ASPECT} and {FREE_SIZE_MAX_ASPECT}:1"
    if max(width, height) > FREE_SIZE_LONG_EDGE or min(width, height) > FREE_SIZE_SHORT_EDGE:
        return f"the largest size is {FREE_SIZE_LONG_EDGE}x{FREE_SIZE_SHORT_EDGE}"
    return ""


def _response_format(body: Mapping[str, Any], spec: ModelSpec) -> str:
    value = body.get("response_format")
    if value is None:
        return spec.default_response_format
    value = _require_string("response_format", value)
    _one_of("response_format", value, RESPONSE_FORMATS, OPEN_SPEC)
    if value not in spec.response_formats:
        raise ProtocolError(
            f"Invalid value for 'response_format': '{value}'. The model '{spec.id}' always "
            f"answers base64 (b64_json); leave response_format out.",
            param="response_format",
            code="unsupported_value",
        )
    return value


def _validate(
    body: Mapping[str, Any],
    *,
    known: frozenset[str],
    checks: Mapping[str, Check],
    serves: Callable[[str], bool],
    files: Mapping[str, list[InputFile]] | None = None,
    spec_of: Callable[[str], ModelSpec] = spec_for,
) -> GenerationRequest:
    for name in body:
        if name not in known:
            raise ProtocolError(
                f"Unrecognized request argument supplied: {name}",
                param=name,
                code="unknown_parameter",
            )
    prompt = _prompt(body)
    model = _model(body, serves)
    spec = spec_of(model)
    _prompt_length(prompt, spec)
    n = _n(body, spec)
    size = _size(body, spec, is_edit=files is not None)
    response_format = _response_format(body, spec)
    if files is not None and body.get("response_format") is None and spec.answers_url:
        # An edit answers base64 unless a URL is asked for: the AI SDK reads only b64_json there.
        response_format = "b64_json"

    options: dict[str, Any] = {}
    for name, check in checks.items():
        if body.get(name) is not None:
            options[name] = check(name, body[name], spec)
    stream = bool(options.pop("stream", False))
    # Accepted without a stream, as OpenAI's own examples send it, and then meaningless.
    partial_images = options.pop("partial_images", 0)
    partial_images = partial_images if stream else 0
    if options.get("output_format", "png") not in ("jpeg", "webp"):
        # Accepted with PNG (OpenAI's examples send it), where it has nothing to compress.
        options.pop("output_compression", None)

    images, mask, markup = (), None, None
    if files is not None:
        images, mask, markup = _edit_files(files, spec)
    draft = _Draft(
        spec=spec,
        n=n,
        options={**options, "stream": stream, "partial_images": partial_images},
        is_edit=files is not None,
        has_mask=mask is not None,
        has_markup=markup is not None,
    )
    for rule in RULES:
        rule(draft)
    return GenerationRequest(
        prompt=prompt,
        model=model,
        n=n,
        size=size,
        response_format=response_format,
        options=options,
        stream=stream,
        partial_images=partial_images,
        images=images,
        mask=mask,
        markup=markup,
        model_spec=None if spec_of is spec_for else spec,
    )


def validate_generation(
    body: Any,
    *,
    serves: Callable[[str], bool] = serves_procedural_only,
    spec_of: Callable[[str], ModelSpec] = spec_for,
) -> GenerationRequest:
    """Check a decoded JSON body for ``/images/generations`` and fill in defaults.

    ``serves(model)`` says whether the caller can serve a model: the procedural ones always, any
    other when an upstream is configured. A model it cannot serve is a 404, as the OpenAI API
    answers it. Every other field is checked against the model's row of :data:`MODELS`; a model
    the table does not know is checked for shapes only.
    """
    if not isinstance(body, dict):
        raise ProtocolError(
            f"The request body must be a JSON object, but got {_json_type(body)}.",
            code="invalid_type",
        )
    return _validate(
        body, known=GENERATION_FIELDS, checks=GENERATION_OPTIONS, serves=serves, spec_of=spec_of
    )


def validate_edit(
    fields: Mapping[str, Any],
    files: Mapping[str, list[InputFile]],
    *,
    serves: Callable[[str], bool] = serves_procedural_only,
    spec_of: Callable[[str], ModelSpec] = spec_for,
) -> GenerationRequest:
    """Check an ``/images/edits`` request: ``fields`` from :func:`form_fields`, ``files`` by
    field name (``image`` holds ``image`` and ``image[]`` alike)."""
    for name in files:
        if name not in EDIT_FILE_FIELDS:
            raise ProtocolError(
                f"Unrecognized file field supplied: {name}", param=name, code="unknown_parameter"
            )
    for name in EDIT_FILE_FIELDS:
        if name in fields:
            raise ProtocolError(
                f"'{name}' must be sent as a file, not as a text field.",
                param=name,
                code="invalid_type",
            )
    request = _validate(
        fields,
        known=EDIT_FIELDS,
        checks=EDIT_OPTIONS,
        serves=serves,
        files=files,
        spec_of=spec_of,
    )
    if not request.spec.edits:
        raise ProtocolError(
            f"The model '{request.model}' does not edit images.",
            param="model",
            code="unsupported_value",
        )
    return request


def _edit_files(
    files: Mapping[str, list[InputFile]], spec: ModelSpec
) -> tuple[tuple[InputFile, ...], InputFile | None, InputFile | None]:
    images = tuple(files.get("image", ()))
    if not images:
        raise ProtocolError(
            "Missing required parameter: 'image'.",
            param="image",
            code="missing_required_parameter",
        )
    if len(images) > spec.max_edit_images:
        raise ProtocolError(
            f"Too many images: {len(images)}. The model '{spec.id or 'requested'}' takes at most "
            f"{spec.max_edit_images}.",
            param="image",
            code="too_many_images",
        )
    for number, image in enumerate(images, start=1):
        _check_file(image, spec.edit_image_formats, spec.max_edit_image_bytes, number=number)
    extras = []
    for name in ("mask", "markup"):
        sent = files.get(name, ())
        if len(sent) > 1:
            raise ProtocolError(
                f"Send one '{name}' file, not {len(sent)}.", param=name, code="invalid_value"
            )
        if sent and name == "markup" and not spec.markup:
            raise _unsupported(name, spec)
        if sent:
            _check_file(sent[0], ("png",), MAX_MASK_BYTES)
        extras.append(sent[0] if sent else None)
    return images, extras[0], extras[1]


def _check_file(
    upload: InputFile, formats: tuple[str, ...], max_bytes: int, *, number: int | None = None
) -> None:
    which = f"'{upload.field}'" + (f" (file {number})" if number else "")
    if not upload.data:
        raise ProtocolError(f"The file {which} is empty.", param=upload.field, code="invalid_image")
    if len(upload.data) > max_bytes:
        raise ProtocolError(
            f"The file {which} is {len(upload.data):,} bytes; the limit is {max_bytes:,}.",
            param=upload.field,
            code="image_too_large",
        )
    found = upload.format
    if found not in formats:
        what = f"a {found} image" if found else "not an image we can read"
        raise ProtocolError(
            f"The file {which} is {what}; send {', '.join(formats)}.",
            param=upload.field,
            code="invalid_image_format",
        )


def form_fields(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Multipart text fields as the JSON body they stand for.

    Numbers and booleans arrive as text ("2", "true"), and objects as bracketed names
    (``svg[model]``, ``svg[reasoning][effort]``), which is how the OpenAI SDK sends them.
    """
    body: dict[str, Any] = {}
    for raw_name, raw_value in items:
        path = re.findall(r"[^\[\]]+", raw_name)
        if not path or raw_name.endswith("[]"):
            raise ProtocolError(
                f"Unrecognized request argument supplied: {raw_name}",
                param=raw_name,
                code="unknown_parameter",
            )
        value: Any = raw_value
        if raw_name in INT_FIELDS and re.fullmatch(r"-?[0-9]{1,9}", raw_value.strip()):
            value = int(raw_value)
        elif raw_name in BOOL_FIELDS and raw_value.strip().lower() in ("true", "false"):
            value = raw_value.strip().lower() == "true"
        target = body
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ProtocolError(
                    f"'{raw_name}' mixes a value and an object.", param=path[0], code="invalid_type"
                )
        if path[-1] in target:
            raise ProtocolError(
                f"'{raw_name}' was sent more than once.", param=path[0], code="invalid_value"
            )
        target[path[-1]] = value
    return body
