"""Keeping what the endpoint answered: an API call's images become a generation of the key's
owner, made in the background from the bytes the endpoint handed over.

The endpoint announces an answer through ``novisurf_site.keeping.images_answered`` (the site
wires it here); :func:`answer_enqueue` only enqueues, so that the answer is never delayed. The
task (:func:`answer_keep`) runs as often as it must: the generation's id is the answer's, and an
image already stored at its index is kept as it is, so a retry after a storage fault stores the
rest and nothing twice.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from novisurf_site.keeping import AnsweredImages

from .. import imaging
from ..models import Generation, Image
from .files import files_delete_on_commit, storage
from .images import image_store
from .queue import generation_emit

logger = logging.getLogger(__name__)

# A storage fault is retried this many times, waiting 1, 2, 4 ... up to 5 minutes between tries.
KEEP_ATTEMPTS = 10
KEEP_MAX_DELAY = 300


def answer_enqueue(*, answered: AnsweredImages) -> None:
    """Queue the keeping of an answer (what the endpoint's announcement does here)."""
    _enqueue(answered.to_json(), attempt=0, delay=None)


def _enqueue(answered: dict, *, attempt: int, delay: float | None) -> None:
    from ..tasks import answer_keep as keep_task

    task = keep_task
    if delay and task.get_backend().supports_defer:
        task = task.using(run_after=timezone.now() + timedelta(seconds=delay))
    task.enqueue(answered, attempt)


def answer_keep_or_retry(*, answered: dict, attempt: int = 0) -> Generation | None:
    """Keep the answer; on a fault (storage down, database busy) log it and try again later."""
    try:
        return answer_keep(answered=AnsweredImages.from_json(answered))
    except Exception:
        if attempt + 1 >= KEEP_ATTEMPTS:
            logger.exception("Gave up keeping API answer %s", answered.get("answer_id"))
            _drop_handed_off(answered)
            return None
        delay = min(KEEP_MAX_DELAY, 2**attempt)
        logger.warning(
            "Could not keep API answer %s yet (try %s); trying again in %s s",
            answered.get("answer_id"),
            attempt + 1,
            delay,
            exc_info=True,
        )
        _enqueue(answered, attempt=attempt + 1, delay=delay)
        return None


def answer_keep(*, answered: AnsweredImages) -> Generation | None:
    """Make (or complete) the generation of an API answer: its images verified and stored with
    their thumbnails, its page naming the key, live on the owner's pages."""
    owner = get_user_model().objects.filter(pk=answered.owner_id, is_active=True).first()
    if owner is None:  # the owner left meanwhile: nothing to keep, nothing to leave behind
        _drop_handed_off(answered.to_json())
        return None
    generation = _generation_for(answered, owner)
    item_errors = []
    handed_off = []
    for index, handed in enumerate(answered.images):
        if handed.storage_name and handed.owned:
            handed_off.append(handed.storage_name)
        if Image.objects.filter(generation=generation, index=index).exists():
            continue
        try:
            image_store(
                generation=generation,
                index=index,
                data=_bytes_of(handed),
                revised_prompt=handed.revised_prompt,
            )
        except imaging.ImageRejected as exc:
            item_errors.append({"index": index, "reason": str(exc)})
        except FileNotFoundError:
            item_errors.append({"index": index, "reason": "the answered image was lost"})
    with transaction.atomic():
        stored = generation.images.count()
        generation.status = Generation.Status.DONE if stored else Generation.Status.FAILED
        generation.item_errors = item_errors
        generation.error = "" if stored else "No image of this API answer could be kept."
        generation.finished_at = timezone.now()
        generation.save(update_fields=["status", "item_errors", "error", "finished_at"])
        generation_emit(generation)
        files_delete_on_commit(names=handed_off)
    return generation


def _drop_handed_off(answered: dict) -> None:
    names = [
        image.get("storage_name")
        for image in answered.get("images", [])
        if image.get("owned") and image.get("storage_name")
    ]
    try:
        files_delete_on_commit(names=names)
    except Exception:
        logger.exception("Could not delete the hand-off files of API answer %s", names)


def _generation_for(answered: AnsweredImages, owner) -> Generation:
    existing = Generation.objects.filter(pk=answered.answer_id).first()
    if existing is not None:
        return existing
    usage = answered.usage if isinstance(answered.usage, dict) else None
    with transaction.atomic():
        generation, created = Generation.objects.get_or_create(
            pk=answered.answer_id,
            defaults={
                "owner": owner,
                "prompt": answered.prompt,
                "model": answered.model,
                "n": answered.n,
                "size": answered.size,
                "response_format": answered.response_format,
                "options": answered.options,
                "kind": (
                    Generation.Kind.EDIT if answered.kind == "edit" else Generation.Kind.GENERATE
                ),
                "parent_image": _parent(owner, answered.input_hashes),
                "status": Generation.Status.RUNNING,
                "started_at": timezone.now(),
                "source": Generation.Source.API,
                "api_key_id": answered.key_id,
                "api_key_name": answered.key_name[:100],
                "provider": answered.provider[:100],
                "cost": _decimal(answered.cost),
                "usage": usage,
                **_token_columns(usage),
            },
        )
        if created:
            generation_emit(generation)
    return generation


def _parent(owner, input_hashes: list[str]) -> Image | None:
    """The owner's image that an edit started from, if it is one of theirs (the first input
    that is)."""
    for content_hash in input_hashes:
        image = (
            Image.objects.filter(owner=owner, content_hash=content_hash)
            .order_by("created_at", "id")
            .first()
        )
        if image is not None:
            return image
    return None


def _bytes_of(handed) -> bytes:
    if handed.b64:
        try:
            return base64.b64decode(handed.b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise imaging.ImageRejected(f"the image travelled damaged: {exc}") from None
    with storage().open(handed.storage_name, "rb") as handle:
        return handle.read()


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


def _token_columns(usage: dict | None) -> dict:
    usage = usage or {}
    return {
        name: value if isinstance(value, int) and value >= 0 else None
        for name in ("input_tokens", "output_tokens", "total_tokens")
        for value in [usage.get(name)]
    }
