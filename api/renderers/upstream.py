"""The forwarder: requests for models this site does not render go to the configured upstream.

All HTTP goes through :mod:`novisurf.client`; its exceptions become the OpenAI error envelope
with the status a client can act on (502 when the upstream fails, 504 when it is too slow).
"""

from __future__ import annotations

from django.conf import settings

from novisurf.client import (
    ClientConfig,
    ClientError,
    EndpointError,
    EndpointTimeout,
    ImageClient,
    RateLimited,
)
from novisurf.protocol import GenerationRequest, ProtocolError

from . import RenderedImage

IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


def upstream_client() -> ImageClient:
    return ImageClient(
        ClientConfig(
            base_url=settings.NOVISURF_UPSTREAM_BASE,
            api_key=settings.NOVISURF_UPSTREAM_KEY,
            auth_header=settings.NOVISURF_UPSTREAM_AUTH_HEADER,
            read_timeout=settings.NOVISURF_UPSTREAM_TIMEOUT,
            # A client is waiting on this request: retry briefly, and leave long waits to it.
            max_retries=2,
            max_retry_after=10.0,
            max_download_bytes=settings.NOVISURF_MAX_IMAGE_BYTES,
        )
    )


def forward(request: GenerationRequest) -> list[RenderedImage]:
    body = request.upstream_body()
    try:
        result = upstream_client().generate(**body)
    except RateLimited as exc:
        raise ProtocolError(
            f"Upstream: {exc.message}",
            status=429,
            code="rate_limit_exceeded",
            type="requests",
            retry_after=exc.retry_after,
        ) from exc
    except EndpointTimeout as exc:
        raise ProtocolError(
            f"Upstream: {exc.message}", status=504, code="upstream_timeout", type="server_error"
        ) from exc
    except EndpointError as exc:
        if exc.status in (401, 403):
            # Our key for the upstream is wrong: not the caller's fault, and not theirs to fix.
            raise ProtocolError(
                f"Upstream: {exc.message}", status=502, code="upstream_auth", type="server_error"
            ) from exc
        raise ProtocolError(
            f"Upstream: {exc.message}", status=exc.status or 400, param=exc.param, code=exc.code
        ) from exc
    except ClientError as exc:
        raise ProtocolError(
            f"Upstream: {exc.message}", status=502, code="upstream_error", type="server_error"
        ) from exc

    images, reasons = [], []
    for item in result.items:
        content_type = _sniff(item.data) if item.data is not None else None
        if content_type is None:
            reasons.append(item.error or "the upstream sent bytes that are not an image")
            continue
        images.append(
            RenderedImage(
                data=item.data, content_type=content_type, revised_prompt=item.revised_prompt
            )
        )
    if not images:
        reasons = "; ".join(dict.fromkeys(reasons))
        raise ProtocolError(
            f"Upstream: no usable image came back ({reasons})",
            status=502,
            code="upstream_error",
            type="server_error",
        )
    return images


def _sniff(data: bytes) -> str | None:
    for signature, content_type in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
