"""Rows for the organising tests: images stored the way a worker stores them, cheaply."""

from __future__ import annotations

import io
import itertools

from PIL import Image as PILImage
from PIL.PngImagePlugin import PngInfo

from gallery import services
from gallery.models import Generation, Image
from novisurf.protocol import PROCEDURAL_MODEL

_colours = itertools.count(1)


def distinct_png(size=(32, 24), *, text: dict | None = None) -> bytes:
    """A PNG whose pixels differ from every other one made here (so content hashes differ)."""
    n = next(_colours)
    colour = (n * 37 % 256, n * 91 % 256, (n // 7) * 53 % 256)
    image = PILImage.new("RGB", size, colour)
    image.putpixel((0, 0), (n % 256, (n >> 8) % 256, (n >> 16) % 256))
    info = None
    if text:
        info = PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def make_images(owner, count: int, *, prompt: str = "a quiet harbour", tags=()) -> list[Image]:
    generation = Generation.objects.create(
        owner=owner,
        prompt=prompt,
        model=PROCEDURAL_MODEL,
        n=min(count, 10),
        size="32x24",
        response_format="b64_json",
        tag_names=list(tags),
        status=Generation.Status.DONE,
    )
    return [
        services.image_store(generation=generation, index=index, data=distinct_png())
        for index in range(count)
    ]
