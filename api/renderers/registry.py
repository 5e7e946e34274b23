"""The router: model name -> provider -> renderer, with aliases that fall back in order.

The table is made from the settings (the providers file, the ``NOVISURF_UPSTREAM_*`` provider)
and kept until they change. The built-in procedural renderer is always there, as the provider
``novisurf``; the ``NOVISURF_UPSTREAM_*`` provider takes every model nobody else serves.

A renderer's failures (:class:`novisurf.client.ClientError`) become the OpenAI error envelope
here, with the status a client can act on: 429 when the provider rate limits (or is at its
cap of requests in flight), 504 when it is too slow, 502 when it fails or cannot be reached.
An alias tries its next model on exactly those, and on nothing else.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

from django.conf import settings

from novisurf.client import ClientError, EndpointError, EndpointTimeout, RateLimited
from novisurf.protocol import MODELS, GenerationRequest, ModelSpec, ProtocolError

from . import RenderResult, StreamEvent
from .base import KINDS, UPSTREAM_PROVIDER, ProviderConfig, ProviderConfigError, Renderer
from .config import AliasConfig, ProvidersFile, providers_file_load

# Modules of this package that are not kinds.
_NOT_KINDS = frozenset({"base", "config", "registry", "streaming", "procedural"})
# How long a request waits for a free slot of a provider at its cap before it is a 429.
SLOT_WAIT_SECONDS = 30.0
RETRYABLE_STATUSES = frozenset({429}) | frozenset(range(500, 600))

_kinds_loaded = False


def load_kinds() -> None:
    """Import every kind's module of this package: each registers itself in ``KINDS``."""
    global _kinds_loaded
    if _kinds_loaded:
        return
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_KINDS and not module.name.startswith("_"):
            importlib.import_module(f"{__package__}.{module.name}")
    _kinds_loaded = True


class ProviderBusy(ProtocolError):
    """The provider has as many requests in flight as it may; retryable, like its own 429."""


@dataclass(frozen=True)
class Route:
    """Where one model goes: the provider, and the model name it is asked for."""

    model: str
    renderer: Renderer


@dataclass(frozen=True)
class ListedModel:
    id: str
    provider: str
    spec: ModelSpec
    streams: bool
    edits: bool
    alias_of: tuple[str, ...] = ()


