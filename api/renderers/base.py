"""The one interface every image engine is reached through, and the table of kinds.

A provider is one entry of the providers file (or the ``NOVISURF_UPSTREAM_*`` settings, as a
provider of kind ``openai``); its kind names a :class:`Renderer` class in :data:`KINDS`, as
healthchecks maps a channel kind to its transport (``hc/api/models.py`` ``TRANSPORTS``). Adding an
engine is one module in this package and one row in that table.

A renderer turns a validated OpenAI request into the engine's own calls (all HTTP through
:mod:`novisurf.client`) and the engine's answer back into a :class:`RenderResult`. Its failures
are :class:`novisurf.client.ClientError` (the router maps them to 429/502/504 with the engine's
words) or :class:`novisurf.protocol.ProtocolError` for a request the engine cannot take.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar

from novisurf.protocol import MODELS, OPEN_SPEC, GenerationRequest, ModelSpec

from . import RenderResult, StreamEvent


class ProviderConfigError(ValueError):
    """The providers file is wrong; the message names the file, the line and what to fix."""


@dataclass(frozen=True)
class ProviderConfig:
    """One ``[[providers]]`` entry, validated, with its secret resolved."""

    name: str
    kind: str
    base_url: str
    api_key: str = ""
    models: tuple[str, ...] = ()
    # ComfyUI: the API-format workflow, already loaded and checked for its placeholders.
    workflow: Mapping[str, Any] | None = None
    # Whole answer, wall clock (seconds): a provider that is slower is a 504.
    timeout: float = 120.0
    # Requests in flight to this provider at once; more wait for a slot (then 429).
    max_concurrency: int = 4
    # USD per image where the provider reports no usage; None: the price book's default.
    price_per_image: Decimal | None = None
    # openai kind: "bearer" or "x-api-key"
    auth_header: str = "bearer"
    # Every other key of the entry, for the kind to read (e.g. azure's api_version).
    options: Mapping[str, Any] = field(default_factory=dict)


class Renderer(ABC):
    """One provider's engine. Instances are cheap; one is made per provider at startup."""

    kind: ClassVar[str]
    # Whether the engine can show progress (partial_image events). The gallery asks to stream
    # only models whose renderer previews; the others carry the completed event only.
    previews: ClassVar[bool] = False
    edits: ClassVar[bool] = False
    # Where the engine lives when the entry names no base_url ("" : base_url is required).
    default_base_url: ClassVar[str] = ""
    # A kind driven by a workflow file (comfyui): the file is required, and must contain each
    # of these strings; the loader checks both before startup goes on.
    needs_workflow: ClassVar[bool] = False
    workflow_placeholders: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @classmethod
    def check_config(cls, config: ProviderConfig) -> None:
        """Refuse a config this kind cannot use (raise :class:`ProviderConfigError`)."""
        return None

    @property
    def name(self) -> str:
        return self.config.name

    def models(self) -> list[str]:
        return list(self.config.models)

    @property
    def label(self) -> str:
        """How this provider's errors begin, for the person who reads them."""
        return "Upstream" if self.name == UPSTREAM_PROVIDER else f"Provider {self.name}"

    def spec(self, model: str) -> ModelSpec:
        """What ``model`` takes here: the protocol table's row for OpenAI's own models on an
        OpenAI-shaped kind (and for the built-in ones), otherwise what the kind can do. Every
        model takes ``stream``; one that does not preview sends its completed events only."""
        known = MODELS.get(model)
        if known is not None and (known.procedural or self.kind in OPENAI_SHAPED_KINDS):
            return known
        return replace(
            OPEN_SPEC,
            id=model,
            label=model,
            streams=True,
            edits=self.edits,
            owned_by=self.name,
            description=f"Served by {self.name} ({self.kind}).",
        )

    def previews_for(self, model: str) -> bool:
        """Whether ``model`` sends partial images on the way (what the gallery asks to stream).

        ``streams = true|false`` in the provider's entry says it for an OpenAI-compatible server
        that the protocol table cannot speak for."""
        if "streams" in self.config.options:
            return bool(self.config.options["streams"])
        known = MODELS.get(model)
        if known is not None and (known.procedural or self.kind in OPENAI_SHAPED_KINDS):
            return known.streams and (self.previews or self.kind in OPENAI_SHAPED_KINDS)
        return self.previews

    @abstractmethod
    def render(self, request: GenerationRequest) -> RenderResult:
        """Every image of the request, or a ``ClientError`` / ``ProtocolError``."""

    def stream(self, request: GenerationRequest) -> Iterator[StreamEvent]:
        """The request's events: by default the completed events only, after a plain render.

        Engines that preview override this to yield ``partial_image`` events as they come.
        Whatever can be refused is refused before the first event.
        """
        from .streaming import completed_events

        result = self.render(request)
        return iter(completed_events(request, result))


# The provider the ``NOVISURF_UPSTREAM_*`` settings make; its errors begin "Upstream:".
UPSTREAM_PROVIDER = "upstream"
# Kinds that speak OpenAI's own API: a model of the protocol table takes what the table says.
OPENAI_SHAPED_KINDS = frozenset({"openai", "azure"})


# kind -> Renderer class. Filled by each kind's module (see ``api/renderers/registry.py``).
KINDS: dict[str, type[Renderer]] = {}


def register(cls: type[Renderer]) -> type[Renderer]:
    KINDS[cls.kind] = cls
    return cls
