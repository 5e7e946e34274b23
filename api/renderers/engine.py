"""What the engine adapters share: their client, their deadline, and their answers' shapes.

Every adapter of an engine's own API (ComfyUI, A1111, BFL...) builds its client, counts its
wall-clock deadline, checks that what came back is an image, and turns previews and results into
the OpenAI stream events the same way; this module is that one way.
"""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

import requests

from novisurf.client import (
    ClientConfig,
    ClientError,
    EndpointTimeout,
    EndpointUnavailable,
    ImageClient,
)
from novisurf.protocol import CONTENT_TYPES, GenerationRequest, sniff_format

from . import RenderedImage, RenderResult, StreamEvent
from .base import ProviderConfig

# A poll starts quick (a fast engine answers within a second) and slows down to this.
MAX_POLL_INTERVAL = 1.0
FIRST_POLL_INTERVAL = 0.05
# Bytes of one result image at most (the site's own cap is applied again when it is stored).
MAX_IMAGE_BYTES = 50 * 1024 * 1024


_local = threading.local()


def session_for(config: ProviderConfig) -> requests.Session:
    """This thread's session for the provider: its connections are kept between requests (a
    TLS handshake with a cloud API costs more than most answers), and no two threads share one."""
    sessions = getattr(_local, "sessions", None)
    if sessions is None:
        sessions = _local.sessions = {}
    key = (config.name, config.base_url)
    if key not in sessions:
        sessions[key] = requests.Session()
    return sessions[key]


def engine_client(
    config: ProviderConfig, *, auth_header: str = "bearer", base_url: str | None = None
) -> ImageClient:
    """The client for one provider: its key in the engine's own header, each call bounded by
    the provider's timeout, a short Retry-After honoured (a longer one fails at once)."""
    return ImageClient(
        ClientConfig(
            base_url=base_url or config.base_url,
            api_key=config.api_key,
            auth_header=auth_header,
            read_timeout=config.timeout,
            download_timeout=config.timeout,
            max_retries=2,
            # Seconds before the first retry of a failed call (then doubling, with jitter).
            backoff=float(config.options.get("retry_backoff", 0.5)),
            max_retry_after=min(10.0, config.timeout),
            max_download_bytes=MAX_IMAGE_BYTES,
        ),
        session=session_for(config),
    )


def client_for_url(client: ImageClient, url: str) -> tuple[ImageClient, str]:
    """A client for an absolute URL an engine handed back (a polling URL), and its path.

    It shares the session and settings of ``client``; its key goes with it, so the caller
    decides whether that origin may have it.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EndpointUnavailable(f"The engine sent a URL that is not http(s): {url[:100]}")
    origin = f"{parts.scheme}://{parts.netloc}"
    other = ImageClient(replace(client.config, base_url=origin), session=client.session)
    path = parts.path or "/"
    return other, path + (f"?{parts.query}" if parts.query else "")


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


class Deadline:
    """The provider's wall-clock budget for one request (``ProviderConfig.timeout``)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def error(self, engine: str) -> EndpointTimeout:
        return EndpointTimeout(
            f"{engine} did not finish within {self.seconds:g} s.", code="timeout", status=504
        )

    def sleep(self, interval: float) -> None:
        time.sleep(min(interval, self.remaining()))


def next_interval(interval: float) -> float:
    return min(MAX_POLL_INTERVAL, interval * 1.5)


def image_of(data: bytes | None, engine: str) -> RenderedImage:
    """``data`` as a result image, or :class:`EndpointUnavailable` if it is not one."""
    found = sniff_format(data) if data else None
    if found is None or found == "svg":
        raise EndpointUnavailable(
            f"{engine} sent bytes that are not an image ({len(data or b'')} bytes).",
            code="invalid_image",
        )
    return RenderedImage(data=data, content_type=CONTENT_TYPES[found])


def decode_b64(text: object, engine: str) -> bytes:
    if not isinstance(text, str) or not text:
        raise EndpointUnavailable(f"{engine} sent an image that is not base64 text.")
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise EndpointUnavailable(
            f"{engine} sent image data that is not valid base64.", code="invalid_image"
        ) from None


def result_of(images: list[RenderedImage], request: GenerationRequest) -> RenderResult:
    width, height = request.dimensions
    fields = {"size": f"{width}x{height}", "output_format": _format_of(images)}
    return RenderResult(images=images, fields=fields)


def _format_of(images: list[RenderedImage]) -> str:
    subtype = images[0].content_type.split("/")[-1] if images else "png"
    return {"svg+xml": "svg"}.get(subtype, subtype)


def partial_event(request: GenerationRequest, data: bytes, index: int) -> StreamEvent:
    return StreamEvent.of(
        {
            "type": f"{request.event_prefix}.partial_image",
            "b64_json": base64.b64encode(data).decode("ascii"),
            "created_at": int(time.time()),
            "partial_image_index": index,
            **_event_fields(request),
        }
    )


def completed_event(request: GenerationRequest, image: RenderedImage) -> StreamEvent:
    return StreamEvent.of(
        {
            "type": f"{request.event_prefix}.completed",
            "b64_json": base64.b64encode(image.data).decode("ascii"),
            "created_at": int(time.time()),
            **_event_fields(request),
            "output_format": _format_of([image]),
        }
    )


def _event_fields(request: GenerationRequest) -> dict[str, str]:
    """The fields OpenAI's image events carry besides the image, as far as an engine knows them."""
    width, height = request.dimensions
    return {
        "background": "opaque",
        "output_format": "png",
        "quality": str(request.options.get("quality", "auto")),
        "size": f"{width}x{height}",
    }


def quietly(call: Callable[..., object], *args: object, **kwargs: object) -> None:
    """A best-effort call (a cancel): its failure must not hide the error that led to it."""
    with contextlib.suppress(ClientError):
        call(*args, **kwargs)


class PartialSchedule:
    """Which previews become partial images: at most ``wanted``, spread over the progress.

    An engine sends a preview per step (ComfyUI) or whenever asked (A1111); a client asked for
    0 to 3. The first comes as soon as there is one, so that the person sees work begin.
    """

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.sent = 0

    def take(self, fraction: float | None) -> bool:
        if self.sent >= self.wanted:
            return False
        if self.sent and fraction is not None and fraction < self.sent / self.wanted:
            return False
        self.sent += 1
        return True
