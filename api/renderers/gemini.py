"""Google Gemini: image output of ``generateContent`` (``gemini-2.5-flash-image``...), or
Imagen's ``predict`` (``imagen-4.0-generate-001``...), on the Gemini API.

The key goes in ``x-goog-api-key``. Gemini makes one image per call, so ``n`` images are ``n``
calls; Imagen makes ``sampleCount`` in one. The size becomes the supported aspect ratio nearest
to it. A prompt or image blocked by safety comes back as a finish or block reason, not an HTTP
error: it becomes a refusal that names the reason. The provider's ``endpoints`` option maps a
model name to Google's model id; without it the model name is the id.
"""

from __future__ import annotations

import base64
from typing import Any

from novisurf.client import EndpointError, EndpointUnavailable
from novisurf.protocol import GenerationRequest

from . import RenderedImage, RenderResult
from .base import ProviderConfig, ProviderConfigError, Renderer, register
from .engine import decode_b64, engine_client, image_of, result_of

ENGINE = "Gemini"
GEMINI_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
IMAGEN_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
# Finish reasons that mean "blocked" rather than "failed".
SAFETY_REASONS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
    }
)


def nearest_ratio(width: int, height: int, ratios: tuple[str, ...]) -> str:
    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(w / h - width / height)

    return min(ratios, key=distance)


@register
class GeminiRenderer(Renderer):
    kind = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com"
    edits = True  # generateContent takes the image as an inline part; Imagen refuses edits

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        endpoints = config.options.get("endpoints", {})
        if not isinstance(endpoints, dict) or not all(
            isinstance(v, str) for v in endpoints.values()
        ):
            raise ProviderConfigError(
                "'endpoints' must be a table of model name = "
                '"Google model id" (e.g. "gemini-2.5-flash-image").'
            )

    def model_id(self, model: str) -> str:
        return self.config.options.get("endpoints", {}).get(model, model).removeprefix("models/")

    def render(self, request: GenerationRequest) -> RenderResult:
        client = engine_client(self.config, auth_header="x-goog-api-key")
        model_id = self.model_id(request.model)
        if model_id.startswith("imagen"):
            if request.is_edit:
                raise EndpointError(
                    f"{ENGINE}: Imagen ({model_id}) makes new images only; it takes no image.",
                    status=400,
                    param="image",
                    code="unsupported_value",
                )
            images = self._imagen(client, model_id, request)
        else:
            images = [self._gemini(client, model_id, request) for _ in range(request.n)]
        return result_of(images, request)

    def _gemini(self, client, model_id: str, request: GenerationRequest) -> RenderedImage:
        width, height = request.dimensions
        parts: list[dict[str, Any]] = [{"text": request.prompt}]
        for image in request.images:
            parts.append(
                {
                    "inline_data": {
                        "mime_type": image.content_type,
                        "data": base64.b64encode(image.data).decode("ascii"),
                    }
                }
            )
        body = {
            "contents": [{"role": "user", "parts": parts}],
            "generationConfig": {
                "responseModalities": ["TEXT", "IMAGE"],
                "imageConfig": {"aspectRatio": nearest_ratio(width, height, GEMINI_RATIOS)},
            },
        }
        answer = client.request_json(
            "POST", f"/v1beta/models/{model_id}:generateContent", json_body=body
        )
        _raise_if_blocked(answer)
        candidates = answer.get("candidates") if isinstance(answer, dict) else None
        texts = []
        for candidate in candidates or []:
            content = candidate.get("content") if isinstance(candidate, dict) else None
            for part in (content or {}).get("parts") or []:
                inline = part.get("inlineData") or part.get("inline_data")
                if isinstance(inline, dict):
                    return image_of(decode_b64(inline.get("data"), ENGINE), ENGINE)
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
            reason = candidate.get("finishReason") if isinstance(candidate, dict) else None
            if reason in SAFETY_REASONS:
                raise _refusal(reason, " ".join(texts))
            if reason and reason not in ("STOP", "MAX_TOKENS"):
                raise EndpointUnavailable(
                    f"{ENGINE} made no image ({reason}).", code="empty_response"
                )
        said = f" It said: {' '.join(texts)[:300]}" if texts else ""
        raise EndpointUnavailable(f"{ENGINE} answered with no image.{said}", code="empty_response")

    def _imagen(self, client, model_id: str, request: GenerationRequest) -> list[RenderedImage]:
        width, height = request.dimensions
        body = {
            "instances": [{"prompt": request.prompt}],
            "parameters": {
                "sampleCount": request.n,
                "aspectRatio": nearest_ratio(width, height, IMAGEN_RATIOS),
                "includeRaiReason": True,
            },
        }
        answer = client.request_json("POST", f"/v1beta/models/{model_id}:predict", json_body=body)
        predictions = answer.get("predictions") if isinstance(answer, dict) else None
        images, reasons = [], []
        for item in predictions or []:
            if not isinstance(item, dict):
                continue
            if item.get("bytesBase64Encoded"):
                images.append(image_of(decode_b64(item["bytesBase64Encoded"], ENGINE), ENGINE))
            elif item.get("raiFilteredReason"):
                reasons.append(str(item["raiFilteredReason"]))
        if not images:
            if reasons or predictions is None:
                # Imagen leaves filtered images out; with all of them filtered, nothing is left.
                raise EndpointError(
                    f"{ENGINE} (Imagen) blocked the image: "
                    f"{'; '.join(reasons) or 'every image was filtered by its safety settings'}",
                    status=400,
                    code="moderation_blocked",
                )
            raise EndpointUnavailable(f"{ENGINE} (Imagen) answered with no image.")
        return images


def _raise_if_blocked(answer: Any) -> None:
    feedback = answer.get("promptFeedback") if isinstance(answer, dict) else None
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if reason:
        message = feedback.get("blockReasonMessage") or ""
        raise _refusal(reason, message)


def _refusal(reason: str, words: str) -> EndpointError:
    said = f": {words.strip()[:300]}" if words and words.strip() else ""
    return EndpointError(
        f"{ENGINE} refused the image ({reason}){said}", status=400, code="moderation_blocked"
    )
