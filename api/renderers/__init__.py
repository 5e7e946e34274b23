"""Who makes a request's images: the procedural renderer here, or the upstream it forwards to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from novisurf.protocol import MODELS, GenerationRequest


@dataclass(frozen=True)
class RenderedImage:
    data: bytes
    content_type: str
    revised_prompt: str | None = None


@dataclass
class RenderResult:
    """The images, and the answer's other top-level fields (``usage``, ``background``,
    ``output_format``, ``quality``, ``size``...): for an upstream, exactly what it sent."""

    images: list[RenderedImage]
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event: its ``event`` name (the data's ``type``) and its JSON text.

    The text is kept as it came, so that an upstream's events are relayed unchanged.
    """

    event: str | None
    data: str

    @classmethod
    def of(cls, payload: dict[str, Any]) -> StreamEvent:
        return cls(event=payload.get("type"), data=json.dumps(payload, separators=(",", ":")))

    def encode(self) -> bytes:
        lines = [f"event: {self.event}"] if self.event else []
        lines += [f"data: {line}" for line in self.data.split("\n")]
        return ("\n".join(lines) + "\n\n").encode()


def upstream_configured() -> bool:
    return bool(settings.NOVISURF_UPSTREAM_BASE)


def serves(model: str) -> bool:
    """Whether this endpoint can answer for ``model``: its own always, others through an upstream."""
    spec = MODELS.get(model)
    if spec is not None and spec.procedural:
        return True
    return upstream_configured()


def _is_procedural(request: GenerationRequest) -> bool:
    spec = MODELS.get(request.model)
    return spec is not None and spec.procedural


def render(request: GenerationRequest) -> RenderResult:
    if _is_procedural(request):
        from . import procedural

        return procedural.render(request)
    from . import upstream

    return upstream.forward(request)


def stream(request: GenerationRequest) -> Iterator[StreamEvent]:
    """The request's events. Whatever can be refused is refused here, before the first event
    (as a ``ProtocolError``, so that the caller still gets a status code); the events come as
    they are made."""
    if _is_procedural(request):
        from . import procedural

        return procedural.stream(request)
    from . import upstream

    return upstream.forward_stream(request)
