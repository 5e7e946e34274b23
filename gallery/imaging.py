"""Pillow work for the gallery: verify what came back, make thumbnails, embed parameters.

Nothing is stored before :func:`verify` has decoded every pixel: a truncated file, bytes that
are not an image, a format we do not keep, or a decompression bomb is refused with a reason.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}


class ImageRejected(Exception):
    """Bytes that will not be stored; the message says why, for a person."""


@dataclass
class VerifiedImage:
    image: Image.Image  # fully decoded
    format: str  # Pillow's name: PNG, JPEG, WEBP, GIF
    width: int
    height: int

    @property
    def extension(self) -> str:
        return ALLOWED_FORMATS[self.format]


def verify(data: bytes, *, max_pixels: int) -> VerifiedImage:
    if not data:
        raise ImageRejected("The image is empty (0 bytes).")
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
                f"The image is in {probe.format} format; only PNG, JPEG, WebP and GIF are kept."
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
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected(_too_many_pixels((width, height), max_pixels)) from None
        except Exception as exc:
            raise ImageRejected(f"The image is damaged or incomplete: {exc}") from None
    return VerifiedImage(image=image, format=probe.format, width=width, height=height)


def _too_many_pixels(size: tuple[int, int] | None, max_pixels: int) -> str:
    shown = f" ({size[0]}x{size[1]})" if size else ""
    return f"The image is too large{shown}: the limit is {max_pixels:,} pixels."


def thumbnail(image: Image.Image, *, max_side: int) -> tuple[bytes, int, int]:
    """A WebP no larger than ``max_side`` on either side; returns the bytes and its size."""
    thumb = image.copy()
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert(
            "RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB"
        )
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    thumb.save(buffer, "WEBP", quality=82, method=4)
    return buffer.getvalue(), thumb.width, thumb.height


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
