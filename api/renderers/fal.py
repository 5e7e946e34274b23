"""fal: the queue API. Submit to ``POST {queue}/<model id>``, poll the ``status_url`` it returns
until ``COMPLETED``, read the ``response_url``, download each ``images[].url``; on the deadline
``PUT`` the ``cancel_url``.

The key goes as ``Authorization: Key ...``, to the queue's own host only (the status and
response URLs are on it; the images are on a CDN, downloaded without the key). The provider's
``endpoints`` option maps a model name to a fal model id (``fal-ai/flux/dev``); without it the
model name is the id. Other options (``num_inference_steps``, ``guidance_scale``,
``enable_safety_checker``...) are passed through in the input.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from novisurf.client import EndpointError, EndpointUnavailable
from novisurf.protocol import GenerationRequest

from . import RenderedImage, RenderResult
from .base import ProviderConfig, ProviderConfigError, Renderer, register
from .engine import (
    FIRST_POLL_INTERVAL,
    Deadline,
    client_for_url,
    decode_b64,
    engine_client,
    image_of,
    next_interval,
    quietly,
    result_of,
    same_origin,
)

ENGINE = "fal"
FAL_HOSTS = ("fal.run", "fal.ai")
PASSED_OPTIONS = (
    "num_inference_steps",
    "guidance_scale",
    "enable_safety_checker",
    "safety_tolerance",
    "output_format",
    "acceleration",
)


@register
class FalRenderer(Renderer):
    kind = "fal"
    default_base_url = "https://queue.fal.run"
    edits = True  # image-to-image models take image_url; the others refuse it in their words

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        endpoints = config.options.get("endpoints", {})
        if not isinstance(endpoints, dict) or not all(
            isinstance(v, str) and v.strip("/") for v in endpoints.values()
        ):
            raise ProviderConfigError(
                "'endpoints' must be a table of model name = "
                '"fal model id" (e.g. "fal-ai/flux/dev").'
            )

    def model_id(self, model: str) -> str:
        return self.config.options.get("endpoints", {}).get(model, model).strip("/")

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        width, height = request.dimensions
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "image_size": {"width": width, "height": height},
            "num_images": request.n,
            "output_format": "png",
        }
        seed = request.options.get("seed")
        if isinstance(seed, int):
            body["seed"] = seed
        for name in PASSED_OPTIONS:
            if name in self.config.options:
                body[name] = self.config.options[name]
        if request.is_edit:
            image = request.images[0]
            encoded = base64.b64encode(image.data).decode("ascii")
            body["image_url"] = f"data:{image.content_type};base64,{encoded}"
            if request.mask is not None:
                mask = base64.b64encode(request.mask.data).decode("ascii")
                body["mask_url"] = f"data:{request.mask.content_type};base64,{mask}"
        return body

    def render(self, request: GenerationRequest) -> RenderResult:
        deadline = Deadline(self.config.timeout)
        client = engine_client(self.config, auth_header="key")
        model_id = self.model_id(request.model)
        answer = client.request_json("POST", f"/{model_id}", json_body=self.body(request))
        if not isinstance(answer, dict) or not isinstance(answer.get("request_id"), str):
            raise EndpointUnavailable(f"{ENGINE} took the request but sent no request_id.")
        urls = self._urls(model_id, answer)
        status_client, status_path = self._at(client, urls["status_url"])
        interval = FIRST_POLL_INTERVAL
        while True:
            if deadline.expired:
                cancel_client, cancel_path = self._at(client, urls["cancel_url"])
                quietly(cancel_client.request_json, "PUT", cancel_path)
                raise deadline.error(ENGINE)
            status = status_client.request_json("GET", status_path)
            state = status.get("status") if isinstance(status, dict) else None
            if state == "COMPLETED":
                break
            if state not in ("IN_QUEUE", "IN_PROGRESS"):
                raise EndpointUnavailable(
                    f"{ENGINE} answered the status poll with {str(state)[:50]!r}.",
                    code="invalid_response",
                )
            deadline.sleep(interval)
            interval = next_interval(interval)
        response_client, response_path = self._at(client, urls["response_url"])
        result = response_client.request_json("GET", response_path)
        images = [self._image(client, item) for item in _image_list(result)]
        if _all_nsfw(result, len(images)):
            raise EndpointError(
                f"{ENGINE}'s safety checker blocked the image.",
                status=400,
                code="moderation_blocked",
            )
        return result_of(images, request)

    def _urls(self, model_id: str, answer: dict[str, Any]) -> dict[str, str]:
        """The queue's URLs for this request: as fal sent them where they are fal's own (or the
        provider's), else built on the provider's base URL as the queue documents them."""
        app = "/".join(model_id.split("/")[:2])  # status lives on the app, not the sub-path
        base = f"/{app}/requests/{answer['request_id']}"
        built = {
            "status_url": f"{base}/status",
            "response_url": base,
            "cancel_url": f"{base}/cancel",
        }
        urls = {}
        for name, path in built.items():
            given = answer.get(name)
            trusted = isinstance(given, str) and (
                same_origin(given, self.config.base_url) or _is_fal_host(given)
            )
            urls[name] = given if trusted else self.config.base_url.rstrip("/") + path
        return urls

    def _at(self, client, url: str):
        # The URL was checked in _urls: it is the provider's own or fal's, and may have the key.
        return client_for_url(client, url)

    def _image(self, client, item: Any) -> RenderedImage:
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url:
            raise EndpointUnavailable(f"{ENGINE} sent an image without a url.")
        if url.startswith("data:"):
            return image_of(decode_b64(url, ENGINE), ENGINE)  # sync_mode answers inline
        return image_of(client.download(url), ENGINE)


def _image_list(result: Any) -> list[Any]:
    images = result.get("images") if isinstance(result, dict) else None
    if isinstance(result, dict) and images is None and isinstance(result.get("image"), dict):
        images = [result["image"]]
    if not isinstance(images, list) or not images:
        raise EndpointUnavailable(f"{ENGINE} answered with no images.", code="empty_response")
    return images


def _all_nsfw(result: dict[str, Any], count: int) -> bool:
    flags = result.get("has_nsfw_concepts")
    return isinstance(flags, list) and len(flags) >= count and all(flags[:count]) and count > 0


def _is_fal_host(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(
        host == name or host.endswith("." + name) for name in FAL_HOSTS
    )
