"""The gallery's workflows: create and run generations, store images, tag, delete, download."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from novisurf.client import ClientError
from novisurf.protocol import accepts_response_format

from . import imaging
from .endpoint import endpoint_client
from .models import Generation, Image

logger = logging.getLogger(__name__)


def generation_create(
    *, owner, prompt: str, model: str, n: int, size: str, response_format: str, tags: list[str]
) -> Generation:
    """Save what was asked for, then queue the work once the row is committed."""
    generation = Generation.objects.create(
        owner=owner,
        prompt=prompt,
        model=model,
        n=n,
        size=size,
        response_format=response_format,
        tag_names=tags,
    )
    _enqueue(generation)
    return generation


def generation_retry(*, generation: Generation) -> Generation:
    """Run a failed (or stuck) generation again, with everything that was typed."""
    if not generation.can_retry:
        return generation
    Generation.objects.filter(pk=generation.pk, status=generation.status).update(
        status=Generation.Status.QUEUED,
        error="",
        item_errors=[],
        started_at=None,
        finished_at=None,
    )
    generation.refresh_from_db()
    _enqueue(generation)
    return generation


def _enqueue(generation: Generation) -> None:
    from .tasks import run_generation

    transaction.on_commit(lambda: run_generation.enqueue(str(generation.pk)))


def generation_run(*, generation_id: str) -> Generation | None:
    """Call the endpoint and keep every image that passes verification.

    Safe to run twice: only a queued generation is claimed, and an image is stored once per
    (generation, index).
    """
    claimed = Generation.objects.filter(pk=generation_id, status=Generation.Status.QUEUED).update(
        status=Generation.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    generation = Generation.objects.select_related("owner").get(pk=generation_id)
    try:
        _generate(generation)
    except Exception:
        logger.exception("Generation %s stopped by an unexpected error", generation.pk)
        _finish(
            generation,
            stored=0,
            item_errors=generation.item_errors,
            error="An unexpected error stopped this generation; the server log has details.",
        )
    return generation


def _generate(generation: Generation) -> None:
    try:
        result = endpoint_client().generate(
            prompt=generation.prompt,
            model=generation.model,
            n=generation.n,
            size=generation.size,
            # The client takes either answer; models that refuse the field are sent none.
            response_format=(
                generation.response_format if accepts_response_format(generation.model) else None
            ),
        )
    except ClientError as exc:
        _finish(generation, stored=0, item_errors=[], error=exc.message)
        return

    stored, item_errors = 0, []
    for item in result.items:
        reason = item.error
        if item.data is not None and reason is None:
            try:
                image_store(
                    generation=generation,
                    index=item.index,
                    data=item.data,
                    revised_prompt=item.revised_prompt or "",
                )
                stored += 1
                continue
            except imaging.ImageRejected as exc:
                reason = str(exc)
        item_errors.append({"index": item.index, "reason": reason})
    error = ""
    if not stored:
        reasons = "; ".join(dict.fromkeys(e["reason"] for e in item_errors))
        error = f"No image could be kept: {reasons}"
    _finish(generation, stored=stored, item_errors=item_errors, error=error)


def _finish(generation: Generation, *, stored: int, item_errors: list, error: str) -> None:
    generation.status = Generation.Status.DONE if stored else Generation.Status.FAILED
    generation.error = error
    generation.item_errors = item_errors
    generation.finished_at = timezone.now()
    generation.save(update_fields=["status", "error", "item_errors", "finished_at"])


def image_store(
    *, generation: Generation, index: int, data: bytes, revised_prompt: str = ""
) -> Image:
    """Verify ``data``, store it exactly as received with a WebP thumbnail, and record it.

    Raises :class:`imaging.ImageRejected` for anything that is not a sound image under the
    pixel cap; nothing is written then.
    """
    existing = Image.objects.filter(generation=generation, index=index).first()
    if existing is not None:
        return existing
    verified = imaging.verify(data, max_pixels=settings.NOVISURF_MAX_IMAGE_PIXELS)
    thumb_bytes, thumb_w, thumb_h = imaging.thumbnail(
        verified.image, max_side=settings.NOVISURF_THUMBNAIL_SIZE
    )
    image = Image(
        owner=generation.owner,
        generation=generation,
        index=index,
        width=verified.width,
        height=verified.height,
        thumbnail_width=thumb_w,
        thumbnail_height=thumb_h,
        format=verified.format.lower(),
        file_size=len(data),
        content_hash=hashlib.sha256(data).hexdigest(),
        prompt=generation.prompt,
        revised_prompt=revised_prompt,
        model=generation.model,
        size=generation.size,
    )
    image.file.save(f"original.{verified.extension}", ContentFile(data), save=False)
    image.thumbnail.save("thumbnail.webp", ContentFile(thumb_bytes), save=False)
    try:
        with transaction.atomic():
            image.save()
            if generation.tag_names:
                image.tags.add(*generation.tag_names)
    except IntegrityError:
        # Another run stored this item first: keep theirs, drop our files.
        _delete_files([image.file.name, image.thumbnail.name])
        return Image.objects.get(generation=generation, index=index)
    except Exception:
        _delete_files([image.file.name, image.thumbnail.name])
        raise
    return image


def image_delete(*, image: Image) -> None:
    """Delete the row now and its files once the deletion has committed."""
    names = [image.file.name, image.thumbnail.name]
    with transaction.atomic():
        image.delete()
        transaction.on_commit(lambda: _delete_files(names))


def _delete_files(names: list[str]) -> None:
    storage = Image._meta.get_field("file").storage
    for name in names:
        if name:
            try:
                storage.delete(name)
            except OSError:
                logger.warning("Could not delete %s", name, exc_info=True)


def image_tag_add(*, image: Image, names: list[str]) -> Image:
    names = [name.strip()[:100] for name in names if name.strip()]
    if names:
        image.tags.add(*names)
    return image


def image_tag_remove(*, image: Image, name: str) -> Image:
    image.tags.remove(*[t for t in image.tags.all() if t.name.lower() == name.lower()])
    return image


def image_download(*, image: Image) -> tuple[bytes, str]:
    """The original bytes, with the parameters embedded if it is a PNG, and a readable name."""
    with image.file.open("rb") as handle:
        data = handle.read()
    if image.format == "png":
        data = imaging.embed_png_text(data, "parameters", image_parameters(image))
    extension = {"jpeg": "jpg"}.get(image.format, image.format)
    return data, f"{download_stem(image)}.{extension}"


def image_parameters(image: Image) -> str:
    """The generation's parameters in the layout Stable Diffusion web UI writes and tools read:
    the prompt, then one line of ``Key: value`` pairs (values with commas are JSON-quoted)."""
    pairs = {
        "Size": f"{image.width}x{image.height}",
        "Model": image.model,
        "Seed": image.index,
        "Requested size": image.size,
        "Revised prompt": image.revised_prompt,
        "Generator": "Novisurf",
        "Created": image.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
    line = ", ".join(f"{key}: {_quote(str(value))}" for key, value in pairs.items() if value != "")
    return f"{image.prompt}\n{line}"


def _quote(value: str) -> str:
    return (
        json.dumps(value, ensure_ascii=False)
        if ("," in value or ":" in value or '"' in value or "\n" in value)
        else value
    )


def download_stem(image: Image) -> str:
    words = unicodedata.normalize("NFKD", image.prompt).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:60].rstrip("-") or "image"
    return f"novisurf-{slug}-{image.id.hex[:8]}"
