"""Black Forest Labs (FLUX): submit to ``POST /v1/<model>``, poll the ``polling_url`` it returns
until ``Ready``, then download ``result.sample`` (a signed link that expires in minutes).

The key goes in ``x-key``, to BFL's own hosts only: the polling URL may be on a regional host
(``api.us1.bfl.ai``); one elsewhere is not trusted with the key, and the result is asked of the
provider's own ``/v1/get_result?id=`` instead. Each image is its own task (BFL makes one per
request). BFL has no cancel: on the deadline the poll stops and the request is a timeout.

The provider's ``endpoints`` option maps a model name to BFL's endpoint (``flux-pro-1.1``,
``flux-kontext-pro``...); without it the model name is the endpoint. Other options (e.g.
``safety_tolerance``, ``output_format``, ``prompt_upsampling``) are passed through.
"""

from __future__ import annotations

import base64
from math import gcd
from typing import Any
from urllib.parse import urlencode, urlsplit

from novisurf.client import EndpointError, EndpointUnavailable
from novisurf.protocol import GenerationRequest

from . import RenderedImage, RenderResult
from .base import ProviderConfig, ProviderConfigError, Renderer, register
from .engine import (
    FIRST_POLL_INTERVAL,
    Deadline,
    client_for_url,
    engine_client,
    image_of,
    next_interval,
    result_of,
    same_origin,
)

ENGINE = "Black Forest Labs"
BFL_HOSTS = ("bfl.ai", "bfl.ml")
# Endpoints that take an aspect ratio rather than a width and height.
ASPECT_RATIO_ENDPOINTS = ("ultra", "kontext")
PASSED_OPTIONS = (
    "safety_tolerance",
    "output_format",
    "prompt_upsampling",
    "raw",
    "steps",
    "guidance",
)
MODERATED = ("Request Moderated", "Content Moderated")


@register
class BFLRenderer(Renderer):
    kind = "bfl"
    default_base_url = "https://api.bfl.ai"
    edits = True  # flux-kontext takes an input_image; other endpoints say so themselves

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        endpoints = config.options.get("endpoints", {})
        if not isinstance(endpoints, dict) or not all(
            isinstance(v, str) and v.strip("/") for v in endpoints.values()
        ):
            raise ProviderConfigError(
                "'endpoints' must be a table of model name = "
                '"BFL endpoint" (e.g. "flux-pro-1.1").'
            )

    def endpoint(self, model: str) -> str:
        return self.config.options.get("endpoints", {}).get(model, model).strip("/")

    def body(self, request: GenerationRequest, index: int) -> dict[str, Any]:
        endpoint = self.endpoint(request.model)
        width, height = request.dimensions
        body: dict[str, Any] = {"prompt": request.prompt}
        if any(word in endpoint for word in ASPECT_RATIO_ENDPOINTS):
            divisor = gcd(width, height)
            body["aspect_ratio"] = f"{width // divisor}:{height // divisor}"
        else:
            body["width"], body["height"] = width, height
        seed = request.options.get("seed")
        if isinstance(seed, int):
            body["seed"] = seed + index
        body["output_format"] = "png"
        for name in PASSED_OPTIONS:
            if name in self.config.options:
                body[name] = self.config.options[name]
        if request.is_edit:
            body["input_image"] = base64.b64encode(request.images[0].data).decode("ascii")
        return body

    def render(self, request: GenerationRequest) -> RenderResult:
        deadline = Deadline(self.config.timeout)
        client = engine_client(self.config, auth_header="x-key")
        path = f"/v1/{self.endpoint(request.model)}"
        # Every task is submitted first, so that they are made side by side.
        tasks = [
            self._submit(client, path, self.body(request, index)) for index in range(request.n)
        ]
        images = [self._wait(client, task, deadline) for task in tasks]
        return result_of(images, request)

    def _submit(self, client, path: str, body: dict[str, Any]) -> dict[str, str]:
        answer = client.request_json("POST", path, json_body=body)
        task_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise EndpointUnavailable(f"{ENGINE} took the request but sent no task id.")
        polling_url = answer.get("polling_url")
        return {"id": task_id, "polling_url": polling_url if isinstance(polling_url, str) else ""}

    def _poller(self, client, task: dict[str, str]):
        """The client and path to poll: the polling URL where it is BFL's own, else ours."""
        url = task["polling_url"]
        if url and (same_origin(url, self.config.base_url) or _is_bfl_host(url)):
            return client_for_url(client, url)
        return client, "/v1/get_result?" + urlencode({"id": task["id"]})

    def _wait(self, client, task: dict[str, str], deadline: Deadline) -> RenderedImage:
        poller, path = self._poller(client, task)
        interval = FIRST_POLL_INTERVAL
        while True:
            if deadline.expired:
                raise deadline.error(ENGINE)
            answer = poller.request_json("GET", path)
            status = answer.get("status") if isinstance(answer, dict) else None
            if status == "Ready":
                return self._sample(client, answer)
            if status in MODERATED:
                raise EndpointError(
                    f"{ENGINE} refused the image: {status}{_details(answer)}.",
                    status=400,
                    code="moderation_blocked",
                )
            if status == "Task not found":
                raise EndpointUnavailable(
                    f"{ENGINE} lost the task ({status}): it may have expired.", code="not_found"
                )
            if status == "Error":
                raise EndpointUnavailable(
                    f"{ENGINE} could not make the image{_details(answer)}.", code="engine_error"
                )
            if not isinstance(status, str):
                raise EndpointUnavailable(
                    f"{ENGINE} answered the poll without a status.", code="invalid_response"
                )
            # Pending (or a status BFL may add): wait, no longer than the deadline allows.
            deadline.sleep(interval)
            interval = next_interval(interval)

    def _sample(self, client, answer: dict[str, Any]) -> RenderedImage:
        result = answer.get("result")
        sample = result.get("sample") if isinstance(result, dict) else None
        if not isinstance(sample, str) or not sample:
            raise EndpointUnavailable(f"{ENGINE} said Ready but sent no sample URL.")
        # download(): the key only to the provider's own origin, never to the delivery host.
        return image_of(client.download(sample), ENGINE)


def _is_bfl_host(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(
        host == name or host.endswith("." + name) for name in BFL_HOSTS
    )


def _details(answer: Any) -> str:
    details = answer.get("details") if isinstance(answer, dict) else None
    if isinstance(details, dict):
        reasons = details.get("Moderation Reasons") or details.get("moderation_reasons")
        if isinstance(reasons, list) and reasons:
            return f" ({', '.join(str(r) for r in reasons)})"
        text = "; ".join(f"{k}: {v}" for k, v in details.items())
        return f" ({text[:300]})" if text else ""
    if isinstance(details, str) and details:
        return f" ({details[:300]})"
    return ""
