"""The gallery's way to the image endpoint: a client from settings, and the models it offers.

The gallery reaches an endpoint only over HTTP, through :mod:`novisurf.client`, whether that
endpoint is this site's own or a provider's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

from novisurf.client import ClientConfig, ClientError, ImageClient
from novisurf.protocol import MODELS

from . import tasks

logger = logging.getLogger(__name__)
MODELS_CACHE_SECONDS = 300
IMAGE_MODEL_HINTS = ("image", "dall-e", "flux", "diffusion", "sdxl", "imagen", "procedural")


def endpoint_client(
    *,
    read_timeout: float | None = None,
    max_retries: int = 3,
    stop: Callable[[], bool] | None = None,
) -> ImageClient:
    return ImageClient(
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


def _models_cache_key() -> str:
    return f"novisurf:models:{settings.NOVISURF_API_BASE}"


def models_refresh() -> list[str]:
    """Ask the endpoint which image models it offers and keep the answer in the cache.

    Run by a task (``tasks.models_refresh``), never while a page is being built.
    """
    try:
        listed = endpoint_client(read_timeout=5, max_retries=0).list_models()
    except ClientError as exc:
        logger.info("The endpoint did not list its models (%s); offering the known ones.", exc)
        listed = []
    ids = [
        m["id"]
        for m in listed
        if m["id"] in MODELS or any(hint in m["id"].lower() for hint in IMAGE_MODEL_HINTS)
    ]
    cache.set(_models_cache_key(), ids, MODELS_CACHE_SECONDS if ids else 30)
    return ids


def model_choices() -> list[tuple[str, str]]:
    """``(id, label)`` for the form: what the endpoint listed, from the cache; while the cache is
    cold, every model we know, and a task is asked to fill it. Never a network call."""
    ids = cache.get(_models_cache_key())
    if ids is None:
        _refresh_soon()
        ids = []
    if not ids:
        ids = list(MODELS)
    return [(model_id, model_label(model_id)) for model_id in ids]


def _refresh_soon() -> None:
    # One refresh at a time: the marker lives as long as a failed answer is cached.
    if not cache.add(f"{_models_cache_key()}:refreshing", True, 30):
        return
    try:
        tasks.models_refresh.enqueue()
    except Exception:  # a task backend that is down must not take the form with it
        logger.exception("Could not enqueue the model list refresh.")


def model_label(model_id: str) -> str:
    spec = MODELS.get(model_id)
    return spec.title if spec else model_id
