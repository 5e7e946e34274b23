"""Who makes a request's images: the procedural renderer here, or the upstream it forwards to."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from novisurf.protocol import MODELS, GenerationRequest


@dataclass(frozen=True)
class RenderedImage:
    data: bytes
    content_type: str
    revised_prompt: str | None = None


def upstream_configured() -> bool:
    return bool(settings.NOVISURF_UPSTREAM_BASE)


def serves(model: str) -> bool:
    """Whether this endpoint can answer for ``model``: its own always, others through an upstream."""
    spec = MODELS.get(model)
    if spec is not None and spec.procedural:
        return True
    return upstream_configured()


def render(request: GenerationRequest) -> list[RenderedImage]:
    spec = MODELS.get(request.model)
    if spec is not None and spec.procedural:
        from . import procedural

        return procedural.render(request)
    from . import upstream

    return upstream.forward(request)
