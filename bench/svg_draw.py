"""SVG drawn in a bounded child process against the same drawing done in this process.

Every SVG that is stored is drawn twice (a small proof when verified, then its thumbnail), each
time in a child with CPU-time and memory limits: the price of never letting a drawing hold the
server. The baseline is resvg called here, as before, for the same two drawings.
"""

from __future__ import annotations

import resvg_py

from bench.timing import Report, compare
from novisurf import imaging

TITLE = "SVG: verify + thumbnail, drawn in a bounded child process"

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">'
    b'<rect width="800" height="600" fill="teal"/>'
    b'<circle cx="400" cy="300" r="200" fill="orange"/></svg>'
)


def run(report: Report) -> None:
    def bounded() -> None:
        verified = imaging.verify(SVG, max_pixels=40_000_000)
        imaging.thumbnail_for(verified, max_side=512)

    def in_process() -> None:
        text = SVG.decode()
        resvg_py.svg_to_bytes(svg_string=text, width=64, height=48)
        resvg_py.svg_to_bytes(svg_string=text, width=512, height=384)

    child, here = compare(bounded, in_process, repeats=7)
    report.row("verify + thumbnail (children)", child, "the two drawings in-process", here)
