"""AUTOMATIC1111 and Forge: ``/sdapi/v1/txt2img``, and ``/sdapi/v1/img2img`` for edits.

The checkpoint is chosen per request through ``override_settings`` (``sd_model_checkpoint``),
restored afterwards by the server, never by changing its global options: other people's
requests to the same server keep theirs. The provider's ``checkpoints`` option maps each model
name clients send to a checkpoint title (``checkpoint`` gives one for all); a model with none
uses whatever the server has loaded.

The call is synchronous, so a stream runs it on a thread and meanwhile asks
``/sdapi/v1/progress`` for the image being made (``current_image``): those are the partial
images. On the deadline the server is told to stop (``/sdapi/v1/interrupt``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import queue
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from PIL import Image

from novisurf.client import ClientError, EndpointTimeout, EndpointUnavailable
from novisurf.protocol import GenerationRequest, ProtocolError

from . import RenderedImage, RenderResult, StreamEvent
from .base import ProviderConfig, ProviderConfigError, Renderer, register
from .engine import (
    Deadline,
    PartialSchedule,
    completed_event,
    decode_b64,
    engine_client,
    image_of,
    partial_event,
    quietly,
    result_of,
)

ENGINE = "AUTOMATIC1111"
MAX_SEED = 2**32 - 1
# Options of the provider entry passed through to every request when set.
PASSED_OPTIONS = ("steps", "cfg_scale", "sampler_name", "scheduler", "denoising_strength")
PREVIEW_INTERVAL = 0.5
FIRST_PREVIEW_INTERVAL = 0.05
REFUSAL_WAIT = 0.3


@register
class A1111Renderer(Renderer):
    kind = "a1111"
    previews = True
    edits = True

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        checkpoints = config.options.get("checkpoints", {})
        if not isinstance(checkpoints, dict) or not all(
            isinstance(v, str) for v in checkpoints.values()
        ):
            raise ProviderConfigError(
                "'checkpoints' must be a table of model name = "
                '"checkpoint title" (as /sdapi/v1/sd-models lists them).'
            )
        max_batch = config.options.get("max_batch_size", 1)
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ProviderConfigError("'max_batch_size' is a whole number of images, 1 or more.")
        unknown = sorted(set(checkpoints) - set(config.models))
        if unknown:
            raise ProviderConfigError(
                f"'checkpoints' names models the provider does not "
                f"list in 'models': {', '.join(unknown)}."
            )

    def _client(self):
        config = self.config
        if ":" in config.api_key:
            # --api-auth user:password is HTTP Basic.
            token = base64.b64encode(config.api_key.encode()).decode("ascii")
            return engine_client(replace(config, api_key=token), auth_header="basic")
        return engine_client(config)

    def payload(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        """The endpoint and body for ``request``."""
        width, height = request.dimensions
        seed = request.options.get("seed")
        max_batch = int(self.config.options.get("max_batch_size", request.n)) or request.n
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": str(self.config.options.get("negative_prompt", "")),
            "width": width,
            "height": height,
            # More images than the GPU makes at once are made in several batches.
            "batch_size": min(request.n, max_batch),
            "n_iter": -(-request.n // max_batch),
            "seed": seed if isinstance(seed, int) else secrets.randbelow(MAX_SEED + 1),
            "send_images": True,
            "save_images": False,
        }
        for name in PASSED_OPTIONS:
            if name in self.config.options:
                body[name] = self.config.options[name]
        # Per request, and restored by the server afterwards: never the global setting.
        override: dict[str, Any] = {"return_grid": False}
        checkpoint = self.config.options.get("checkpoints", {}).get(
            request.model, self.config.options.get("checkpoint")
        )
        if checkpoint:
            override["sd_model_checkpoint"] = checkpoint
        body["override_settings"] = override
        body["override_settings_restore_afterwards"] = True
        if not request.is_edit:
            return "/sdapi/v1/txt2img", body
        body["init_images"] = [_b64(image.data) for image in request.images]
        body.setdefault("denoising_strength", 0.75)
        if request.mask is not None:
            body["mask"] = _b64(_a1111_mask(request.mask.data))
            body["inpainting_mask_invert"] = 0  # white is repainted
            body["inpainting_fill"] = 1  # start from the original's pixels
        return "/sdapi/v1/img2img", body

    def render(self, request: GenerationRequest) -> RenderResult:
        path, body = self.payload(request)
        client = self._client()
        try:
            answer = client.request_json("POST", path, json_body=body)
        except EndpointTimeout:
            quietly(lambda: client.request_json("POST", "/sdapi/v1/interrupt"))
            raise Deadline(self.config.timeout).error(ENGINE) from None
        return result_of(_images(answer, request.n, body), request)

    def stream(self, request: GenerationRequest) -> Iterator[StreamEvent]:
        if request.partial_images == 0:
            return self._plain_stream(request)
        path, body = self.payload(request)
        client = self._client()
        deadline = Deadline(self.config.timeout)
        done: queue.Queue = queue.Queue(maxsize=1)

        def work() -> None:
            try:
                done.put(client.request_json("POST", path, json_body=body))
            except Exception as exc:  # a bug must reach the caller, not leave it waiting
                done.put(exc)

        worker = threading.Thread(target=work, name="a1111-render", daemon=True)
        worker.start()
        # A refusal (a 422, a bad key) comes back at once: wait a moment for it, so that it is
        # an error status rather than an event of a stream already begun. A preview seen
        # meanwhile means the work has begun: it is kept for the first event.
        early, first_preview = None, (None, None)
        waited_until = time.monotonic() + min(REFUSAL_WAIT, self.config.timeout)
        while time.monotonic() < waited_until:
            try:
                early = done.get(timeout=FIRST_PREVIEW_INTERVAL)
                break
            except queue.Empty:
                first_preview = _progress(client)
                if first_preview[0]:
                    break
        if isinstance(early, Exception) and not isinstance(early, EndpointTimeout):
            raise early

        def events() -> Iterator[StreamEvent]:
            schedule = PartialSchedule(request.partial_images)
            seen: set[str] = set()
            answer = early
            preview, fraction = first_preview
            interval = FIRST_PREVIEW_INTERVAL
            while answer is None:
                if preview and preview not in seen and schedule.take(fraction):
                    seen.add(preview)
                    with contextlib.suppress(EndpointUnavailable):  # a bad preview is skipped
                        yield partial_event(request, decode_b64(preview, ENGINE), schedule.sent - 1)
                try:
                    answer = done.get(timeout=min(interval, deadline.remaining() or 0.01))
                    break
                except queue.Empty:
                    # Asked often at first, then every PREVIEW_INTERVAL.
                    interval = min(PREVIEW_INTERVAL, interval * 1.5)
                if deadline.expired:
                    quietly(lambda: client.request_json("POST", "/sdapi/v1/interrupt"))
                    raise deadline.error(ENGINE)
                preview, fraction = _progress(client)
            if isinstance(answer, Exception):
                if isinstance(answer, EndpointTimeout):
                    quietly(lambda: client.request_json("POST", "/sdapi/v1/interrupt"))
                raise answer
            for image in _images(answer, request.n, body):
                yield completed_event(request, image)

        return events()

    def _plain_stream(self, request: GenerationRequest) -> Iterator[StreamEvent]:
        result = self.render(request)  # refusals raise here, before the first event
        return iter([completed_event(request, image) for image in result.images])


def _progress(client) -> tuple[str | None, float | None]:
    try:
        answer = client.request_json("GET", "/sdapi/v1/progress?skip_current_image=false")
    except ClientError:
        return None, None  # a missed preview is no reason to fail the image
    if not isinstance(answer, dict):
        return None, None
    preview = answer.get("current_image")
    fraction = answer.get("progress")
    return (
        preview if isinstance(preview, str) and preview else None,
        float(fraction) if isinstance(fraction, (int, float)) else None,
    )


def _images(answer: Any, n: int, body: dict[str, Any]) -> list[RenderedImage]:
    encoded = answer.get("images") if isinstance(answer, dict) else None
    if not isinstance(encoded, list) or not encoded:
        raise EndpointUnavailable(f"{ENGINE} answered with no images.", code="empty_response")
    made = body["batch_size"] * body["n_iter"]
    if len(encoded) == made + 1:
        encoded = encoded[1:]  # a server that still returns the grid first
    return [image_of(decode_b64(item, ENGINE), ENGINE) for item in encoded[:n]]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _a1111_mask(data: bytes) -> bytes:
    """OpenAI's mask (transparent: repaint) as A1111's (white: repaint, black: keep)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            alpha = image.convert("RGBA").getchannel("A")
    except (OSError, ValueError):
        raise ProtocolError("The mask is not an image.", param="mask") from None
    inverted = alpha.point(lambda value: 255 - value)
    buffer = io.BytesIO()
    inverted.save(buffer, "PNG")
    return buffer.getvalue()
