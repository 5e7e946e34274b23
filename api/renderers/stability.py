"""Stability AI: the v2beta Stable Image API. ``POST /v2beta/stable-image/generate/<service>``
(``core``, ``ultra``, ``sd3``) as multipart with ``accept: application/json`` (the image comes
back as base64 with its ``finish_reason``); edits with a mask go to
``/v2beta/stable-image/edit/inpaint``, edits without one to the service as image-to-image.

The key goes as ``Authorization: Bearer``. One image per call, so ``n`` images are ``n`` calls.
The size becomes the supported aspect ratio nearest to it. ``CONTENT_FILTERED`` is a refusal.
The provider's ``endpoints`` option maps a model name to a service, or ``sd3:<model>`` for an
SD3 model (``sd3:sd3.5-large``); without it the model name is the service.
"""

from __future__ import annotations

from typing import Any

from novisurf.client import EndpointError, EndpointUnavailable
from novisurf.protocol import GenerationRequest

from . import RenderedImage, RenderResult
from .base import ProviderConfig, ProviderConfigError, Renderer, register
from .engine import decode_b64, engine_client, image_of, result_of
from .gemini import nearest_ratio

ENGINE = "Stability AI"
RATIOS = ("21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21")
SERVICES = ("core", "ultra", "sd3")
PASSED_OPTIONS = ("negative_prompt", "style_preset", "cfg_scale", "strength")


@register
class StabilityRenderer(Renderer):
    kind = "stability"
    default_base_url = "https://api.stability.ai"
    edits = True

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        endpoints = config.options.get("endpoints", {})
        bad = (
            [f"{k} = {v!r}" for k, v in endpoints.items() if str(v).split(":")[0] not in SERVICES]
            if isinstance(endpoints, dict)
            else ["(not a table)"]
        )
        if bad:
            raise ProviderConfigError(
                f"'endpoints' maps a model name to one of "
                f"{', '.join(SERVICES)} (or sd3:<model>): {', '.join(bad)}."
            )

    def target(self, model: str) -> tuple[str, str | None]:
        service, _, sd3_model = (
            self.config.options.get("endpoints", {}).get(model, model).partition(":")
        )
        return service, sd3_model or None

    def form(
        self, request: GenerationRequest, index: int
    ) -> tuple[str, list[tuple[str, str]], list]:
        service, sd3_model = self.target(request.model)
        width, height = request.dimensions
        fields: list[tuple[str, str]] = [("prompt", request.prompt), ("output_format", "png")]
        seed = request.options.get("seed")
        if isinstance(seed, int):
            fields.append(("seed", str(seed + index)))
        for name in PASSED_OPTIONS:
            if name in self.config.options:
                fields.append((name, str(self.config.options[name])))
        files: list = []
        if request.is_edit:
            image = request.images[0]
            files.append(("image", (image.filename, image.data, image.content_type)))
            if request.mask is not None:
                mask = request.mask
                files.append(("mask", (mask.filename, mask.data, mask.content_type)))
                return "/v2beta/stable-image/edit/inpaint", fields, files
            if "strength" not in self.config.options:
                fields.append(("strength", "0.7"))
            if service == "sd3":
                fields.append(("mode", "image-to-image"))
        else:
            fields.append(("aspect_ratio", nearest_ratio(width, height, RATIOS)))
        if sd3_model:
            fields.append(("model", sd3_model))
        return f"/v2beta/stable-image/generate/{service}", fields, files

    def render(self, request: GenerationRequest) -> RenderResult:
        client = engine_client(self.config)
        images = [self._one(client, request, index) for index in range(request.n)]
        return result_of(images, request)

    def _one(self, client, request: GenerationRequest, index: int) -> RenderedImage:
        path, fields, files = self.form(request, index)
        # requests sends a multipart body only with at least one file part; a text-to-image
        # call has none, so its fields go as (name, (None, value)) parts.
        parts = files or [(name, (None, value)) for name, value in fields]
        answer = client.request_json("POST", path, form=fields if files else None, files=parts)
        return _image(answer)


def _image(answer: Any) -> RenderedImage:
    if not isinstance(answer, dict):
        raise EndpointUnavailable(f"{ENGINE} answered with no image.")
    reason = answer.get("finish_reason")
    if reason == "CONTENT_FILTERED":
        raise EndpointError(
            f"{ENGINE} filtered the image (CONTENT_FILTERED).",
            status=400,
            code="moderation_blocked",
        )
    if reason not in (None, "SUCCESS"):
        raise EndpointUnavailable(f"{ENGINE} made no image ({reason}).", code="engine_error")
    return image_of(decode_b64(answer.get("image"), ENGINE), ENGINE)
