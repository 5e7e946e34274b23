"""The built-in kind: the procedural renderer of :mod:`.procedural`, always present, never
configured. It answers for the protocol table's procedural models."""

from __future__ import annotations

from collections.abc import Iterator

from novisurf.protocol import MODELS, GenerationRequest

from . import RenderResult, StreamEvent, pool, procedural
from .base import ProviderConfig, Renderer, register

BUILTIN_PROVIDER = "novisurf"


@register
class BuiltinRenderer(Renderer):
    kind = "builtin"
    previews = True
    edits = True

    @classmethod
    def default(cls) -> BuiltinRenderer:
        return cls(
            ProviderConfig(
                name=BUILTIN_PROVIDER,
                kind=cls.kind,
                base_url="",
                models=tuple(spec.id for spec in MODELS.values() if spec.procedural),
                # Local work: as many at once as the server has threads.
                max_concurrency=0,
            )
        )

    def render(self, request: GenerationRequest) -> RenderResult:
        from django.conf import settings

        return pool.render(
            request,
            processes=settings.NOVISURF_RENDER_PROCESSES,
            min_pixels=settings.NOVISURF_RENDER_POOL_MIN_PIXELS,
        )

    def stream(self, request: GenerationRequest) -> Iterator[StreamEvent]:
        return procedural.stream(request)
