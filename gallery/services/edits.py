"""Edits: a new generation made from one of the owner's images, a prompt and an optional mask.

The edit is saved (with its mask in storage) and queued like any generation; the worker sends
the parent's original bytes and the mask to the endpoint's ``/v1/images/edits`` (see
``runner``), and the images it stores link back to the parent through
``Generation.parent_image``.
"""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image as PILImage

from novisurf import imaging
from novisurf.client import FilePart
from novisurf.protocol import PROCEDURAL_MODEL, spec_for

from ..models import Generation, Image, mask_upload_to
from .files import files_delete_now, files_journal_settle, files_journal_writing, storage
from .queue import generation_create

# A mask is one PNG the size of the image; no honest one is larger than this.
MAX_MASK_BYTES = 32 * 1024 * 1024


class EditSourceMissing(Exception):
    """The image an edit starts from is gone (deleted for good, or its file lost)."""


class EditRejected(Exception):
    """An edit that cannot be made as asked; the message says why, for a person."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def edit_model_for(*, image: Image) -> str:
    """The model an edit of ``image`` uses unless the person picks one: the one that made it
    where that model edits, else the built-in renderer."""
    spec = spec_for(image.model)
    return image.model if spec.id and spec.edits else PROCEDURAL_MODEL


def edit_create(
    *,
    owner,
    image: Image,
    prompt: str,
    mask: bytes | None = None,
    model: str | None = None,
    n: int = 1,
) -> Generation:
    """Save and queue an edit of ``image`` (which must be the owner's). ``mask``: a PNG of the
    image's size whose transparent pixels mark what may change (OpenAI's convention)."""
    if image.owner_id != owner.pk:
        raise EditRejected("No such image.")
    prompt = (prompt or "").strip()
    if not prompt:
        raise EditRejected("Say what to change.", field="prompt")
    model = model or edit_model_for(image=image)
    spec = spec_for(model)
    if not spec.edits:
        raise EditRejected(f"{spec.title or model} cannot edit images.", field="model")
    if mask is not None:
        mask_check(mask, size=(image.width, image.height))
    # The edit keeps the image's size where the model can ("auto"), else the model's default.
    size = "auto" if "auto" in spec.sizes or not spec.id else spec.default_size
    response_format = "b64_json"
    if mask is None:
        return generation_create(
            owner=owner,
            prompt=prompt,
            model=model,
            n=n,
            size=size,
            response_format=response_format,
            tags=[],
            kind=Generation.Kind.EDIT,
            parent_image=image,
        )
    # The mask is written before the row that names it is committed: journalled, so that a
    # process that dies in between leaves nothing behind (the sweeper removes it).
    name = mask_upload_to(None, "mask.png")
    journal = files_journal_writing(names=[name])
    written = ""
    try:
        written = storage().save(name, ContentFile(mask))
        with transaction.atomic():
            generation = generation_create(
                owner=owner,
                prompt=prompt,
                model=model,
                n=n,
                size=size,
                response_format=response_format,
                tags=[],
                kind=Generation.Kind.EDIT,
                parent_image=image,
            )
            Generation.objects.filter(pk=generation.pk).update(mask=written)
            generation.mask.name = written
            files_journal_settle(entry_ids=journal)
    except Exception:
        files_delete_now(names=[written])
        files_journal_settle(entry_ids=journal)
        raise
    return generation


def mask_check(data: bytes, *, size: tuple[int, int]) -> None:
    """A PNG of exactly ``size`` with at least one transparent pixel, or :class:`EditRejected`."""
    if len(data) > MAX_MASK_BYTES:
        raise EditRejected("The mask is too large a file.", field="mask")
    try:
        mask = PILImage.open(io.BytesIO(data))
        if mask.format != "PNG":
            raise EditRejected(
                f"The mask must be a PNG (this is {mask.format or 'not an image'}).", field="mask"
            )
        if mask.size != size:
            raise EditRejected(
                f"The mask is {mask.width}x{mask.height}; it must be the image's size, "
                f"{size[0]}x{size[1]}.",
                field="mask",
            )
        mask.load()
    except EditRejected:
        raise
    except Exception:
        raise EditRejected("The mask is not a readable PNG.", field="mask") from None
    if "A" not in mask.getbands() and "transparency" not in mask.info:
        raise EditRejected(
            "The mask has no transparency: paint (or leave transparent) what should change.",
            field="mask",
        )
    low, _ = mask.convert("RGBA").getchannel("A").getextrema()
    if low == 255:
        raise EditRejected(
            "The mask has no transparent area: paint what should change.", field="mask"
        )


def edit_files(*, generation: Generation) -> list[FilePart]:
    """The parts of the ``/v1/images/edits`` request: the parent's original (read through
    storage; a PNG of it where the endpoint takes no such format) and the mask."""
    parent = generation.parent_image
    if parent is None:
        raise EditSourceMissing("The image this edit started from has been deleted.")
    try:
        with parent.file.open("rb") as handle:
            original = handle.read()
    except FileNotFoundError:
        raise EditSourceMissing(
            "The file of the image this edit started from is missing."
        ) from None
    try:
        data, content_type = imaging.as_edit_source(
            original, format=parent.format, width=parent.width, height=parent.height
        )
    except imaging.ImageRejected as exc:
        # An SVG too complex to draw (in its bounded child process) cannot be edited.
        raise EditSourceMissing(f"The image cannot be edited: {exc}") from None
    extension = content_type.rsplit("/", 1)[-1]
    parts: list[FilePart] = [("image", (f"image.{extension}", data, content_type))]
    if generation.mask:
        with generation.mask.open("rb") as handle:
            parts.append(("mask", ("mask.png", handle.read(), "image/png")))
    return parts
