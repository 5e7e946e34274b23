"""Pillow work on untrusted images: verify what came back, make thumbnails, embed parameters.

Nothing is stored before :func:`verify` has decoded every pixel (every frame of an animation)
or, for SVG, parsed the whole document safely: a truncated file, bytes that are not an image,
a format we do not keep, a decompression bomb, a bomb of frames or an XML bomb is refused with
a reason. What is stored is always the bytes as received; only thumbnails are made here.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import re
import struct
import subprocess
import sys
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import defusedxml.ElementTree
from defusedxml import DefusedXmlException
from PIL import Image, ImageSequence, UnidentifiedImageError

from .protocol import CONTENT_TYPES, IMAGE_FORMATS, THUMBNAIL_FORMAT

# Pillow's name of each format kept -> the extension its original is stored under.
ALLOWED_FORMATS = {f.pillow: f.extension for f in IMAGE_FORMATS.values()}

# An animation is decoded frame by frame before it is kept: this many frames at most, and this
# many pixels over all its frames, so that a small file of a million frames costs nothing.
MAX_FRAMES = 1000
MAX_ANIMATION_PIXELS = 200_000_000
# An animated thumbnail keeps at most this many frames (evenly picked, durations summed).
MAX_THUMBNAIL_FRAMES = 120
# SVG: elements in one document, and the longest side recorded for it (it has no pixels; a
# width of 10^9 is recorded scaled down, keeping its aspect ratio).
MAX_SVG_ELEMENTS = 50_000
MAX_SVG_SIDE = 4096
DEFAULT_SVG_SIZE = (300, 150)  # what a browser gives an SVG that names no size
# Drawing an SVG is bounded twice. Before drawing: every element counts once for each time it
# is drawn (a ``<use>`` or a ``url(#id)`` draws what it names again, so nested references
# multiply), a filter counts as many shapes; over this budget it is refused at once. While
# drawing: in a child process with a CPU-time and a memory limit (see ``svg_raster.py``).
MAX_SVG_DRAW_COST = 100_000
SVG_FILTER_COST = 1000
SVG_RENDER_CPU_SECONDS = 5
SVG_RENDER_MEMORY_BYTES = 1024 * 1024 * 1024
TOO_COMPLEX = "The SVG is too complex to display"
_RASTER_CHILD = Path(__file__).with_name("svg_raster.py")
_RESVG_HOME = str(Path(importlib.util.find_spec("resvg_py").origin).parent.parent)

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# Embedded pictures the rasteriser may draw; anything else an href names is never loaded.
SAFE_HREF = re.compile(r"^\s*(#|data:image/(png|jpeg|jpg|gif|webp)[;,])", re.IGNORECASE)


class ImageRejected(Exception):
    """Bytes that will not be stored; the message says why, for a person."""


class SvgTooComplex(ImageRejected):
    """An SVG whose drawing is over budget or ran out of its time or memory."""


@dataclass
class VerifiedImage:
    image: Image.Image | None  # fully decoded (the first frame of an animation); None for SVG
    format: str  # PNG, JPEG, WEBP, GIF or SVG
    width: int
    height: int
    is_animated: bool = False
    has_alpha: bool = False
    frame_count: int = 1
    durations: list[int] = field(default_factory=list, repr=False)  # ms per frame
    source: bytes = field(default=b"", repr=False)  # an animation's bytes, for its thumbnail
    loop: int = 0
    svg: bytes | None = field(default=None, repr=False)  # the render-safe copy of an SVG

    @property
    def extension(self) -> str:
        return ALLOWED_FORMATS[self.format]


def verify(data: bytes, *, max_pixels: int, max_frames: int = MAX_FRAMES) -> VerifiedImage:
    if not data:
        raise ImageRejected("The image is empty (0 bytes).")
    if looks_like_svg(data):
        return verify_svg(data, max_pixels=max_pixels)
    with warnings.catch_warnings():
        # Our own pixel cap is checked before decoding; Pillow's bomb check is a second fence.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageRejected("The endpoint sent bytes that are not an image.") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected(_too_many_pixels(None, max_pixels)) from None
        except Exception as exc:  # Pillow raises many kinds on hostile headers
            raise ImageRejected(f"The image could not be read: {exc}") from None
        if probe.format not in ALLOWED_FORMATS:
            raise ImageRejected(
                f"The image is in {probe.format} format; "
                "only PNG, JPEG, WebP, GIF and SVG are kept."
            )
        width, height = probe.size
        if width < 1 or height < 1:
            raise ImageRejected("The image has no pixels.")
        if width * height > max_pixels:
            raise ImageRejected(_too_many_pixels((width, height), max_pixels))
        try:
            probe.verify()  # checksums and structure, without decoding
            image = Image.open(io.BytesIO(data))
            image.load()  # every pixel: a truncated file fails here
            if probe.format == "PNG":
                _check_png_rows(data, width, height)
            verified = VerifiedImage(image=image, format=probe.format, width=width, height=height)
            if getattr(image, "is_animated", False):
                _decode_frames(verified, data, max_frames=max_frames)
            else:
                verified.has_alpha = _has_alpha(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected(_too_many_pixels((width, height), max_pixels)) from None
        except ImageRejected:
            raise
        except Exception as exc:
            raise ImageRejected(f"The image is damaged or incomplete: {exc}") from None
    return verified


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7: (first column, first row, column step, row step) of each pass.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def _check_png_rows(data: bytes, width: int, height: int) -> None:
    """Pillow keeps a PNG whose compressed data ends early (after 64 of 6,000 rows, say),
    the missing rows left blank: count the rows the data really holds, and refuse it."""
    position, ihdr, stream = 8, None, zlib.decompressobj()
    produced = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR" and len(body) >= 13:
            ihdr = body
        elif kind == b"IDAT":
            try:
                while body:
                    produced += len(stream.decompress(body, 1 << 20))
                    body = stream.unconsumed_tail
            except zlib.error:
                return  # Pillow has judged the stream; only its length is checked here
        elif kind == b"IEND":
            break
    if ihdr is None:
        return
    depth, colour, interlace = ihdr[8], ihdr[9], ihdr[12]
    bits = depth * _PNG_CHANNELS.get(colour, 4)

    def row_bytes(columns: int) -> int:
        return 1 + (columns * bits + 7) // 8 if columns else 0

    if interlace:
        expected = sum(
            row_bytes(max(0, (width - x + dx - 1) // dx)) * max(0, (height - y + dy - 1) // dy)
            for x, y, dx, dy in _ADAM7
        )
    else:
        expected = row_bytes(width) * height
    if produced < expected:
        rows = produced // max(1, row_bytes(width))
        raise ImageRejected(
            f"The PNG is incomplete: its pixel data covers {rows:,} of {height:,} rows."
        )


def _decode_frames(verified: VerifiedImage, data: bytes, *, max_frames: int) -> None:
    """Decode every frame (a damaged one fails here), counting as we go: a file that claims
    more frames than the cap is refused without decoding the rest. Frames are not kept (a
    long animation would fill memory): the thumbnail decodes them again, one at a time."""
    # A fresh reader, so that the first frame stays loaded on ``verified.image``.
    animation = Image.open(io.BytesIO(data))
    frame_pixels = verified.width * verified.height
    budget = max(max_frames, 1)
    for number, frame in enumerate(ImageSequence.Iterator(animation), start=1):
        if number > budget:
            raise ImageRejected(
                f"The animation has more than {max_frames:,} frames; at most {max_frames:,} "
                "are kept."
            )
        if number * frame_pixels > MAX_ANIMATION_PIXELS:
            raise ImageRejected(
                f"The animation is too large: {number:,} frames of {verified.width}x"
                f"{verified.height} pass the limit of {MAX_ANIMATION_PIXELS:,} pixels in all."
            )
        frame.load()
        if not verified.has_alpha:
            verified.has_alpha = _has_alpha(frame)
        verified.durations.append(int(frame.info.get("duration") or 100))
    verified.frame_count = len(verified.durations)
    verified.is_animated = verified.frame_count > 1
    verified.loop = int(animation.info.get("loop", 0) or 0)
    verified.source = data


def _has_alpha(image: Image.Image) -> bool:
    if "A" not in image.getbands() and "transparency" not in image.info:
        return False
    return _alpha_below_opaque(image.convert("RGBA"))


def _alpha_below_opaque(rgba: Image.Image) -> bool:
    low, _ = rgba.getchannel("A").getextrema()
    return low < 255


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> str:
    shown = f" ({size[0]}x{size[1]})" if size else ""
    return f"The image is too large{shown}: the limit is {max_pixels:,} pixels."


# -- SVG -------------------------------------------------------------------------------------


def looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!--", b"<!doctype svg")) and b"<svg" in head


def verify_svg(data: bytes, *, max_pixels: int = 40_000_000) -> VerifiedImage:
    """Parse an SVG without trusting it: entity declarations (billion laughs) and external
    entities or DTDs are refused by defusedxml. The stored bytes stay as sent; what is kept
    here is a copy for the rasteriser with scripts, event handlers and every reference to
    anything outside the document removed, so that rendering it loads nothing."""
    try:
        root = defusedxml.ElementTree.fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise ImageRejected(
            "The SVG was refused: it declares XML entities or external references "
            f"({type(exc).__name__}), which could make it explode or read files."
        ) from None
    except ElementTree.ParseError as exc:
        raise ImageRejected(f"The SVG is not well-formed XML: {exc}") from None
    if root.tag not in (f"{{{SVG_NS}}}svg", "svg"):
        raise ImageRejected("The file is XML but not an SVG image (its root is not <svg>).")
    for count, _ in enumerate(root.iter(), start=1):
        if count > MAX_SVG_ELEMENTS:
            raise ImageRejected(
                f"The SVG has more than {MAX_SVG_ELEMENTS:,} elements; it is not kept."
            )
    width, height = svg_size(root)
    safe = _render_safe_copy(root, max_pixels=max_pixels)
    svg_check_cost(root)
    # Rendering once here proves the rasteriser can draw it before anything is stored.
    scale = min(1.0, 64 / max(width, height))
    rendered = render_svg(
        safe, width=max(1, round(width * scale)), height=max(1, round(height * scale))
    )
    return VerifiedImage(
        image=None,
        format="SVG",
        width=width,
        height=height,
        has_alpha=_alpha_below_opaque(rendered),
        svg=safe,
    )


_URL_REF = re.compile(r"url\(\s*['\"]?#([^)'\"\s]+)")
_FILTER_TAGS = {"filter"} | {
    f"fe{name}"
    for name in [
        "GaussianBlur",
        "DropShadow",
        "Morphology",
        "ConvolveMatrix",
        "Turbulence",
        "DisplacementMap",
        "Lighting",
        "DiffuseLighting",
        "SpecularLighting",
        "Image",
        "Tile",
    ]
}


def svg_check_cost(root: ElementTree.Element) -> int:
    """How many shapes drawing ``root`` costs, every reference expanded; raises
    :class:`SvgTooComplex` past :data:`MAX_SVG_DRAW_COST`. Iterative (a document may nest
    50,000 deep) and memoised (a shared target is costed once), so this is linear."""
    by_id: dict[str, ElementTree.Element] = {}
    for element in root.iter():
        ident = element.get("id")
        if ident and ident not in by_id:
            by_id[ident] = element

    def references(element: ElementTree.Element) -> list[ElementTree.Element]:
        named = []
        for name, value in element.attrib.items():
            if name == XLINK_HREF or _local(name) == "href":
                if value.strip().startswith("#"):
                    named.append(value.strip()[1:])
            elif "url(" in value:
                named.extend(_URL_REF.findall(value))
        return [*element, *(by_id[n] for n in named if n in by_id)]

    in_progress = object()
    costs: dict[int, object] = {}
    stack: list[tuple[ElementTree.Element, bool]] = [(root, False)]
    ceiling = MAX_SVG_DRAW_COST + 1
    while stack:
        element, finished = stack.pop()
        key = id(element)
        if finished:
            own = SVG_FILTER_COST if _local(element.tag) in _FILTER_TAGS else 1
            # A reference back to an element being drawn is a cycle the rasteriser skips.
            total = own + sum(
                c for c in (costs[id(d)] for d in references(element)) if c is not in_progress
            )
            costs[key] = min(total, ceiling)
            continue
        if key in costs:
            continue
        costs[key] = in_progress
        stack.append((element, True))
        stack.extend((d, False) for d in references(element) if id(d) not in costs)
    total = costs[id(root)]
    assert isinstance(total, int)
    if total > MAX_SVG_DRAW_COST:
        raise SvgTooComplex(
            f"{TOO_COMPLEX}: drawing it takes more than {MAX_SVG_DRAW_COST:,} shapes "
            "(its references multiply)."
        )
    return total


def _render_safe_copy(root: ElementTree.Element, *, max_pixels: int) -> bytes:
    for parent in list(root.iter()):
        for child in list(parent):
            if _local(child.tag) in ("script", "foreignObject", "iframe", "handler"):
                parent.remove(child)
    for element in root.iter():
        for name in list(element.attrib):
            local = _local(name).lower()
            handler = local.startswith("on")
            is_href = name == XLINK_HREF or local == "href"
            outside = is_href and not SAFE_HREF.match(element.attrib[name])
            bomb = is_href and not outside and not _embedded_fits(element.attrib[name], max_pixels)
            if handler or outside or bomb:
                del element.attrib[name]
        if _local(element.tag) == "style" and element.text and "@import" in element.text:
            element.text = re.sub(r"@import[^;]*;?", "", element.text)
    ElementTree.register_namespace("", SVG_NS)
    ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    return ElementTree.tostring(root, encoding="utf-8")


def _embedded_fits(href: str, max_pixels: int) -> bool:
    """An embedded raster (``data:image/...``) the rasteriser may decode: under the pixel cap,
    read from its header (a small file can claim a huge picture)."""
    if href.lstrip().startswith("#"):
        return True
    _, _, payload = href.partition(",")
    try:
        raw = base64.b64decode(payload.strip(), validate=False) if ";base64" in href[:64] else b""
        if not raw:
            return False
        width, height = Image.open(io.BytesIO(raw)).size
    except Exception:
        return False
    return 0 < width * height <= max_pixels


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


_LENGTH = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(px|pt|pc|mm|cm|in|em|ex)?\s*$", re.I
)
_UNITS = {"px": 1, "pt": 4 / 3, "pc": 16, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96, "em": 16}


def _length(value: str | None) -> float | None:
    match = _LENGTH.match(value or "")
    if not match:
        return None  # missing, a percentage, or nonsense
    number = float(match.group(1)) * _UNITS.get((match.group(2) or "px").lower(), 8)
    return number if number > 0 else None


def svg_size(root: ElementTree.Element) -> tuple[int, int]:
    """The size a browser would give it: ``width``/``height``, else its ``viewBox``, the
    missing edge from the aspect ratio; scaled down to :data:`MAX_SVG_SIDE` at most."""
    width, height = _length(root.get("width")), _length(root.get("height"))
    box = None
    try:
        numbers = [float(n) for n in re.split(r"[\s,]+", (root.get("viewBox") or "").strip())]
        if len(numbers) == 4 and numbers[2] > 0 and numbers[3] > 0:
            box = numbers[2], numbers[3]
    except ValueError:
        pass
    if width is None and height is None:
        width, height = box or DEFAULT_SVG_SIZE
    elif width is None:
        width = height * (box[0] / box[1]) if box else DEFAULT_SVG_SIZE[0]
    elif height is None:
        height = width * (box[1] / box[0]) if box else DEFAULT_SVG_SIZE[1]
    scale = min(1.0, MAX_SVG_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_svg(svg: bytes, *, width: int, height: int) -> Image.Image:
    """Pixels of a render-safe SVG copy (see :func:`verify_svg`), drawn by resvg in a child
    process with a CPU-time and a memory limit, so that no drawing can hold this process.

    resvg runs no script and has no network code; the copy it is given names no file (every
    href is an in-document ``#id`` or an embedded raster), so it reads nothing either.
    Raises :class:`SvgTooComplex` when the child runs out of time or memory.
    """
    args = [
        sys.executable,
        # No user site, no PYTHON* variables, no site processing (a third of the start-up):
        # the child imports only resvg, from the folder named here.
        "-I",
        "-S",
        str(_RASTER_CHILD),
        _RESVG_HOME,
        str(max(1, width)),
        str(max(1, height)),
        str(SVG_RENDER_CPU_SECONDS),
        str(SVG_RENDER_MEMORY_BYTES),
    ]
    child = _spawn(args)
    try:
        # Wall clock as a last fence: a child that sleeps (swapping) uses no CPU time.
        png, errors = child.communicate(svg, timeout=SVG_RENDER_CPU_SECONDS * 3 + 5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise SvgTooComplex(f"{TOO_COMPLEX}: drawing it took too long.") from None
    if child.returncode == 3:
        reason = errors.decode("utf-8", "replace").strip()
        raise ImageRejected(f"The SVG could not be drawn: {reason}")
    if child.returncode != 0 or not png:
        raise SvgTooComplex(f"{TOO_COMPLEX}: drawing it ran out of time or memory.")
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGBA")


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script, no shell
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def placeholder_thumbnail(*, width: int, height: int, max_side: int) -> tuple[bytes, int, int]:
    """A plain grey WebP the shape of the image, for an SVG too complex to draw."""
    scale = max_side / max(width, height, 1)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    buffer = io.BytesIO()
    Image.new("RGB", size, (128, 128, 128)).save(buffer, THUMBNAIL_FORMAT.pillow, quality=60)
    return buffer.getvalue(), size[0], size[1]


# -- thumbnails ------------------------------------------------------------------------------


def thumbnail(image: Image.Image, *, max_side: int) -> tuple[bytes, int, int]:
    """A WebP no larger than ``max_side`` on either side; returns the bytes and its size."""
    thumb = _fit(image, max_side)
    buffer = io.BytesIO()
    # method=2: less than half the encoding time of 4, for files about a tenth larger.
    thumb.save(buffer, THUMBNAIL_FORMAT.pillow, quality=82, method=2)
    return buffer.getvalue(), thumb.width, thumb.height


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    thumb = image
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert(
            "RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB"
        )
    factor = _exact_shrink(thumb.size, max_side) if thumb.mode == "RGB" else 1
    if factor > 1:
        # A whole-number shrink (1024 -> 512) of an opaque image: the mean of each block of
        # pixels is the fair resample, and several times cheaper than a Lanczos pass over
        # every pixel. (Not with alpha: a plain mean would bleed the colour of clear pixels.)
        return thumb.reduce(factor)
    thumb = thumb.copy() if thumb is image else thumb  # thumbnail() works in place
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return thumb


def _exact_shrink(size: tuple[int, int], max_side: int) -> int:
    """The whole number both sides divide by to fit ``max_side`` exactly, else 1."""
    width, height = size
    longest = max(width, height)
    if longest <= max_side or longest % max_side:
        return 1
    factor = longest // max_side
    return factor if width % factor == 0 and height % factor == 0 else 1


def thumbnail_for(verified: VerifiedImage, *, max_side: int) -> tuple[bytes, int, int]:
    """The thumbnail of what :func:`verify` accepted: an animated WebP for an animation, the
    SVG rendered to pixels (fitting ``max_side``: vectors are sharp at any size), else
    :func:`thumbnail`."""
    if verified.svg is not None:
        scale = max_side / max(verified.width, verified.height)
        width = max(1, round(verified.width * scale))
        height = max(1, round(verified.height * scale))
        try:
            rendered = render_svg(verified.svg, width=width, height=height)
        except SvgTooComplex:
            # It was drawn small once when verified; a placeholder beats a refusal now.
            return placeholder_thumbnail(
                width=verified.width, height=verified.height, max_side=max_side
            )
        buffer = io.BytesIO()
        rendered.save(buffer, THUMBNAIL_FORMAT.pillow, quality=86, method=4)
        return buffer.getvalue(), rendered.width, rendered.height
    if verified.is_animated:
        return _animated_thumbnail(verified, max_side=max_side)
    assert verified.image is not None
    return thumbnail(verified.image, max_side=max_side)


def _animated_thumbnail(verified: VerifiedImage, *, max_side: int) -> tuple[bytes, int, int]:
    count, durations = verified.frame_count, verified.durations
    picks = list(range(count))
    if count > MAX_THUMBNAIL_FRAMES:
        # Keep evenly spaced frames; each shows for as long as the frames it stands for.
        step = count / MAX_THUMBNAIL_FRAMES
        picks = [int(i * step) for i in range(MAX_THUMBNAIL_FRAMES)]
        durations = [sum(durations[a:b]) for a, b in zip(picks, [*picks[1:], count], strict=True)]
    wanted = set(picks)
    small: list[Image.Image] = []
    animation = Image.open(io.BytesIO(verified.source))
    # Every frame is decoded in order (a GIF frame draws over the one before); only the picked
    # ones are kept, already small.
    for number, frame in enumerate(ImageSequence.Iterator(animation)):
        if number in wanted:
            small.append(_fit(frame.convert("RGBA"), max_side))
    buffer = io.BytesIO()
    small[0].save(
        buffer,
        THUMBNAIL_FORMAT.pillow,
        save_all=True,
        append_images=small[1:],
        duration=durations[: len(small)],
        loop=verified.loop,
        quality=80,
        method=3,
    )
    return buffer.getvalue(), small[0].width, small[0].height


def as_edit_source(data: bytes, *, format: str, width: int, height: int) -> tuple[bytes, str]:
    """The bytes to send as an edit's ``image``: the original where endpoints take its format
    (PNG, JPEG, WebP), else a PNG of it (an SVG rendered at its recorded size, the first frame
    of a GIF), the size the mask was painted at."""
    if format in ("png", "jpeg", "webp"):
        return data, CONTENT_TYPES[format]
    if format == "svg":
        picture = render_svg(verify_svg(data).svg or b"", width=width, height=height)
    else:
        picture = Image.open(io.BytesIO(data))
        picture.seek(0)
        picture = picture.convert("RGBA")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue(), "image/png"


def png_text_keywords(png: bytes) -> set[str]:
    """The keywords of a PNG's text chunks (tEXt, zTXt, iTXt), read from the chunk headers
    without decoding the image; an empty set for anything that is not a PNG."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return set()
    found: set[str] = set()
    at = 8
    while at + 8 <= len(png):
        length = struct.unpack(">I", png[at : at + 4])[0]
        kind = png[at + 4 : at + 8]
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            body = png[at + 8 : at + 8 + min(length, 80)]
            found.add(body.split(b"\x00", 1)[0].decode("latin-1"))
        if kind == b"IEND":
            break
        at += 12 + length
    return found


def embed_png_text(png: bytes, keyword: str, text: str) -> bytes:
    """The same PNG with a text chunk added after IHDR; the pixel data is untouched.

    ``tEXt`` where the text is Latin-1 (what most tools read), ``iTXt`` (UTF-8) otherwise.
    """
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    ihdr_end = 8 + 4 + 4 + struct.unpack(">I", png[8:12])[0] + 4
    try:
        chunk_type = b"tEXt"
        body = keyword.encode("latin-1") + b"\x00" + text.encode("latin-1")
    except UnicodeEncodeError:
        chunk_type = b"iTXt"
        body = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    chunk = (
        struct.pack(">I", len(body))
        + chunk_type
        + body
        + struct.pack(">I", zlib.crc32(chunk_type + body) & 0xFFFFFFFF)
    )
    return png[:ihdr_end] + chunk + png[ihdr_end:]
