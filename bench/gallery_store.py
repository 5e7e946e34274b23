"""gallery.services.image_store of one PNG against raw Pillow decoding it and making the thumbnail."""

from __future__ import annotations

import io
import itertools

from django.conf import settings
from PIL import Image as PILImage

from bench.fixtures import PROMPT, SIZE, bench_user, rendered_png
from bench.timing import Report, compare, format_seconds, measure
from gallery.models import Generation
from gallery.services import image_store
from novisurf import imaging
from novisurf.protocol import PROCEDURAL_MODEL

TITLE = f"Gallery store: gallery.services.image_store, one {SIZE} PNG"


def _generation(tags: list[str]) -> Generation:
    return Generation.objects.create(
        owner=bench_user(),
        prompt=PROMPT,
        model=PROCEDURAL_MODEL,
        n=1,
        size=SIZE,
        response_format="b64_json",
        tag_names=tags,
        status=Generation.Status.RUNNING,
    )


def run(report: Report) -> None:
    data = rendered_png()
    generation = _generation([])
    indexes = itertools.count()  # the service is idempotent per (generation, index)

    def store() -> None:
        image_store(generation=generation, index=next(indexes), data=data)

    max_side = settings.NOVISURF_THUMBNAIL_SIZE

    def raw_pillow() -> bytes:
        image = PILImage.open(io.BytesIO(data))
        image.load()
        thumb = image.copy()
        if thumb.mode not in ("RGB", "RGBA"):
            thumb = thumb.convert("RGBA")
        thumb.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS, reducing_gap=3.0)
        buffer = io.BytesIO()
        thumb.save(buffer, "WEBP", quality=82, method=4)
        return buffer.getvalue()

    stored, baseline = compare(store, raw_pillow)
    verify = measure(lambda: imaging.verify(data, max_pixels=settings.NOVISURF_MAX_IMAGE_PIXELS))
    decoded = imaging.verify(data, max_pixels=settings.NOVISURF_MAX_IMAGE_PIXELS).image
    thumbnail = measure(lambda: imaging.thumbnail(decoded, max_side=max_side))

    report.row("image_store", stored, "Pillow decode + WebP thumbnail", baseline)
    report.info("  of which imaging.verify", format_seconds(verify))
    report.info("  of which imaging.thumbnail", format_seconds(thumbnail))

    # The same with tags typed on the form, which image_store adds to every image.
    tagged = _generation(["bench", "city"])
    tagged_indexes = itertools.count()
    try:
        with_tags, tags_baseline = compare(
            lambda: image_store(generation=tagged, index=next(tagged_indexes), data=data),
            raw_pillow,
            repeats=7,
            warmup=1,
        )
    except Exception as exc:
        report.note(f"image_store with tags FAILED: {type(exc).__name__}: {exc}")
    else:
        report.row(
            "image_store, 2 tags", with_tags, "Pillow decode + WebP thumbnail", tags_baseline
        )
