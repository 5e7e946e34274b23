"""Take images out as one ZIP, streamed as it is written.

zipstream-ng writes each member while it is read and keeps only the central directory (a
hundred-odd bytes per member) until the end; images are read one at a time, rows come from the
database in chunks, and ``metadata.json`` is written from a second pass over the same rows, so
that memory does not grow with the number of images. Members are stored, not deflated: the
images are compressed already, and deflating them again would cost CPU for nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator

from django.db.models import QuerySet
from zipstream import ZIP_STORED, ZipStream

from novisurf.protocol import IMAGE_FORMATS

from ..models import BoardImage, Image, TaggedImage
from .images import png_with_parameters

CHUNK_ROWS = 200
READ_SIZE = 256 * 1024


def _rows(images: QuerySet[Image]) -> Iterator[Image]:
    # No prefetch_related: prefetched tags point back at their image, and those reference
    # cycles wait for the cyclic garbage collector, so memory would grow with the rows read.
    # The generation comes along in the same query: a PNG's parameters read it.
    return (
        images.prefetch_related(None)
        .select_related("generation")
        .order_by("-created_at", "-id")
        .iterator(chunk_size=CHUNK_ROWS)
    )


def _batches(images: QuerySet[Image]) -> Iterator[tuple[Image, list[str], list[str]]]:
    """Rows with their tag and board names, fetched per chunk of rows (two queries a chunk)."""
    batch: list[Image] = []
    for image in _rows(images):
        batch.append(image)
        if len(batch) == CHUNK_ROWS:
            yield from _named(batch)
            batch = []
    yield from _named(batch)


def _named(batch: list[Image]) -> Iterator[tuple[Image, list[str], list[str]]]:
    if not batch:
        return
    ids = [image.pk for image in batch]
    tags: dict = {}
    for image_id, name in TaggedImage.objects.filter(content_object_id__in=ids).values_list(
        "content_object_id", "tag__name"
    ):
        tags.setdefault(image_id, []).append(name)
    boards: dict = {}
    for image_id, name in BoardImage.objects.filter(image_id__in=ids).values_list(
        "image_id", "board__name"
    ):
        boards.setdefault(image_id, []).append(name)
    for image in batch:
        yield (
            image,
            sorted(tags.get(image.pk, []), key=str.lower),
            sorted(boards.get(image.pk, []), key=str.lower),
        )


def archive_slug(text: str) -> str:
    words = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:60].rstrip("-") or "image"


def member_name(position: int, width: int, image: Image) -> str:
    """``0007-a-lighthouse-on-a-cliff.png``: readable, in the listing's order, and unique by
    its number whatever the prompts."""
    extension = IMAGE_FORMATS[image.format].extension
    return f"{position:0{width}d}-{archive_slug(image.prompt)}.{extension}"


def _original(image: Image, handle) -> Iterator[bytes]:
    """The stored bytes; a PNG gets its ``parameters`` chunk (one image in memory at a time,
    as the single download does); other formats are copied in chunks."""
    with handle:
        if image.format == "png":
            yield png_with_parameters(image, handle.read())
            return
        while chunk := handle.read(READ_SIZE):
            yield chunk


def _metadata(image: Image, name: str, tags: list[str], boards: list[str]) -> dict:
    return {
        "file": name,
        "id": str(image.pk),
        "prompt": image.prompt,
        "revised_prompt": image.revised_prompt,
        "model": image.model,
        "size": f"{image.width}x{image.height}",
        "requested_size": image.size,
        "format": image.format,
        "favourite": image.is_favourite,
        "tags": tags,
        "boards": boards,
        "created": image.created_at.isoformat(),
        "generation": str(image.generation_id) if image.generation_id else None,
        "settings": image.metadata or None,
    }


def _metadata_json(images: QuerySet[Image], width: int) -> Iterator[bytes]:
    yield b'{"images": [\n'
    for position, (image, tags, boards) in enumerate(_batches(images), start=1):
        name = member_name(position, width, image)
        entry = json.dumps(_metadata(image, name, tags, boards), ensure_ascii=False)
        yield (entry if position == 1 else ",\n" + entry).encode()
    yield b"\n]}\n"


def images_zip(*, images: QuerySet[Image]) -> Iterator[bytes]:
    """The ZIP of ``images`` (newest first) and their ``metadata.json``, as chunks of bytes."""
    total = images.order_by().count()
    width = max(4, len(str(total)))
    archive = ZipStream(compress_type=ZIP_STORED)
    for position, image in enumerate(_rows(images), start=1):
        try:
            handle = image.file.storage.open(image.file.name, "rb")
        except (FileNotFoundError, OSError):
            continue  # a row without its file (checkstorage reports those): skip, not abort
        archive.add(_original(image, handle), member_name(position, width, image))
        yield from archive.all_files()
    archive.add(_metadata_json(images, width), "metadata.json")
    yield from archive.finalize()


def coalesce(chunks: Iterator[bytes], size: int = READ_SIZE) -> Iterator[bytes]:
    """Fewer, bigger writes: zipstream yields headers of a few dozen bytes between members."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)