class Router:
    def __init__(
        self,
        renderers: list[Renderer],
        aliases: tuple[AliasConfig, ...] = (),
        catch_all: Renderer | None = None,
    ) -> None:
        self.renderers = {r.name: r for r in renderers + ([catch_all] if catch_all else [])}
        self.by_model: dict[str, Renderer] = {}
        for renderer in renderers:
            for model in renderer.models():
                self.by_model.setdefault(model, renderer)
        self.catch_all = catch_all
        self.aliases = {alias.name: alias.models for alias in aliases}
        self._slots = {
            r.name: threading.BoundedSemaphore(r.config.max_concurrency)
            for r in self.renderers.values()
            if r.config.max_concurrency > 0
        }

    # -- the table ---------------------------------------------------------------------

    def route(self, model: str) -> Route | None:
        renderer = self.by_model.get(model)
        if renderer is None and self.catch_all is not None and model not in self.aliases:
            renderer = self.catch_all
        return Route(model, renderer) if renderer else None

    def routes(self, model: str) -> list[Route]:
        """Where ``model`` goes, in the order to try: one route, or an alias's in turn."""
        if model in self.aliases:
            return [route for m in self.aliases[model] if (route := self.route(m))]
        route = self.route(model)
        return [route] if route else []

    def serves(self, model: str) -> bool:
        return bool(self.routes(model))

    def unknown_model(self, model: str) -> ProtocolError:
        """The 404 for a model nobody serves, saying why where the reason is the setup."""
        message = f"The model '{model}' does not exist or you do not have access to it."
        if len(self.renderers) == 1:
            builtin = ", ".join(self.by_model)
            message = (
                f"No provider is set up for the model '{model}': this server makes only "
                f"{builtin} itself. Its operator adds providers with NOVISURF_PROVIDERS_FILE "
                "or NOVISURF_UPSTREAM_BASE."
            )
        return ProtocolError(message, status=404, param="model", code="model_not_found")

    def spec(self, model: str) -> ModelSpec:
        """What ``model`` takes; an alias takes what its first model takes."""
        routes = self.routes(model)
        if not routes:
            return MODELS.get(model) or replace(MODELS[next(iter(MODELS))], id=model)
        first = routes[0]
        spec = first.renderer.spec(first.model)
        return replace(spec, id=model) if model != first.model else spec

    def listed(self) -> list[ListedModel]:
        """Exactly the models that can answer: built in, each provider's, the aliases."""
        listed: dict[str, ListedModel] = {}
        for model, renderer in self.by_model.items():
            listed[model] = self._listed(model, renderer)
        if self.catch_all is not None:
            for spec in MODELS.values():
                if not spec.procedural and spec.id not in listed:
                    listed[spec.id] = self._listed(spec.id, self.catch_all)
        for name, targets in self.aliases.items():
            routes = self.routes(name)
            if routes:
                first = self._listed(routes[0].model, routes[0].renderer)
                listed[name] = replace(
                    first,
                    id=name,
                    provider=routes[0].renderer.name,
                    spec=replace(first.spec, id=name),
                    alias_of=targets,
                )
        return list(listed.values())

    def _listed(self, model: str, renderer: Renderer) -> ListedModel:
        spec = renderer.spec(model)
        return ListedModel(
            id=model,
            provider=renderer.name,
            spec=spec,
            streams=renderer.previews_for(model),
            edits=spec.edits and renderer.edits,
        )

    # -- serving ----------------------------------------------------------------------

    def render(self, request: GenerationRequest) -> RenderResult:
        def attempt(route: Route) -> RenderResult:
            with self._slot(route.renderer), _provider_errors(route.renderer):
                result = route.renderer.render(_for(request, route))
            result.provider = route.renderer.name
            return result

        return self._each(request, attempt)

    def stream(self, request: GenerationRequest) -> RoutedStream:
        def attempt(route: Route) -> RoutedStream:
            slot = self._slot(route.renderer)
            slot.__enter__()
            try:
                with _provider_errors(route.renderer):
                    events = route.renderer.stream(_for(request, route))
            except BaseException:
                slot.__exit__(None, None, None)
                raise
            return RoutedStream(events, provider=route.renderer.name, release=slot)

        return self._each(request, attempt)

    def _each(self, request: GenerationRequest, attempt):
        routes = self.routes(request.model)
        if not routes:
            raise self.unknown_model(request.model)
        for number, route in enumerate(routes, start=1):
            try:
                return attempt(route)
            except ProtocolError as error:
                if number == len(routes) or error.status not in RETRYABLE_STATUSES:
                    raise
        raise AssertionError("unreachable")

    def _slot(self, renderer: Renderer):
        semaphore = self._slots.get(renderer.name)
        if semaphore is None:
            return contextlib.nullcontext()
        return _Slot(semaphore, renderer)


class _Slot:
    def __init__(self, semaphore: threading.BoundedSemaphore, renderer: Renderer) -> None:
        self.semaphore = semaphore
        self.renderer = renderer
        self.held = False

    def __enter__(self) -> _Slot:
        if not self.semaphore.acquire(timeout=min(SLOT_WAIT_SECONDS, self.renderer.config.timeout)):
            raise ProviderBusy(
                f"{self.renderer.label}: {self.renderer.config.max_concurrency} requests are "
                "already in flight, the most it takes at once; try again shortly.",
                status=429,
                type="requests",
                code="provider_busy",
                retry_after=1,
            )
        self.held = True
        return self

    def __exit__(self, *exc) -> None:
        if self.held:
            self.held = False
            self.semaphore.release()


class RoutedStream:
    """A stream's events, the provider that serves them, and its slot, held until the end."""

    def __init__(self, events: Iterator[StreamEvent], *, provider: str, release=None) -> None:
        self._events = events
        self.provider = provider
        self._release = release

    def __iter__(self) -> Iterator[StreamEvent]:
        return self

    def __next__(self) -> StreamEvent:
        try:
            return next(self._events)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        close = getattr(self._events, "close", None)
        try:
            if close is not None:
                close()
        finally:
            if self._release is not None:
                self._release.__exit__(None, None, None)
                self._release = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


def _for(request: GenerationRequest, route: Route) -> GenerationRequest:
    """The request as the route's provider is asked it: an alias's model by its own name."""
    if route.model == request.model:
        return request
    return replace(request, model=route.model, model_spec=route.renderer.spec(route.model))


