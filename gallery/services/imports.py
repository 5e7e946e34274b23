"""Bring in images made elsewhere: verified like generated ones, stored through the same
journalled path, their prompt and settings read from the file's own metadata.

Metadata read: Stable Diffusion web UI (A1111, Forge, ...) ``parameters`` text, in a PNG chunk
or a JPEG/WebP EXIF UserComment; ComfyUI's ``prompt`` (API graph) and ``workflow`` (UI graph)
chunks; and Novisurf's own ``parameters`` (the same layout, with ``Generator: Novisurf``).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

from django.conf import settings
from django.utils import timezone

from novisurf import imaging

from ..models import Image
from .images import image_save_with_files

IMPORTED_MODEL = "imported"


@dataclass
class ImportResult:
    name: str
    status: str  # "imported" | "duplicate" | "failed"
    reason: str = ""
    image: Image | None = None


def image_import(
    *,
    owner,
    data: bytes,
    filename: str,
    tag_names: list[str] | None = None,
    modified_at: datetime | None = None,
) -> ImportResult:
    """Verify and store one file for ``owner``. Never raises for a bad file: the result says.

    The image is dated by the file itself (PNG ``tIME``, EXIF ``DateTimeOriginal``), else by
    ``modified_at`` (the file's modification time, where the browser or the disk tells it),
    else now.
    """
    name = PurePath(filename).name or "image"
    if len(data) > settings.NOVISURF_MAX_IMAGE_BYTES:
        limit = settings.NOVISURF_MAX_IMAGE_BYTES // (1024 * 1024)
        return ImportResult(name, "failed", f"The file is larger than {limit} MB.")
    content_hash = hashlib.sha256(data).hexdigest()
    existing = Image.objects.filter(owner=owner, content_hash=content_hash).first()
    if existing is not None:
        where = " (in the trash)" if existing.trashed_at else ""
        return ImportResult(name, "duplicate", f"Already in your gallery{where}.", existing)
    try:
        verified = imaging.verify(
            data,
            max_pixels=settings.NOVISURF_MAX_IMAGE_PIXELS,
            max_frames=settings.NOVISURF_MAX_FRAMES,
        )
        # An animated WebP for an animation, an SVG's pixels drawn from its render-safe copy.
        thumb_bytes, thumb_w, thumb_h = imaging.thumbnail_for(
            verified, max_side=settings.NOVISURF_THUMBNAIL_SIZE
        )
    except imaging.ImageRejected as exc:
        return ImportResult(name, "failed", _for_a_file(str(exc)))
    meta = read_metadata(verified.image) if verified.image is not None else {}
    image = Image(
        owner=owner,
        generation=None,
        index=0,
        width=verified.width,
        height=verified.height,
        thumbnail_width=thumb_w,
        thumbnail_height=thumb_h,
        format=verified.format.lower(),
        file_size=len(data),
        content_hash=content_hash,
        prompt=meta.get("prompt") or PurePath(name).stem,
        revised_prompt="",
        model=(meta.get("model") or IMPORTED_MODEL)[:100],
        size=f"{verified.width}x{verified.height}",
        has_alpha=verified.has_alpha,
        is_animated=verified.is_animated,
        metadata={"imported_from": name, **{k: v for k, v in meta.items() if k != "prompt"}},
        created_at=file_date(data, verified.image) or _plausible(modified_at) or timezone.now(),
    )
    try:
        stored = image_save_with_files(
            image,
            original=data,
            extension=verified.extension,
            thumbnail=thumb_bytes,
            tag_names=list(tag_names or []),
        )
    except Exception as exc:  # storage down, ...: this file fails, the others go on
        return ImportResult(name, "failed", f"Could not be stored: {exc}")
    return ImportResult(name, "imported", "", stored)


def _for_a_file(reason: str) -> str:
    return reason.replace("The endpoint sent bytes", "The file holds bytes")


# -- the file's own date -------------------------------------------------------------------------

# Dates before this are a camera's unset clock, not a picture's date.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


def _plausible(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment if EARLIEST <= moment <= timezone.now() + timedelta(days=1) else None


def file_date(data: bytes, image) -> datetime | None:
    """When the file says it was made: PNG ``tIME`` (UTC, as the PNG standard defines it), else
    EXIF ``DateTimeOriginal`` (with its ``OffsetTimeOriginal``; local time without one)."""
    return _plausible(_png_time(data)) or _plausible(_exif_original(image))


def _png_time(data: bytes) -> datetime | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    at = 8
    while at + 8 <= len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        kind = data[at + 4 : at + 8]
        if kind == b"tIME" and length == 7:
            year, month, day, hour, minute, second = struct.unpack(
                ">HBBBBB", data[at + 8 : at + 15]
            )
            try:
                return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
            except ValueError:
                return None
        if kind == b"IEND":
            return None
        at += 12 + length
    return None


def _exif_original(image) -> datetime | None:
    if image is None:
        return None
    try:
        exif = image.getexif().get_ifd(0x8769)  # the Exif IFD
    except Exception:
        return None
    raw = exif.get(0x9003)  # DateTimeOriginal
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.strptime(raw.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = exif.get(0x9011)  # OffsetTimeOriginal, "+02:00"
    if isinstance(offset, str) and len(offset.strip()) == 6:
        try:
            return datetime.strptime(raw.strip()[:19] + offset.strip(), "%Y:%m:%d %H:%M:%S%z")
        except ValueError:
            pass
    return timezone.make_aware(moment)


# -- metadata ------------------------------------------------------------------------------------


def read_metadata(image) -> dict:
    """What a file says about how it was made: ``prompt``, ``negative_prompt``, ``model``,
    ``settings`` (a dict) and ``source`` (which tool's layout it was)."""
    info = image.info or {}
    parameters = info.get("parameters") or _exif_user_comment(image)
    if isinstance(parameters, str) and parameters.strip():
        meta = parse_a1111(parameters)
        if meta.get("prompt"):
            generator = meta.get("settings", {}).get("Generator", "")
            meta["source"] = "novisurf" if generator == "Novisurf" else "a1111"
            return meta
    for key, parse in (("prompt", parse_comfy_prompt), ("workflow", parse_comfy_workflow)):
        raw = info.get(key)
        if isinstance(raw, str) and raw.strip().startswith("{"):
            try:
                meta = parse(json.loads(raw))
            except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
                # RecursionError: a graph nested 50,000 deep is no metadata, not a crash.
                continue
            if meta.get("prompt"):
                meta["source"] = "comfyui"
                return meta
    for key in ("Description", "Comment", "comment", "description"):
        if isinstance(info.get(key), str) and info[key].strip():
            return {"prompt": info[key].strip()[:32000], "source": key.lower()}
    return {}


def _exif_user_comment(image) -> str:
    try:
        exif = image.getexif().get_ifd(0x8769)  # the Exif IFD
    except Exception:
        return ""
    raw = exif.get(0x9286)  # UserComment
    if isinstance(raw, bytes):
        header, body = raw[:8], raw[8:]
        if header.startswith(b"UNICODE"):
            for encoding in ("utf-16-be", "utf-16-le"):
                try:
                    text = body.decode(encoding)
                except UnicodeDecodeError:
                    continue
                if text.isprintable() or "\n" in text:
                    return text
        return body.decode("utf-8", "ignore") if header.startswith(b"ASCII") else ""
    return raw if isinstance(raw, str) else ""


_SETTINGS_LINE = re.compile(r"(^|, )(Steps|Size|Seed|Model|Sampler|Generator|CFG scale): ")
_PAIR = re.compile(r'\s*([\w][\w \-/]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)')


def parse_a1111(text: str) -> dict:
    """The web UI's layout: the prompt, an optional ``Negative prompt: ...`` and a last line of
    ``Key: value`` pairs (values with commas JSON-quoted)."""
    lines = text.strip().split("\n")
    settings_line = ""
    if len(lines) > 1 and _SETTINGS_LINE.search(lines[-1]):
        settings_line = lines.pop()
    negative = ""
    for index, line in enumerate(lines):
        if line.startswith("Negative prompt:"):
            negative = "\n".join([line[len("Negative prompt:") :].strip(), *lines[index + 1 :]])
            lines = lines[:index]
            break
    pairs: dict[str, str] = {}
    for match in _PAIR.finditer(settings_line):
        key, value = match.group(1).strip(), match.group(2).strip()
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value.strip('"')
        if key:
            pairs[key] = value
    meta: dict = {"prompt": "\n".join(lines).strip()[:32000], "settings": pairs}
    if negative.strip():
        meta["negative_prompt"] = negative.strip()
    if pairs.get("Model"):
        meta["model"] = pairs["Model"]
    return meta


def _text_of(graph: dict, ref) -> str:
    """Follow a link ``[node_id, output]`` to the text of the node it names."""
    seen = 0
    while isinstance(ref, list) and ref and seen < 20:
        node = graph.get(str(ref[0])) or {}
        inputs = node.get("inputs") or {}
        for key in ("text", "text_g", "prompt", "positive"):
            value = inputs.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, list):
                ref = value
                break
        else:
            return ""
        seen += 1
    return ""


def parse_comfy_prompt(graph: dict) -> dict:
    """ComfyUI's API graph: ``{id: {class_type, inputs}}``. The prompt is what the sampler's
    ``positive`` input leads to; else the first text encoder's text."""
    meta: dict = {"settings": {}}
    for node in graph.values():
        inputs = node.get("inputs") or {}
        if "positive" in inputs and "prompt" not in meta:
            positive = _text_of(graph, inputs["positive"])
            if positive:
                meta["prompt"] = positive
                negative = _text_of(graph, inputs.get("negative"))
                if negative:
                    meta["negative_prompt"] = negative
                for key in ("seed", "steps", "cfg", "sampler_name", "scheduler", "denoise"):
                    if isinstance(inputs.get(key), (int, float, str)):
                        meta["settings"][key] = inputs[key]
        if isinstance(inputs.get("ckpt_name"), str):
            meta["model"] = inputs["ckpt_name"]
        if node.get("class_type") == "EmptyLatentImage":
            meta["settings"]["size"] = f"{inputs.get('width')}x{inputs.get('height')}"
    if "prompt" not in meta:
        for node in graph.values():
            if "CLIPTextEncode" in str(node.get("class_type", "")):
                text = (node.get("inputs") or {}).get("text")
                if isinstance(text, str) and text.strip():
                    meta["prompt"] = text
                    break
    return meta


def parse_comfy_workflow(workflow: dict) -> dict:
    """ComfyUI's UI graph: ``{"nodes": [{type, widgets_values}]}``; the first text encoder's
    first widget is the prompt (the links are not followed: good enough to search by)."""
    meta: dict = {"settings": {}}
    for node in workflow.get("nodes") or []:
        values = node.get("widgets_values") or []
        kind = str(node.get("type", ""))
        if "CLIPTextEncode" in kind and values and isinstance(values[0], str):
            meta.setdefault("prompt", values[0])
        if kind.startswith("CheckpointLoader") and values and isinstance(values[0], str):
            meta["model"] = values[0]
    return meta
