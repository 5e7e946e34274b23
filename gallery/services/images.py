"""Images: store what an endpoint sent (verified, byte-exact), tag, delete, download."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from novisurf import imaging
from novisurf.protocol import IMAGE_FORMATS, THUMBNAIL_FORMAT

from ..models import GalleryEvent, Generation, Image, Tag, image_upload_to, thumbnail_upload_to
from .events import event_emit
from .files import files_delete_now, files_journal_settle, files_journal_writing, storage

logger = logging.getLogger(__name__)


def image_store(
    *, generation: Generation, index: int, data: bytes, revised_prompt: str = ""
) -> Image:
    """Verify ``data``, store it exactly as received with a WebP thumbnail, and record it.

    PNG, JPEG, WebP, GIF (an animation keeps moving in its animated WebP thumbnail) and SVG
    (kept as sent; its thumbnail is drawn from a copy with every script and outside reference
    removed).

    Raises :class:`imaging.ImageRejected` for anything that is not a sound image under the
    pixel cap; nothing is written then.
    """
    existing = Image.objects.filter(generation=generation, index=index).first()
    if existing is not None:
        return existing
    verified = imaging.verify(
        data, max_pixels=settings.NOVISURF_MAX_IMAGE_PIXELS, max_frames=settings.NOVISURF_MAX_FRAMES
    )
    thumb_bytes, thumb_w, thumb_h = imaging.thumbnail_for(
        verified, max_side=settings.NOVISURF_THUMBNAIL_SIZE
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
        has_alpha=verified.has_alpha,
        is_animated=verified.is_animated,
        file_size=len(data),
        content_hash=hashlib.sha256(data).hexdigest(),
        prompt=generation.prompt,
        # A provider's text, capped where it is stored (a prompt is at most 32,000 characters).
        revised_prompt=(revised_prompt or "")[:32000],
        model=generation.model,
        size=generation.size,
    )
    return image_save_with_files(
        image,
        original=data,
        extension=verified.extension,
        thumbnail=thumb_bytes,
        tag_names=generation.tag_names,
    )


def image_save_with_files(
    image: Image, *, original: bytes, extension: str, thumbnail: bytes, tag_names: list[str]
) -> Image:
    """Write both files and commit the row, journalling the names so that nothing is orphaned:
    if this process dies between the write and the commit, the sweeper removes the files."""
    file_name = image_upload_to(image, f"original.{extension}")
    image.thumbnail_format = THUMBNAIL_FORMAT.name
    thumb_name = thumbnail_upload_to(image, f"thumbnail.{THUMBNAIL_FORMAT.extension}")
    journal = files_journal_writing(names=[file_name, thumb_name])
    written: list[str] = []
    try:
        written.append(storage().save(file_name, ContentFile(original)))
        written.append(storage().save(thumb_name, ContentFile(thumbnail)))
        image.file.name, image.thumbnail.name = written
        with transaction.atomic():
            image.save()
            if tag_names:
                image.tags.add(*tags_for(owner=image.owner, names=tag_names))
            event_emit(
                owner_id=image.owner_id,
                kind=GalleryEvent.Kind.IMAGE_STORED,
                image_id=image.pk,
                generation_id=image.generation_id,
            )
            files_journal_settle(entry_ids=journal)
    except IntegrityError:
        # Another run stored this item first: keep theirs, drop our files.
        files_delete_now(names=written)
        files_journal_settle(entry_ids=journal)
        return Image.objects.get(generation=image.generation, index=image.index)
    except Exception:
        # Both names, not only those written whole: a write that failed part way (a full
        # disk) may have left a partial file under its name.
        files_delete_now(names=list(dict.fromkeys([*written, file_name, thumb_name])))
        files_journal_settle(entry_ids=journal)
        raise
    return image


def image_delete(*, image: Image) -> None:
    """Delete the row for good; its files go once the deletion commits (see gallery.signals)."""
    with transaction.atomic():
        owner_id, image_id = image.owner_id, image.pk
        image.delete()
        event_emit(owner_id=owner_id, kind=GalleryEvent.Kind.IMAGE_DELETED, image_id=image_id)


def image_favourite_set(*, image: Image, favourite: bool) -> Image:
    with transaction.atomic():
        Image.objects.filter(pk=image.pk).update(is_favourite=favourite)
        image.is_favourite = favourite
        event_emit(owner_id=image.owner_id, kind=GalleryEvent.Kind.IMAGE_CHANGED, image_id=image.pk)
    return image


def tags_for(*, owner, names: list[str]) -> list[Tag]:
    """The owner's tags of these names (any case), made where missing. Tags are per owner:
    one person's tag names and their spelling reveal nothing to another."""
    tags: dict[str, Tag] = {}
    for raw in names:
        name = " ".join(raw.split())[:100]
        if not name or name.lower() in tags:
            continue
        tag = Tag.objects.filter(owner=owner, name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(owner=owner, name=name)
            except IntegrityError:  # made by a concurrent request just now
                tag = Tag.objects.get(owner=owner, name__iexact=name)
        tags[name.lower()] = tag
    return list(tags.values())


def image_tag_add(*, image: Image, names: list[str]) -> Image:
    tags = tags_for(owner=image.owner, names=names)
    if tags:
        with transaction.atomic():
            image.tags.add(*tags)
            event_emit(
                owner_id=image.owner_id, kind=GalleryEvent.Kind.IMAGE_CHANGED, image_id=image.pk
            )
    return image


def image_tag_remove(*, image: Image, name: str) -> Image:
    with transaction.atomic():
        image.tags.remove(*[t for t in image.tags.all() if t.name.lower() == name.lower()])
        event_emit(owner_id=image.owner_id, kind=GalleryEvent.Kind.IMAGE_CHANGED, image_id=image.pk)
    return image


def image_download(*, image: Image) -> tuple[bytes, str]:
    """The original bytes, with the parameters embedded if it is a PNG, and a readable name."""
    with image.file.open("rb") as handle:
        data = handle.read()
    if image.format == "png":
        data = png_with_parameters(image, data)
    extension = IMAGE_FORMATS[image.format].extension
    # An SVG is a document that can carry script: it is only ever a download (see delivery).
    return data, f"{download_stem(image)}.{extension}"


def png_with_parameters(image: Image, data: bytes) -> bytes:
    """A PNG on its way out: a file that came with a ``parameters`` chunk (A1111, Forge, our
    own) goes out byte for byte as it came; any other gets one written from what is known of
    it, and nothing else."""
    if "parameters" in imaging.png_text_keywords(data):
        return data
    return imaging.embed_png_text(data, "parameters", image_parameters(image))


# The parameters of the A1111 layout, in its order, from the one table of what is known.
A1111_KEYS = ("Steps", "Sampler", "Scheduler", "CFG scale", "Seed", "Denoising strength", "VAE")


def image_parameters(image: Image) -> str:
    """The parameters in the layout Stable Diffusion web UI writes and tools read: the prompt,
    ``Negative prompt: ...`` where there is one, then one line of ``Key: value`` pairs (values
    with commas are JSON-quoted). Only what is known: no value is made up to fill the layout."""
    from ..parameters import image_parameters_table

    known = {p.label: p.value for p in image_parameters_table(image)}
    pairs: dict[str, object] = {key: known[key] for key in A1111_KEYS if key in known}
    pairs["Size"] = f"{image.width}x{image.height}"
    pairs["Model"] = image.model
    if image.generation_id:
        pairs["Requested size"] = image.size
        pairs["Revised prompt"] = image.revised_prompt
        pairs["Generator"] = "Novisurf"
    pairs["Created"] = image.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    line = ", ".join(f"{key}: {_quote(str(value))}" for key, value in pairs.items() if value != "")
    negative = known.get("Negative prompt")
    head = f"{image.prompt}\nNegative prompt: {negative}" if negative else image.prompt
    return f"{head}\n{line}"


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
