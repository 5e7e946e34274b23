"""novisurf.imaging: what is verified before storing, thumbnails, and the PNG text chunk."""

from __future__ import annotations

import base64
import io
import os
import struct
import zlib

import defusedxml.ElementTree
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from novisurf import imaging

BIG_CAP = 40_000_000


def make_image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), mode: str = "RGB", noise: bool = False
) -> bytes:
    """Real image bytes made in memory; ``noise`` makes them barely compressible."""
    if noise:
        image = Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))
    else:
        image = Image.new(mode, size, (200, 30, 90) if mode == "RGB" else 128)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def crafted_png(width: int, height: int) -> bytes:
    """A well-formed PNG header that claims ``width`` x ``height`` with one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


# -- verify: what is accepted -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "expected_format", "extension"),
    [
        ("PNG", "PNG", "png"),
        ("JPEG", "JPEG", "jpg"),
        ("WEBP", "WEBP", "webp"),
        ("GIF", "GIF", "gif"),
    ],
)
def test_verify_accepts_kept_formats(fmt, expected_format, extension):
    data = make_image_bytes(fmt, size=(40, 30))
    verified = imaging.verify(data, max_pixels=BIG_CAP)
    assert verified.format == expected_format
    assert verified.extension == extension
    assert (verified.width, verified.height) == (40, 30)
    assert verified.image.size == (40, 30)
    # Fully decoded: the pixels are there to be read.
    assert len(verified.image.tobytes()) > 0


def test_verify_accepts_an_image_exactly_at_the_pixel_cap():
    data = make_image_bytes("PNG", size=(100, 100))
    verified = imaging.verify(data, max_pixels=100 * 100)
    assert (verified.width, verified.height) == (100, 100)


# -- verify: what is refused, each with a reason --------------------------------------------------


def test_verify_refuses_empty_bytes():
    with pytest.raises(imaging.ImageRejected, match="empty"):
        imaging.verify(b"", max_pixels=BIG_CAP)


def test_verify_refuses_random_bytes():
    with pytest.raises(imaging.ImageRejected, match="not an image"):
        imaging.verify(os.urandom(4096), max_pixels=BIG_CAP)


def test_verify_refuses_text_that_is_not_an_image():
    with pytest.raises(imaging.ImageRejected, match="not an image"):
        imaging.verify(b'{"error": "nope"}', max_pixels=BIG_CAP)


def test_verify_refuses_a_truncated_png():
    data = make_image_bytes("PNG", size=(128, 128), noise=True)
    assert len(data) > 20_000  # the cut lands in the pixel data, not the header
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.verify(data[: len(data) // 2], max_pixels=BIG_CAP)
    assert "damaged or incomplete" in str(caught.value)


def test_verify_refuses_a_truncated_jpeg():
    data = make_image_bytes("JPEG", size=(256, 256), noise=True)
    with pytest.raises(imaging.ImageRejected, match="damaged or incomplete"):
        imaging.verify(data[: len(data) // 2], max_pixels=BIG_CAP)


def test_verify_refuses_a_png_with_a_corrupted_checksum():
    data = bytearray(make_image_bytes("PNG", size=(32, 32), noise=True))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # flip a byte inside the compressed pixels: the CRC no longer holds
    with pytest.raises(imaging.ImageRejected):
        imaging.verify(bytes(data), max_pixels=BIG_CAP)


def test_verify_refuses_a_real_image_over_the_pixel_cap():
    # 64 million pixels that compress to a few kilobytes: a decompression bomb in miniature.
    data = make_image_bytes("PNG", size=(8000, 8000), mode="1")
    assert len(data) < 200_000
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.verify(data, max_pixels=1_000_000)
    message = str(caught.value)
    assert "too large" in message
    assert "8000x8000" in message
    assert "1,000,000" in message


def test_verify_refuses_a_crafted_header_claiming_a_huge_image():
    # 20000 x 20000 = 400 million pixels in a file of a few dozen bytes: past Pillow's own
    # bomb limit, so it is refused when the header is read, before any decoding.
    data = crafted_png(20_000, 20_000)
    assert len(data) < 200
    with pytest.raises(imaging.ImageRejected, match="too large"):
        imaging.verify(data, max_pixels=BIG_CAP)


def test_verify_refuses_a_crafted_header_over_our_cap_but_under_pillows():
    data = crafted_png(5_000, 5_000)  # 25 million pixels: Pillow alone would try to decode it
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.verify(data, max_pixels=1_000_000)
    assert "too large" in str(caught.value)
    assert "5000x5000" in str(caught.value)


def test_verify_refuses_a_crafted_header_with_too_little_pixel_data():
    # Within the cap, but the IDAT holds far fewer pixels than the header claims.
    with pytest.raises(imaging.ImageRejected, match="damaged or incomplete"):
        imaging.verify(crafted_png(300, 300), max_pixels=BIG_CAP)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_verify_refuses_formats_that_are_not_kept(fmt):
    data = make_image_bytes(fmt, size=(16, 16))
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.verify(data, max_pixels=BIG_CAP)
    message = str(caught.value)
    assert fmt in message
    assert "only PNG, JPEG, WebP, GIF and SVG" in message


# -- thumbnail ----------------------------------------------------------------------------------


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((1000, 500), 256, (256, 128)),
        ((500, 1000), 256, (128, 256)),
        ((300, 300), 100, (100, 100)),
        ((1536, 1024), 512, (512, 341)),
        ((120, 80), 512, (120, 80)),  # never enlarged
        ((1024, 1024), 512, (512, 512)),  # whole-number shrinks
        ((2048, 1024), 512, (512, 256)),
    ],
)
def test_thumbnail_is_webp_within_max_side_keeping_aspect(size, max_side, expected):
    source = Image.new("RGB", size, (10, 120, 240))
    data, width, height = imaging.thumbnail(source, max_side=max_side)
    assert (width, height) == expected
    thumb = _decode(data)
    assert thumb.format == "WEBP"
    assert thumb.size == expected
    assert max(thumb.size) <= max_side
    assert abs(thumb.width / thumb.height - size[0] / size[1]) < 0.01
    assert source.size == size  # the original is left alone


@pytest.mark.parametrize("mode", ["L", "P", "1", "RGBA", "LA", "CMYK"])
def test_thumbnail_handles_any_mode(mode):
    source = Image.new(mode, (200, 100))
    data, width, height = imaging.thumbnail(source, max_side=64)
    assert (width, height) == (64, 32)
    assert _decode(data).format == "WEBP"


def test_a_whole_number_shrink_looks_like_a_lanczos_one():
    source = Image.linear_gradient("L").resize((1024, 1024)).convert("RGB")
    ImageDraw.Draw(source).rectangle((100, 200, 611, 700), fill=(250, 30, 60))
    data, _, _ = imaging.thumbnail(source, max_side=512)
    lanczos = source.resize((512, 512), Image.Resampling.LANCZOS)
    difference = ImageChops.difference(_decode(data).convert("RGB"), lanczos)
    assert max(ImageStat.Stat(difference).mean) < 3  # WebP's own loss is about as much


def test_thumbnail_of_a_verified_image():
    verified = imaging.verify(make_image_bytes("JPEG", size=(800, 600)), max_pixels=BIG_CAP)
    data, width, height = imaging.thumbnail(verified.image, max_side=200)
    assert (width, height) == (200, 150)
    assert _decode(data).size == (200, 150)


# -- embed_png_text -----------------------------------------------------------------------------


def _pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    image = _decode(data)
    return image.mode, image.size, image.tobytes()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_embed_png_text_keeps_exact_pixels_and_is_readable(mode):
    original = make_image_bytes("PNG", size=(37, 23), mode=mode, noise=mode != "P")
    text = "a lighthouse on a cliff, dawn\nSize: 37x23, Model: novisurf-procedural"
    embedded = imaging.embed_png_text(original, "parameters", text)

    assert _pixels(embedded) == _pixels(original)
    image = _decode(embedded)
    assert image.text["parameters"] == text
    assert b"tEXt" in embedded
    # Only a chunk was added: everything after the header is byte-for-byte the original.
    assert embedded.startswith(original[:33])
    assert embedded.endswith(original[33:])
    assert len(embedded) == len(original) + 12 + len(b"parameters\x00") + len(text)


def test_embed_png_text_with_non_latin1_text_uses_itxt():
    original = make_image_bytes("PNG", size=(20, 20), noise=True)
    text = "東京の夜景 🌃 — ночь\nModel: dall-e-3"
    embedded = imaging.embed_png_text(original, "parameters", text)

    assert b"iTXt" in embedded
    assert b"tEXt" not in embedded
    assert _pixels(embedded) == _pixels(original)
    assert _decode(embedded).text["parameters"] == text


def test_embed_png_text_with_latin1_accents_stays_text():
    original = make_image_bytes("PNG", size=(8, 8))
    text = "café crème, señor"
    embedded = imaging.embed_png_text(original, "parameters", text)
    assert b"tEXt" in embedded
    assert _decode(embedded).text["parameters"] == text


def test_embed_png_text_result_passes_verification():
    original = make_image_bytes("PNG", size=(30, 30), noise=True)
    embedded = imaging.embed_png_text(original, "parameters", "prompt")
    verified = imaging.verify(embedded, max_pixels=BIG_CAP)
    assert verified.format == "PNG"


def test_embed_png_text_refuses_what_is_not_a_png():
    with pytest.raises(ValueError, match="not a PNG"):
        imaging.embed_png_text(make_image_bytes("JPEG"), "parameters", "x")
    with pytest.raises(ValueError, match="not a PNG"):
        imaging.embed_png_text(b"", "parameters", "x")


# -- SVG size and the render-safe copy ----------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ('viewBox="0 0 120 60"', (120, 60)),
        ('width="2in" height="1in"', (192, 96)),
        ('width="300" viewBox="0 0 100 50"', (300, 150)),
        ('height="40" viewBox="0,0,20,10"', (80, 40)),
        ('width="50%" height="50%" viewBox="0 0 64 32"', (64, 32)),
        ("", (300, 150)),
        ('width="1000000" height="500000"', (4096, 2048)),
    ],
)
def test_svg_size_follows_width_height_and_viewbox_capped(attributes, expected):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" {attributes}><rect width="9" height="9"/></svg>'
    verified = imaging.verify(svg.encode(), max_pixels=BIG_CAP)
    assert (verified.format, verified.width, verified.height) == ("SVG", *expected)


def test_the_render_copy_of_an_svg_has_no_script_handler_or_outside_reference():
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'viewBox="0 0 10 10" onload="x()"><script>x()</script><g onclick="y()">'
        b'<image href="http://example.invalid/a.png"/><image xlink:href="/etc/a.png"/>'
        b'<use href="#r"/><image href="data:image/png;base64,'
        + base64.b64encode(make_image_bytes("PNG", size=(2, 2)))
        + b'"/></g>'
        b'<rect id="r" width="5" height="5"/></svg>'
    )
    safe = imaging.verify(svg, max_pixels=BIG_CAP).svg.decode()
    for gone in ("script", "onload", "onclick", "example.invalid", "/etc/a.png"):
        assert gone not in safe
    assert 'href="#r"' in safe and "data:image/png" in safe


def test_an_animation_over_the_pixel_budget_is_refused(monkeypatch):
    monkeypatch.setattr(imaging, "MAX_ANIMATION_PIXELS", 10_000)
    frames = [Image.new("RGB", (50, 50), (i * 30, 0, 0)) for i in range(5)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(imaging.ImageRejected, match="too large: 5 frames"):
        imaging.verify(buffer.getvalue(), max_pixels=BIG_CAP)


def test_a_long_animation_keeps_its_timing_in_fewer_thumbnail_frames(monkeypatch):
    monkeypatch.setattr(imaging, "MAX_THUMBNAIL_FRAMES", 4)
    frames = [Image.new("RGBA", (40, 20), (0, 0, 0, 0)) for _ in range(10)]
    for i, frame in enumerate(frames):
        frame.paste((250, 20 * i, 40, 255), (i * 3, 5, i * 3 + 8, 15))
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, disposal=2)
    verified = imaging.verify(buffer.getvalue(), max_pixels=BIG_CAP)
    assert (verified.is_animated, verified.has_alpha, verified.frame_count) == (True, True, 10)
    data, _, _ = imaging.thumbnail_for(verified, max_side=20)
    thumb = Image.open(io.BytesIO(data))
    assert thumb.n_frames == 4
    total = 0
    for number in range(thumb.n_frames):
        thumb.seek(number)
        thumb.load()
        total += thumb.info["duration"]
    assert total == 500  # the whole animation's length, in fewer frames


def test_an_embedded_raster_that_claims_too_many_pixels_is_never_drawn():
    huge = base64.b64encode(crafted_png(30_000, 30_000)).decode()
    small = base64.b64encode(make_image_bytes("PNG", size=(4, 4))).decode()
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        f'<image id="big" href="data:image/png;base64,{huge}"/>'
        f'<image id="ok" href="data:image/png;base64,{small}"/></svg>'
    ).encode()
    safe = imaging.verify(svg, max_pixels=BIG_CAP).svg.decode()
    assert huge not in safe and small in safe


# -- SVG drawing is bounded ------------------------------------------------------------------


def use_bomb(levels: int = 12, fan: int = 5, *, blur: bool = False) -> bytes:
    """A kilobyte of SVG that asks for ``fan ** levels`` shapes through nested ``<use>``;
    ``blur`` puts a wide Gaussian blur on the shape that is multiplied."""
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="2000" height="2000"><defs>']
    if blur:
        parts.append('<filter id="f"><feGaussianBlur stdDeviation="80"/></filter>')
    shape_filter = ' filter="url(#f)"' if blur else ""
    parts.append(f'<circle id="l0" cx="1000" cy="1000" r="900"{shape_filter}/>')
    for level in range(1, levels + 1):
        uses = "".join(f'<use href="#l{level - 1}"/>' for _ in range(fan))
        parts.append(f'<g id="l{level}">{uses}</g>')
    parts.append(f'</defs><use href="#l{levels}"/></svg>')
    return "".join(parts).encode()


def _no_child(args):
    raise AssertionError("an SVG over budget must be refused before anything is drawn")


@pytest.mark.parametrize("svg", [use_bomb(), use_bomb(4, blur=True)], ids=["use", "blur"])
def test_an_svg_bomb_is_refused_as_too_complex_before_drawing(monkeypatch, svg):
    assert len(svg) < 1500
    monkeypatch.setattr(imaging, "_spawn", _no_child)
    with pytest.raises(imaging.SvgTooComplex, match="too complex to display"):
        imaging.verify(svg, max_pixels=BIG_CAP)


def test_shared_and_cyclic_references_are_costed_once_and_end():
    shared = use_bomb(levels=2, fan=10)  # 100 circles: well within the budget
    assert imaging.verify(shared, max_pixels=BIG_CAP).format == "SVG"
    cyclic = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<g id="a"><use href="#b"/></g><g id="b"><use href="#a"/></g></svg>'
    )
    root = defusedxml.ElementTree.fromstring(cyclic)
    assert imaging.svg_check_cost(root) < 10


def test_a_deeply_nested_svg_is_costed_without_recursion():
    depth = 20_000
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        + "<g>" * depth
        + "</g>" * depth
        + "</svg>"
    )
    root = defusedxml.ElementTree.fromstring(svg)
    assert imaging.svg_check_cost(root) == depth + 1


def test_drawing_past_the_cpu_limit_ends_the_child_not_this_process(monkeypatch):
    # Under a budget lifted out of the way, 3,125 blurs (12 s of drawing) reach the rasteriser:
    # its child process is stopped by its CPU-time limit and the SVG is refused, in seconds.
    monkeypatch.setattr(imaging, "MAX_SVG_DRAW_COST", 10**12)
    monkeypatch.setattr(imaging, "SVG_RENDER_CPU_SECONDS", 1)
    with pytest.raises(imaging.SvgTooComplex, match="too complex to display"):
        imaging.verify(use_bomb(5, blur=True), max_pixels=BIG_CAP)


def test_a_thumbnail_that_cannot_be_drawn_is_a_placeholder(monkeypatch):
    verified = imaging.verify(use_bomb(levels=2), max_pixels=BIG_CAP)
    monkeypatch.setattr(imaging, "MAX_SVG_DRAW_COST", 10**12)
    monkeypatch.setattr(imaging, "SVG_RENDER_CPU_SECONDS", 1)
    verified.svg = use_bomb(5, blur=True)  # as if drawing it at thumbnail size ran out of time
    data, width, height = imaging.thumbnail_for(verified, max_side=64)
    thumb = Image.open(io.BytesIO(data))
    assert (thumb.format, thumb.size, (width, height)) == ("WEBP", (64, 64), (64, 64))


def test_a_png_whose_data_covers_64_of_6000_rows_is_refused():
    width = height = 6000
    rows = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(64))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(imaging.ImageRejected, match="covers 64 of 6,000 rows"):
        imaging.verify(png, max_pixels=BIG_CAP)
