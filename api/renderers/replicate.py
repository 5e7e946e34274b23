"""Replicate: the predictions API. Create a prediction (``POST /v1/models/<owner>/<name>/
predictions``, or ``POST /v1/predictions`` with a ``version``), poll its ``urls.get`` until
``succeeded``, download each URL of its ``output``; on the deadline ``POST`` its
``urls.cancel``.

The token goes as ``Authorization: Bearer``, to the API's own origin only (the output is on
replicate.delivery, downloaded without it). The provider's ``endpoints`` option maps a model
name to ``owner/name`` or ``owner/name:version``; without it the model name is used. How the
size is said differs per model: ``size_param = "aspect_ratio"`` (the default, as the FLUX
models take it) or ``"width_height"``. Other ``input`` options (``go_fast``,
``num_inference_steps``, ``safety_tolerance``...) go in ``input``.
"""

from __future__ import annotations

import base64
from math import gcd
from typing import Any

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

ENGINE = "Replicate"
FAILED = ("failed", "canceled", "aborted")
SIZE_PARAMS = ("aspect_ratio", "width_height")


@register
class ReplicateRenderer(Renderer):
    kind = "replicate"
    default_base_url = "https://api.replicate.com"
    edits = True  # models that take an image take it as "image"; the others say so

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        endpoints = config.options.get("endpoints", {})
        if not isinstance(endpoints, dict) or not all(
            isinstance(v, str) and "/" in v for v in endpoints.values()
        ):
            raise ProviderConfigError(
                "'endpoints' must be a table of model name = "
                '"owner/name" or "owner/name:version" (e.g. "black-forest-labs/flux-schnell").'
            )
        if config.options.get("size_param", "aspect_ratio") not in SIZE_PARAMS:
            raise ProviderConfigError(f"'size_param' is one of {', '.join(SIZE_PARAMS)}.")
        if not isinstance(config.options.get("input", {}), dict):
            raise ProviderConfigError("'input' must be a table.")

    def create(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        """The path and body that create the prediction."""
        target = self.config.options.get("endpoints", {}).get(request.model, request.model)
        width, height = request.dimensions
        values: dict[str, Any] = {
            "prompt": request.prompt,
            "num_outputs": request.n,
            "output_format": "png",
        }
        if self.config.options.get("size_param", "aspect_ratio") == "aspect_ratio":
            divisor = gcd(width, height)
            values["aspect_ratio"] = f"{width // divisor}:{height // divisor}"
        else:
            values["width"], values["height"] = width, height
        seed = request.options.get("seed")
        if isinstance(seed, int):
            values["seed"] = seed
        values.update(self.config.options.get("input", {}))
        if request.is_edit:
            image = request.images[0]
            values["image"] = (
                f"data:{image.content_type};base64,{base64.b64encode(image.data).decode()}"
            )
            if request.mask is not None:
                mask = request.mask
                values["mask"] = (
                    f"data:{mask.content_type};base64,{base64.b64encode(mask.data).decode()}"
                )
        name, _, version = target.partition(":")
        if version:
            return "/v1/predictions", {"version": version, "input": values}
        return f"/v1/models/{name}/predictions", {"input": values}

    def render(self, request: GenerationRequest) -> RenderResult:
        deadline = Deadline(self.config.timeout)
        client = engine_client(self.config)
        path, body = self.create(request)
        prediction = client.request_json("POST", path, json_body=body)
        if not isinstance(prediction, dict) or not isinstance(prediction.get("id"), str):
            raise EndpointUnavailable(f"{ENGINE} created no prediction id.")
        getter, get_path = self._url(client, prediction, "get")
        interval = 0.0  # the first look at once: a fast model is done within a poll
        while prediction.get("status") != "succeeded":
            status = prediction.get("status")
            if status in FAILED:
                raise _failure(prediction)
            if deadline.expired:
                canceller, cancel_path = self._url(client, prediction, "cancel")
                quietly(canceller.request_json, "POST", cancel_path)
                raise deadline.error(ENGINE)
            deadline.sleep(interval)
            interval = next_interval(interval) if interval else FIRST_POLL_INTERVAL
            prediction = getter.request_json("GET", get_path)
            if not isinstance(prediction, dict):
                raise EndpointUnavailable(f"{ENGINE} answered the poll with no prediction.")
        images = [self._image(client, item) for item in _outputs(prediction)]
        return result_of(images, request)

    def _url(self, client, prediction: dict[str, Any], name: str):
        urls = prediction.get("urls") if isinstance(prediction.get("urls"), dict) else {}
        given = urls.get(name)
        if isinstance(given, str) and same_origin(given, self.config.base_url):
            return client_for_url(client, given)
        # Not the API's own origin: not trusted with the token; the documented path instead.
        suffix = "/cancel" if name == "cancel" else ""
        return client, f"/v1/predictions/{prediction['id']}{suffix}"

    def _image(self, client, url: Any) -> RenderedImage:
        if not isinstance(url, str) or not url:
            raise EndpointUnavailable(f"{ENGINE} sent an output that is not a URL.")
        if url.startswith("data:"):
            return image_of(decode_b64(url, ENGINE), ENGINE)
        return image_of(client.download(url), ENGINE)


def _outputs(prediction: dict[str, Any]) -> list[Any]:
    output = prediction.get("output")
    items = [output] if isinstance(output, str) else output
    if not isinstance(items, list) or not items:
        raise EndpointUnavailable(f"{ENGINE}'s prediction succeeded with no output.")
    return items


def _failure(prediction: dict[str, Any]) -> Exception:
    status = prediction.get("status")
    error = prediction.get("error")
    words = str(error).strip() if error else "no reason given"
    if status == "canceled":
        return EndpointUnavailable(f"{ENGINE} canceled the prediction.", code="canceled")
    if "NSFW" in words or "safety" in words.lower():
        return EndpointError(
            f"{ENGINE} refused the image: {words}", status=400, code="moderation_blocked"
        )
    return EndpointUnavailable(f"{ENGINE}'s prediction failed: {words}", code="engine_error")
