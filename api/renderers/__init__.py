"""Who makes a request's images: the router picks a provider by model name, and the provider's
renderer (the procedural one built in, or an adapter of its kind) makes them.

The data every renderer answers with lives here; the kinds are in :mod:`.base` and each kind's
module; the table of providers, aliases and models, and the routing, in :mod:`.registry`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from novisurf.protocol import GenerationRequest, ModelSpec, ProtocolError

if TYPE_CHECKING:
    from .registry import ListedModel as ListedModel


@dataclass(frozen=True)
class RenderedImage:
    data: bytes
    content_type: str
    revised_prompt: str | None = None


@dataclass
class RenderResult:
    """The images, and the answer's other top-level fields (``usage``, ``background``,
    ``output_format``, ``quality``, ``size``...): for an upstream, exactly what it sent.

    ``provider`` is the name of the provider that served it (set by the router)."""

    images: list[RenderedImage]
    fields: dict[str, Any] = field(default_factory=dict)
    provider: str = ""


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


def serves(model: str) -> bool:
    """Whether this endpoint can answer for ``model`` now (built in, a provider's, an alias)."""
    from .registry import router

    return router().serves(model)


def serves_for(api_key) -> Callable[[str], bool]:
    """``serves`` for one API key: a model it may not use, or nobody serves, is a 404 that
    says which of the two it is."""
    from .registry import router

    def serves(model: str) -> bool:
        table = router()
        if not table.serves(model):
            raise table.unknown_model(model)
        if not api_key.allows(model):
            raise ProtocolError(
                f"The model '{model}' does not exist or you do not have access to it: this API "
                f"key may use {', '.join(api_key.allowed_models)} only.",
                status=404,
                param="model",
                code="model_not_found",
            )
        return True

    return serves


def spec_of(model: str) -> ModelSpec:
    """What ``model`` takes: the protocol table's row for a known OpenAI model, else its kind's."""
    from .registry import router

    return router().spec(model)


def listed() -> list:
    """The models that can answer now, as :class:`.registry.ListedModel` rows."""
    from .registry import router

    return router().listed()


def render(request: GenerationRequest) -> RenderResult:
    from .registry import router

    return router().render(request)


def stream(request: GenerationRequest) -> Iterator[StreamEvent]:
    """The request's events (an iterator with a ``provider`` attribute). Whatever can be
    refused is refused here, before the first event (as a ``ProtocolError``, so that the caller
    still gets a status code); the events come as they are made."""
    from .registry import router

    return router().stream(request)
