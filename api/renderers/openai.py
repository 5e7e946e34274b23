"""The ``openai`` kind: any OpenAI-compatible server (OpenAI itself, LocalAI, Together, a
proxy, another Novisurf). It may or may not stream, and may or may not list its models.

All HTTP goes through :mod:`novisurf.client`; its exceptions go up to the router, which answers
them with the status a client can act on (502 when the provider fails, 504 when it is too slow).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from novisurf.client import ClientConfig, ClientError, EndpointUnavailable, ImageClient
from novisurf.imaging import ImageRejected, verify
from novisurf.protocol import (
    CONTENT_TYPES,
    GenerationRequest,
    ProtocolError,
    error_envelope,
)

from . import RenderedImage, RenderResult, StreamEvent
from .base import ProviderConfig, ProviderConfigError, Renderer, register

# A client is waiting on this request: retry briefly, and leave long waits to it.
MAX_RETRIES = 2
MAX_RETRY_AFTER = 10.0


@register
class OpenAIRenderer(Renderer):
    kind = "openai"
    # Whether it sends partial images is up to the server; the protocol table says so for
    # OpenAI's own models, and ``streams = true`` in the providers file for the others.
    previews = False
    edits = True

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        if config.auth_header not in ("bearer", "x-api-key", "api-key"):
            raise ProviderConfigError(
                f"auth_header must be bearer, x-api-key or api-key, not {config.auth_header!r}"
            )

    def client_for(self, request: GenerationRequest) -> ImageClient:
        return ImageClient(self.client_config_for(request.model))

    def client_config_for(self, model: str) -> ClientConfig:
        """Where requests for ``model`` go (one place for every model, here)."""
        return self.client_config()

    def client_config(self) -> ClientConfig:
        from django.conf import settings

        return ClientConfig(
            base_url=self.config.base_url,
            api_key=self.config.api_key,
            auth_header=self.config.auth_header,
            read_timeout=self.config.timeout,
            max_retries=int(self.config.options.get("max_retries", MAX_RETRIES)),
            max_retry_after=MAX_RETRY_AFTER,
            max_download_bytes=settings.NOVISURF_MAX_IMAGE_BYTES,
        )

    def body(self, request: GenerationRequest) -> dict:
        """The fields sent: the request's own (subclasses rename the model)."""
        return request.upstream_body()

    def render(self, request: GenerationRequest) -> RenderResult:
        client = self.client_for(request)
        if request.is_edit:
            result = client.edit(fields=self.body(request), files=request.upstream_files())
        else:
            result = client.generate(**self.body(request))
        images, reasons = [], []
        for item in result.items:
            if item.data is None:
                reasons.append(item.error or "the upstream sent no image")
                continue
            try:
                content_type = verified_content_type(item.data)
            except ImageRejected as exc:
                reasons.append(str(exc))
                continue
            images.append(
                RenderedImage(
                    data=item.data, content_type=content_type, revised_prompt=item.revised_prompt
                )
            )
        if not images:
            reasons = "; ".join(dict.fromkeys(reasons))
            raise ProtocolError(
                f"{self.label}: no usable image came back ({reasons})",
                status=502,
                code="upstream_error",
                type="server_error",
            )
        return RenderResult(images=images, fields=result.fields)

    def stream(self, request: GenerationRequest) -> Iterator[StreamEvent]:
        """Open the provider's stream now (its refusals become ours, with their status), and
        relay its events one by one as they arrive, unchanged. A provider that answers plain
        JSON instead is read as a plain answer: one completed event per image."""
        client = self.client_for(request)
        if request.is_edit:
            events = client.edit_stream(fields=self.body(request), files=request.upstream_files())
        else:
            events = client.generate_stream(**self.body(request))
        label = self.label

        def relay() -> Iterator[StreamEvent]:
            completed = 0
            try:
                for event in events:
                    payload = event.json()
                    kind = event.event or _type_of(payload)
                    completed += kind.endswith(".completed")
                    if kind.endswith(".completed") and _url_only(payload):
                        # A plain answer to our stream, with links: the SDK reads b64_json.
                        yield StreamEvent.of(_inlined(client, payload))
                        continue
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
                            f"{label}: {exc.message}", type="server_error", code=exc.code
                        ),
                    }
                )

        return relay()


def verified_content_type(data: bytes) -> str:
    """The content type of ``data`` once Pillow has decoded it whole (format, dimensions, the
    pixel cap), or :class:`ImageRejected` with the reason: what we answer is an image."""
    from django.conf import settings

    verified = verify(data, max_pixels=settings.NOVISURF_MAX_IMAGE_PIXELS)
    return CONTENT_TYPES[verified.format.lower()]


def _url_only(payload) -> bool:
    return (
        isinstance(payload, dict)
        and not payload.get("b64_json")
        and isinstance(payload.get("url"), str)
    )


def _inlined(client: ImageClient, payload: dict) -> dict:
    data = client.download(payload["url"])
    try:
        verified_content_type(data)
    except ImageRejected as exc:
        raise EndpointUnavailable(
            f"the image at the provider's URL was refused: {exc}", code="invalid_image"
        ) from None
    inlined = {k: v for k, v in payload.items() if k != "url"}
    inlined["b64_json"] = base64.b64encode(data).decode("ascii")
    return inlined


def _type_of(payload) -> str:
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else ""
