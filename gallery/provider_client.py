"""The gallery's way to the image endpoint: a client from settings, and the models it offers.

The gallery reaches an endpoint only over HTTP, through :mod:`novisurf.client`, whether that
endpoint is this site's own or a provider's.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django_tasks import TaskResultStatus

from novisurf.client import ClientConfig, ClientError, ImageClient
from novisurf.protocol import DEFAULT_MODEL, MODELS

from . import tasks

logger = logging.getLogger(__name__)
MODELS_CACHE_SECONDS = 300
# A model's dated snapshot (gpt-image-2-2026-04-21): offered only where an endpoint lists it.
DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")
# This thread's newest client: a generation's task reads which provider answered without the
# client being passed through every path (plain, streamed, edit).
_made = threading.local()
IMAGE_MODEL_HINTS = ("image", "dall-e", "flux", "diffusion", "sdxl", "imagen", "procedural")


def endpoint_client(
    *,
    read_timeout: float | None = None,
    max_retries: int = 3,
    stop: Callable[[], bool] | None = None,
) -> ImageClient:
    client = ImageClient(
        ClientConfig(
            base_url=settings.NOVISURF_API_BASE,
            api_key=settings.NOVISURF_API_KEY,
            auth_header=settings.NOVISURF_AUTH_HEADER,
            read_timeout=read_timeout or settings.NOVISURF_API_TIMEOUT,
            max_retries=max_retries,
            max_download_bytes=settings.NOVISURF_MAX_IMAGE_BYTES,
        ),
        stop=stop,
    )
    _made.client = client
    return client


def answered_provider() -> str:
    """The provider the last answer of this thread's newest client named (the endpoint's
    ``x-novisurf-provider``), or ""."""
    client = getattr(_made, "client", None)
    headers = getattr(client, "last_headers", None) or {}
    return str(headers.get("x-novisurf-provider", ""))[:100]


def forget_answers() -> None:
    _made.client = None


def _models_cache_key() -> str:
    return f"novisurf:models:v2:{settings.NOVISURF_API_BASE}"


def models_refresh() -> list[dict]:
    """Ask the endpoint which image models it offers, and what each can do, and keep the answer
    in the cache.

    Run by a task (``tasks.models_refresh``) or by a generation's own task, never while a page is
    being built. A model streams (sends partial images) only where the endpoint's model object
    says ``"streams": true``, as this site's own endpoint does: a provider that says nothing is
    asked for plain answers. An endpoint that lists no models gets OpenAI's current ones offered.
    """
    try:
        listed = endpoint_client(read_timeout=5, max_retries=0).list_models()
    except ClientError as exc:
        logger.info("The endpoint did not list its models (%s); offering the known ones.", exc)
        listed = []
    models = [
        {"id": m["id"], "name": m.get("name"), "streams": m.get("streams") is True}
        for m in listed
        if m["id"] in MODELS
        or m.get("streams") is not None  # this site's endpoint: every model it lists is one
        or any(hint in m["id"].lower() for hint in IMAGE_MODEL_HINTS)
    ]
    _models_keep(models)
    return models


def _models_keep(models: list[dict]) -> None:
    cache.set(_models_cache_key(), models, MODELS_CACHE_SECONDS if models else 30)


def _listed_models() -> list[dict] | None:
    """The endpoint's models from this process's cache, or from the refresh task's result (the
    task may have run in a worker, whose cache is its own): a database read, no network."""
    models = cache.get(_models_cache_key())
    if models is not None:
        return models
    result_id = cache.get(f"{_models_cache_key()}:result")
    if not result_id:
        return None
    try:
        result = tasks.models_refresh.get_result(result_id)
    except Exception:  # gone, or a backend that keeps no results
        return None
    if result.status != TaskResultStatus.SUCCESSFUL or not isinstance(result.return_value, list):
        return None
    _models_keep(result.return_value)
    return result.return_value


def model_streams(model_id: str) -> bool:
    """Whether to ask ``model_id`` to stream: where the endpoint's list says it sends partial
    images; before any list, where the protocol table says so. A model neither knows is asked
    for a plain answer (many OpenAI-compatible servers ignore ``stream``)."""
    models = _listed_models()
    if models is None:
        spec = MODELS.get(model_id)
        return spec is not None and spec.streams
    return any(m["id"] == model_id and m["streams"] for m in models)


def model_choices() -> list[tuple[str, str]]:
    """``(id, label)`` for the form: what the endpoint listed, from the cache. While the cache is
    cold, the built-in model only (a task is asked to fill it); when the endpoint lists no models,
    OpenAI's current ones. Never a network call."""
    models = _listed_models()
    if models is None:
        _refresh_soon()
        ids = [DEFAULT_MODEL]
    elif not models:
        ids = [
            spec.id
            for spec in MODELS.values()
            if not spec.procedural and not spec.retired and not DATED.search(spec.id)
        ]
    else:
        ids = [m["id"] for m in models]
    names = {m["id"]: m.get("name") for m in models or []}
    return [(model_id, model_label(model_id, names.get(model_id))) for model_id in ids]


def _refresh_soon() -> None:
    # One refresh at a time: the marker lives as long as a failed answer is cached.
    if not cache.add(f"{_models_cache_key()}:refreshing", True, 30):
        return
    try:
        result = tasks.models_refresh.enqueue()
        cache.set(f"{_models_cache_key()}:result", result.id, MODELS_CACHE_SECONDS)
    except Exception:  # a task backend that is down must not take the form with it
        logger.exception("Could not enqueue the model list refresh.")


def model_label(model_id: str, listed_name: str | None = None) -> str:
    spec = MODELS.get(model_id)
    return spec.title if spec else listed_name or model_id
