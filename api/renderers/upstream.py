"""The forwarder: requests for models this site does not render go to the configured upstream.

All HTTP goes through :mod:`novisurf.client`; its exceptions become the OpenAI error envelope
with the status a client can act on (502 when the upstream fails, 504 when it is too slow).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings

from novisurf.client import (
    ClientConfig,
    ClientError,
    EndpointError,
    EndpointTimeout,
    EndpointUnavailable,
    ImageClient,
    RateLimited,
)
from novisurf.protocol import (
    CONTENT_TYPES,
    GenerationRequest,
    ProtocolError,
    error_envelope,
    sniff_format,
)

from . import RenderedImage, RenderResult, StreamEvent


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


def forward(request: GenerationRequest) -> RenderResult:
    with _upstream_errors():
        if request.is_edit:
            result = upstream_client().edit(
                fields=request.upstream_body(), files=request.upstream_files()
            )
        else:
            result = upstream_client().generate(**request.upstream_body())

    images, reasons = [], []
    for item in result.items:
        found = sniff_format(item.data) if item.data is not None else None
        if found is None:
            reasons.append(item.error or "the upstream sent bytes that are not an image")
            continue
        images.append(
            RenderedImage(
                data=item.data,
                content_type=CONTENT_TYPES[found],
                revised_prompt=item.revised_prompt,
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
    return RenderResult(images=images, fields=result.fields)


def forward_stream(request: GenerationRequest) -> Iterator[StreamEvent]:
    """Open the upstream's stream now (its refusals become ours, with their status), and relay
    its events one by one as they arrive, unchanged."""
    with _upstream_errors():
        if request.is_edit:
            events = upstream_client().edit_stream(
                fields=request.upstream_body(), files=request.upstream_files()
            )
        else:
            events = upstream_client().generate_stream(**request.upstream_body())

    def relay() -> Iterator[StreamEvent]:
        completed = 0
        try:
            for event in events:
                kind = event.event or _type_of(event.json())
                completed += kind.endswith(".completed")
                yield StreamEvent(event=event.event, data=event.data)
            if not completed:
                raise EndpointUnavailable(
                    "the stream ended before its image was complete", code="stream_broken"
                )
        except ClientError as exc:
            # The answer has begun (200, event-stream): a failure now can only be an event.
            # The SDK raises an APIError for an event whose data has an "error".
            yield StreamEvent.of(
                {
                    "type": "error",
                    **error_envelope(
                        f"Upstream: {exc.message}", type="server_error", code=exc.code
                    ),
                }
            )

    return relay()


def _type_of(payload) -> str:
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else ""


@contextlib.contextmanager
def _upstream_errors() -> Iterator[None]:
    """The client's exceptions as the OpenAI error envelope with the status a caller can act on."""
    try:
        yield
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
