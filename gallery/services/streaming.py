"""Streamed answers: partial images shown while a model works, the final images, and usage."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

from django.conf import settings

from novisurf.client import (
    Cancelled,
    ClientError,
    EndpointUnavailable,
    ResultItem,
    decode_b64_strict,
)
from novisurf.protocol import MODELS, THUMBNAIL_FORMAT

from .. import imaging
from ..models import GalleryEvent, Generation
from ..provider_client import endpoint_client, model_streams
from .events import event_emit

logger = logging.getLogger(__name__)

# Partial images the page shows while a streaming model works: how many, and how big.
PARTIAL_IMAGES = 2
PARTIAL_PREVIEW_SIDE = 256


def streams(generation: Generation) -> bool:
    """Stream when the endpoint said the model sends partial images (its model list), and the
    format can be streamed. A model it said nothing about is asked for a plain answer: many
    OpenAI-compatible servers ignore ``stream``.

    Not the built-in renderer: it answers in milliseconds, and its partial images (each a
    full-size picture to draw, send, decode and shrink) would cost several times the image
    itself for a preview nobody has time to see.
    """
    spec = MODELS.get(generation.model)
    options = generation.options or {}
    return (
        not (spec is not None and spec.procedural)
        and options.get("partial_images", PARTIAL_IMAGES) != 0
        and options.get("output_format") not in ("gif", "svg")
        and model_streams(generation.model)
    )


def generate_streaming(
    generation: Generation, request: dict, indexes, stop: Callable[[], bool]
) -> tuple[list, dict | None]:
    """The images of a streamed generation; each partial image on the way becomes a
    ``partial`` event carrying a small preview (in the thumbnails' format), for the generation page."""
    request = {k: v for k, v in request.items() if k not in ("stream", "response_format")}
    request.setdefault("partial_images", PARTIAL_IMAGES)
    events = endpoint_client(stop=stop).generate_stream(**request)
    return read_stream(generation, events, indexes, stop)


def read_stream(
    generation: Generation, events, indexes, stop: Callable[[], bool] = lambda: False
) -> tuple[list, dict | None]:
    indexes = list(indexes)
    cap = settings.NOVISURF_MAX_IMAGE_BYTES
    items: list[ResultItem] = []
    usages: list[dict] = []
    for event in events:
        if stop():
            # Closing the stream closes the connection: the provider sees the client leave.
            close = getattr(events, "close", None)
            if close is not None:
                close()
            raise Cancelled("Cancelled while the image stream was open.")
        payload = event.json()
        kind = (payload.get("type") if isinstance(payload, dict) else None) or event.event or ""
        if kind == "error" or (isinstance(payload, dict) and payload.get("error")):
            error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
            raise EndpointUnavailable(error.get("message") or "The image stream failed.")
        if not isinstance(payload, dict) or len(items) >= len(indexes):
            continue
        if kind.endswith(".partial_image"):
            _emit_partial(generation, payload, index=indexes[len(items)])
        elif kind.endswith(".completed"):
            items.append(_completed_item(payload, index=len(items), cap=cap))
            if isinstance(payload.get("usage"), dict):
                usages.append(payload["usage"])
    if not items:
        raise EndpointUnavailable("The image stream ended before any image was complete.")
    return items, _summed_usage(usages)


def _completed_item(payload: dict, *, index: int, cap: int) -> ResultItem:
    """A completed image: its base64, or, where a plain JSON answer came back to the stream
    request, its ``url`` downloaded now."""
    if not payload.get("b64_json") and isinstance(payload.get("url"), str):
        item = ResultItem(index=index, source="url", url=payload["url"])
        try:
            item.data = endpoint_client().download(payload["url"])
        except ClientError as exc:
            item.error = exc.message
        return item
    item = ResultItem(index=index, source="b64_json")
    if "b64_json" not in payload:
        item.error = "The endpoint sent an image with neither 'b64_json' nor 'url'."
        return item
    try:
        item.data = decode_b64_strict(str(payload["b64_json"] or ""), cap)
    except ValueError as exc:
        item.error = str(exc)
    return item


def _emit_partial(generation: Generation, payload: dict, *, index: int) -> None:
    try:
        data = decode_b64_strict(
            str(payload.get("b64_json", "")), settings.NOVISURF_MAX_IMAGE_BYTES
        )
        verified = imaging.verify(data, max_pixels=settings.NOVISURF_MAX_IMAGE_PIXELS)
        preview, width, height = imaging.thumbnail(verified.image, max_side=PARTIAL_PREVIEW_SIDE)
    except (ValueError, imaging.ImageRejected) as exc:
        logger.info("A partial image of %s was not shown: %s", generation.pk, exc)
        return
    event_emit(
        owner_id=generation.owner_id,
        kind=GalleryEvent.Kind.PARTIAL,
        generation_id=generation.pk,
        payload={
            "index": index,
            "partial_image_index": payload.get("partial_image_index"),
            "width": width,
            "height": height,
            "data_url": f"data:{THUMBNAIL_FORMAT.content_type};base64,"
            + base64.b64encode(preview).decode("ascii"),
        },
    )


def _summed_usage(usages: list[dict]) -> dict | None:
    """One image's usage as sent; several images' token counts added up, each kept."""
    if not usages:
        return None
    if len(usages) == 1:
        return usages[0]
    total = {
        name: sum(u.get(name) or 0 for u in usages if isinstance(u.get(name), int))
        for name in ("input_tokens", "output_tokens", "total_tokens")
    }
    return {**total, "per_image": usages}


def record_usage(generation: Generation, usage) -> None:
    """Keep the ``usage`` the answer carried, and its token counts as columns to sum."""
    if not isinstance(usage, dict):
        return
    generation.usage = usage
    for name in ("input_tokens", "output_tokens", "total_tokens"):
        value = usage.get(name)
        # A count the column cannot hold (2**70 from a broken provider) is not kept as a column.
        fits = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
        setattr(generation, name, value if fits else None)
    generation.save(update_fields=["usage", "input_tokens", "output_tokens", "total_tokens"])