@contextlib.contextmanager
def _provider_errors(renderer: Renderer) -> Iterator[None]:
    """A renderer's failures as the OpenAI error envelope with the status a caller can act on."""
    try:
        with _client_errors(renderer.label):
            yield
    except ProtocolError as error:
        # The answer names the provider that failed, as it names the one that served.
        error.provider = getattr(error, "provider", None) or renderer.name
        raise


@contextlib.contextmanager
def _client_errors(label: str) -> Iterator[None]:
    try:
        yield
    except RateLimited as exc:
        raise ProtocolError(
            f"{label}: {exc.message}",
            status=429,
            code="rate_limit_exceeded",
            type="requests",
            retry_after=exc.retry_after,
        ) from exc
    except EndpointTimeout as exc:
        raise ProtocolError(
            f"{label}: {exc.message}", status=504, code="upstream_timeout", type="server_error"
        ) from exc
    except EndpointError as exc:
        if exc.status in (401, 403):
            # Our key for the provider is wrong: not the caller's fault, and not theirs to fix.
            raise ProtocolError(
                f"{label}: {exc.message}", status=502, code="upstream_auth", type="server_error"
            ) from exc
        status = exc.status or 400
        raise ProtocolError(
            f"{label}: {exc.message}",
            status=status,
            param=exc.param,
            code=exc.code,
            type="server_error" if status >= 500 else "invalid_request_error",
        ) from exc
    except ClientError as exc:
        raise ProtocolError(
            f"{label}: {exc.message}", status=502, code="upstream_error", type="server_error"
        ) from exc


# -- the table from the settings ------------------------------------------------------------

_lock = threading.Lock()
_cached: tuple[tuple, Router] | None = None


def _settings_key() -> tuple:
    path = getattr(settings, "NOVISURF_PROVIDERS_FILE", "") or ""
    stamp = None
    if path:
        with contextlib.suppress(OSError):
            from pathlib import Path

            stamp = Path(path).stat().st_mtime_ns
    return (
        path,
        stamp,
        settings.NOVISURF_UPSTREAM_BASE,
        settings.NOVISURF_UPSTREAM_KEY,
        settings.NOVISURF_UPSTREAM_AUTH_HEADER,
        settings.NOVISURF_UPSTREAM_TIMEOUT,
    )


def upstream_config() -> ProviderConfig | None:
    """The ``NOVISURF_UPSTREAM_*`` settings as a provider of kind ``openai``, if set."""
    if not settings.NOVISURF_UPSTREAM_BASE:
        return None
    return ProviderConfig(
        name=UPSTREAM_PROVIDER,
        kind="openai",
        base_url=settings.NOVISURF_UPSTREAM_BASE,
        api_key=settings.NOVISURF_UPSTREAM_KEY,
        auth_header=settings.NOVISURF_UPSTREAM_AUTH_HEADER,
        timeout=settings.NOVISURF_UPSTREAM_TIMEOUT,
        max_concurrency=getattr(settings, "NOVISURF_UPSTREAM_MAX_CONCURRENCY", 8),
    )


def providers_file(*, open_models: bool = False) -> ProvidersFile | None:
    path = getattr(settings, "NOVISURF_PROVIDERS_FILE", "")
    return providers_file_load(path, open_models=open_models) if path else None


def router_build() -> Router:
    """The router the settings describe; :class:`ProviderConfigError` when they are wrong."""
    load_kinds()
    builtin = KINDS["builtin"].default()
    upstream = upstream_config()
    # With the upstream taking every other model, an alias may name any model.
    loaded = providers_file(open_models=upstream is not None)
    renderers: list[Renderer] = [builtin]
    aliases: tuple[AliasConfig, ...] = ()
    if loaded is not None:
        renderers += [KINDS[config.kind](config) for config in loaded.providers]
        aliases = loaded.aliases
    catch_all = KINDS["openai"](upstream) if upstream else None
    if catch_all is not None and catch_all.name in {r.name for r in renderers}:
        raise ProviderConfigError(
            f"{loaded.path}: the provider name '{UPSTREAM_PROVIDER}' is taken by the "
            "NOVISURF_UPSTREAM_* settings; name yours otherwise"
        )
    return Router(renderers, aliases, catch_all)


def router() -> Router:
    global _cached
    key = _settings_key()
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
        built = router_build()
        _cached = (key, built)
        return built
