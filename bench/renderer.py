"""The procedural renderer against Pillow's own PNG encoding of the very same pixels."""

from __future__ import annotations

import io

from api.renderers import procedural
from bench.fixtures import PROMPT, SIZE, generation_request
from bench.timing import Report, compare, format_seconds, measure

TITLE = f"Renderer: api.renderers.procedural.render, one {SIZE} PNG"


def run(report: Report) -> None:
    request = generation_request()
    width, height = request.dimensions

    composed = measure(lambda: procedural.compose(PROMPT, 0, width, height))

    # The baseline: the pixels the renderer makes, encoded as _encode does (opaque -> RGB,
    # compress_level=1), with nothing else around it.
    image = procedural.compose(PROMPT, 0, width, height).convert("RGB")

    def pillow_png() -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()

    rendered, encoded = compare(lambda: procedural.render(request), pillow_png)
    rgba = procedural.compose(PROMPT, 0, width, height)
    convert = measure(lambda: rgba.convert("RGB"))
    size = len(procedural.render(request).images[0].data)

    report.row(f"renderer {SIZE} PNG", rendered, "Pillow PNG encode", encoded)
    report.info("  of which composition alone", format_seconds(composed))
    report.info("  of which RGBA -> RGB convert", format_seconds(convert))
    report.info("  PNG size", f"{size / 1024:.0f} KiB")
