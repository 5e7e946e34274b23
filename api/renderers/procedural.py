"""The built-in procedural renderer: a prompt's words become palette and shapes. Not AI.

The same prompt and index always give the same image (the seed is a hash of both); different
prompts, and different images of one request, look different. Colour words ("ocean", "sunset",
"forest", "neon", "dark" …) steer the palette, subject words ("mountain", "wave", "city",
"star" …) pick the motifs, and everything else is decided by the seed. A 1024x1024 PNG takes
tens of milliseconds.
"""

from __future__ import annotations

import base64
import colorsys
import hashlib
import io
import math
import random
import re
import time
from collections.abc import Callable, Iterator

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from novisurf.protocol import CONTENT_TYPES, GenerationRequest, ProtocolError

from . import RenderedImage, RenderResult, StreamEvent

HUE_WORDS: dict[str, float] = {
    "red": 0,
    "crimson": 350,
    "rose": 345,
    "pink": 330,
    "magenta": 300,
    "purple": 275,
    "violet": 270,
    "lavender": 260,
    "indigo": 240,
    "night": 232,
    "blue": 220,
    "sky": 205,
    "ocean": 210,
    "sea": 200,
    "water": 195,
    "ice": 190,
    "snow": 200,
    "cyan": 185,
    "teal": 175,
    "mint": 155,
    "green": 125,
    "forest": 130,
    "tree": 110,
    "leaf": 95,
    "lime": 85,
    "yellow": 55,
    "gold": 46,
    "sun": 42,
    "desert": 36,
    "sand": 40,
    "orange": 28,
    "autumn": 25,
    "sunset": 18,
    "fire": 10,
    "lava": 5,
    "coffee": 25,
    "cloud": 210,
    "dashboard": 215,
}
DARK_WORDS = {"dark", "night", "midnight", "noir", "shadow", "space", "galaxy", "moody", "black"}
LIGHT_WORDS = {"light", "pastel", "soft", "white", "snow", "clean", "minimal", "airy", "morning"}
VIVID_WORDS = {"neon", "vivid", "bright", "electric", "bold", "saturated", "psychedelic"}

MOTIF_WORDS: dict[str, str] = {
    **dict.fromkeys(
        [
            "circle",
            "circles",
            "sun",
            "moon",
            "planet",
            "bubble",
            "bubbles",
            "dot",
            "dots",
            "orb",
            "ball",
        ],
        "orbs",
    ),
    **dict.fromkeys(
        ["mountain", "mountains", "peak", "hill", "hills", "landscape", "valley"], "ridges"
    ),
    **dict.fromkeys(["wave", "waves", "ocean", "sea", "water", "river", "lake", "flow"], "waves"),
    **dict.fromkeys(
        [
            "city",
            "building",
            "buildings",
            "tower",
            "skyline",
            "dashboard",
            "product",
            "grid",
            "interface",
            "block",
            "blocks",
            "cube",
        ],
        "blocks",
    ),
    **dict.fromkeys(["star", "stars", "night", "galaxy", "space", "sky", "snow", "rain"], "stars"),
    **dict.fromkeys(["triangle", "crystal", "geometric", "shard", "prism", "diamond"], "shards"),
    **dict.fromkeys(["line", "lines", "stripe", "stripes", "road", "speed", "light"], "rays"),
}
RASTER_FORMATS = ("png", "jpeg", "webp", "gif")
ALL_MOTIFS = ("orbs", "ridges", "waves", "blocks", "stars", "shards", "rays")
MOTIFS_BY_COMPLEXITY = {"low": 1, "medium": 2, "high": 3}
# One "image token" is a 32x32 block of pixels, and one text token a word of the prompt: honest,
# countable stand-ins for the tokens a GPT image model reports, not a tokenizer's numbers.
TOKEN_BLOCK = 32
# An edit with size "auto" keeps the input's size, shrunk to fit this edge.
MAX_AUTO_EDGE = 2048
GIF_FRAMES = 9
GIF_FRAME_MS = 200


def check(request: GenerationRequest) -> None:
    """Refuse, before any work, what this renderer cannot make."""
    output_format = request.options.get("output_format", "png")
    if output_format not in RASTER_FORMATS:
        raise ProtocolError(
            f"The {request.model} model makes raster images only: "
            f"output_format may be {', '.join(RASTER_FORMATS)}.",
            param="output_format",
            code="unsupported_value",
        )


def render(request: GenerationRequest) -> RenderResult:
    check(request)
    base = _edit_base(request)
    images = [
        RenderedImage(data=_final_bytes(request, index, base), content_type=_content_type(request))
        for index in range(request.n)
    ]
    return RenderResult(images=images, fields=answer_fields(request, base))


def stream(request: GenerationRequest) -> Iterator[StreamEvent]:
    """Coarse-to-fine partial images of each picture, then the picture itself.

    Partial ``k`` of ``P`` is the same composition drawn at ((k+1)/(P+1))² of the resolution and
    scaled up: each one a sharper look at the final image, not a copy of it.
    """
    check(request)
    base = _edit_base(request)
    fields = answer_fields(request, base)
    event_fields = {
        "background": fields["background"],
        "output_format": fields["output_format"],
        "quality": fields["quality"],
        "size": fields["size"],
    }
    prefix = request.event_prefix

    def events() -> Iterator[StreamEvent]:
        for index in range(request.n):
            for partial in range(request.partial_images):
                share = (partial + 1) / (request.partial_images + 1)
                picture = _picture(request, index, base, scale=share**2)
                yield StreamEvent.of(
                    {
                        "type": f"{prefix}.partial_image",
                        "b64_json": _b64(_encode_request(picture, request)),
                        "created_at": int(time.time()),
                        "partial_image_index": partial,
                        **event_fields,
                    }
                )
            yield StreamEvent.of(
                {
                    "type": f"{prefix}.completed",
                    "b64_json": _b64(_final_bytes(request, index, base)),
                    "created_at": int(time.time()),
                    **event_fields,
                    "usage": _usage(request, base, images=1),
                }
            )

    return events()


def answer_fields(request: GenerationRequest, base: Image.Image | None = None) -> dict:
    """The top-level fields of the answer besides ``data``: what was actually made."""
    width, height = _output_size(request, base)
    return {
        "background": "transparent" if _transparent(request, base) else "opaque",
        "output_format": request.options.get("output_format", "png"),
        "quality": _quality(request),
        "size": f"{width}x{height}",
        "usage": _usage(request, base, images=request.n),
    }


def _quality(request: GenerationRequest) -> str:
    quality = request.options.get("quality", "auto")
    # "low" is drawn at half resolution; every other quality is the full drawing.
    return quality if quality in ("low", "medium", "high") else "high"


def _transparent(request: GenerationRequest, base: Image.Image | None) -> bool:
    background = request.options.get("background", "auto")
    if background == "auto" and base is not None:
        return base.getextrema()[3][0] < 255
    return background == "transparent"


def _usage(request: GenerationRequest, base: Image.Image | None, *, images: int) -> dict:
    width, height = _output_size(request, base)
    text_tokens = len(re.findall(r"\w+", request.prompt))
    input_images = sum(_token_blocks(*_image_size(f.data)) for f in request.images)
    output = images * _token_blocks(width, height)
    return {
        "input_tokens": text_tokens + input_images,
        "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": input_images},
        "output_tokens": output,
        "output_tokens_details": {"text_tokens": 0, "image_tokens": output},
        "total_tokens": text_tokens + input_images + output,
    }


def _token_blocks(width: int, height: int) -> int:
    return math.ceil(width / TOKEN_BLOCK) * math.ceil(height / TOKEN_BLOCK)


def _image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _content_type(request: GenerationRequest) -> str:
    return CONTENT_TYPES[request.options.get("output_format", "png")]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _output_size(request: GenerationRequest, base: Image.Image | None) -> tuple[int, int]:
    if request.size == "auto" and base is not None:
        return base.size
    return request.dimensions


def _final_bytes(request: GenerationRequest, index: int, base: Image.Image | None) -> bytes:
    if request.options.get("output_format") == "gif":
        return _animated_gif(request, index, base)
    # "low" quality is the same picture drawn at half the resolution.
    scale = 0.5 if request.options.get("quality") == "low" else 1.0
    return _encode_request(_picture(request, index, base, scale=scale), request)


def _encode_request(picture: Image.Image, request: GenerationRequest) -> bytes:
    output_format = request.options.get("output_format", "png")
    if output_format == "gif":
        output_format = "png"  # a partial of a GIF is never asked for: GIFs do not stream
    return _encode(
        picture,
        output_format,
        request.options.get("output_compression"),
        transparent=not _known_opaque(request)
        and picture.mode == "RGBA"
        and picture.getextrema()[3][0] < 255,
    )


def _known_opaque(request: GenerationRequest) -> bool:
    # A generation not asked to be transparent is drawn on an opaque gradient: no pass over
    # its pixels is needed to learn that it is opaque. An edit's input may have any alpha.
    return not request.images and not _transparent(request, None)


def _animated_gif(request: GenerationRequest, index: int, base: Image.Image | None) -> bytes:
    """The picture building up, coarse to fine, and holding on the final frame."""
    count = request.options.get("frame_count", GIF_FRAMES)
    duration = request.options.get("frame_duration_ms", GIF_FRAME_MS)
    frames = []
    for k in range(count):
        share = (k + 1) / count
        picture = _picture(request, index, base, scale=share**2, layers=share)
        frames.append(picture.convert("RGB").quantize(256))
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0
    )
    return buffer.getvalue()


def _picture(
    request: GenerationRequest,
    index: int,
    base: Image.Image | None,
    *,
    scale: float = 1.0,
    layers: float = 1.0,
) -> Image.Image:
    """The ``index``-th picture drawn at ``scale`` of its resolution with ``layers`` of its
    motif layers (both 1 for the final picture)."""
    width, height = _output_size(request, base)
    transparent = _transparent(request, base)
    motifs = MOTIFS_BY_COMPLEXITY.get(request.options.get("complexity", ""))
    vivid = {"vivid": True, "natural": False}.get(request.options.get("style", ""))
    if base is None:
        return compose_scaled(
            request.prompt,
            index,
            width,
            height,
            scale=scale,
            layers=layers,
            transparent=transparent,
            motifs=motifs,
            vivid=vivid,
        )
    look = {"scale": scale, "layers": layers, "motifs": motifs, "vivid": vivid}
    return _edit(request, index, base.resize((width, height)), look)


def compose_scaled(
    prompt: str,
    index: int,
    width: int,
    height: int,
    *,
    scale: float = 1.0,
    layers: float = 1.0,
    transparent: bool = False,
    motifs: int | None = None,
    vivid: bool | None = None,
) -> Image.Image:
    """``compose`` drawn at ``scale`` of the resolution with ``layers`` of its motif layers, then
    scaled back up: the coarse-to-fine steps of one picture. Shapes are placed in proportion
    to the canvas, so a smaller canvas draws the same composition."""
    options = {"transparent": transparent, "motifs": motifs, "vivid": vivid, "layers": layers}
    if scale >= 1:
        return compose(prompt, index, width, height, **options)
    scale = max(scale, 1 / 32)
    small_size = (max(8, round(width * scale)), max(8, round(height * scale)))
    small = compose(prompt, index, *small_size, **options)
    return small.resize((width, height), Image.Resampling.BILINEAR)


def _edit_base(request: GenerationRequest) -> Image.Image | None:
    """The first input image as RGBA, its EXIF orientation applied; None for a generation."""
    if not request.images:
        return None
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(request.images[0].data))).convert("RGBA")
    if request.size == "auto" and max(image.size) > MAX_AUTO_EDGE:
        image.thumbnail((MAX_AUTO_EDGE, MAX_AUTO_EDGE))
    return image


def _edit(request: GenerationRequest, index: int, base: Image.Image, look: dict) -> Image.Image:
    """Paint the prompt into the image: into the mask's transparent area when there is a mask
    (its whole composition, background included), else its motifs over the whole image with a
    wash of its palette. ``input_fidelity: high`` keeps more of the original."""
    width, height = base.size
    keep = 0.75 if request.options.get("input_fidelity") == "high" else 0.5
    if request.mask is not None:
        painting = compose_scaled(request.prompt, index, width, height, **look)
        mask = Image.open(io.BytesIO(request.mask.data)).convert("RGBA").getchannel("A")
        # Fully transparent pixels (alpha 0) are the ones to edit.
        where = mask.resize((width, height)).point(lambda a: 255 if a == 0 else 0)
        where = where.filter(ImageFilter.GaussianBlur(max(1, min(width, height) // 200)))
        result = base.copy()
        result.paste(painting, (0, 0), where)
        return result
    overlay = compose_scaled(request.prompt, index, width, height, transparent=True, **look)
    # The palette alone (no motifs), drawn coarse so that it reads as a wash of colour.
    wash_look = {**look, "motifs": 0, "scale": min(look["scale"], 1 / 16)}
    wash = compose_scaled(request.prompt, index, width, height, **wash_look)
    result = Image.blend(base, wash, 1 - keep)
    result.putalpha(base.getchannel("A"))
    result.alpha_composite(overlay)
    return result


def compose(
    prompt: str,
    index: int,
    width: int,
    height: int,
    *,
    transparent: bool = False,
    motifs: int | None = None,
    vivid: bool | None = None,
    layers: float = 1.0,
) -> Image.Image:
    """The picture for ``prompt``'s ``index``-th image, as an RGBA image.

    ``motifs`` sets how many motif layers it has (else two or three, by the prompt), ``vivid``
    overrides the prompt's saturation, and ``layers`` below 1 draws only that share of them
    (the coarse steps of a stream).
    """
    words = re.findall(r"[a-z]+", prompt.lower())
    digest = hashlib.sha256(f"{prompt}\x00{index}".encode()).digest()
    rng = random.Random(digest)
    palette = _palette(words, rng, vivid=vivid)

    if transparent:
        image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    else:
        image = _gradient(width, height, palette[0], palette[1], rng)

    chosen = list(dict.fromkeys(MOTIF_WORDS[w] for w in words if w in MOTIF_WORDS))
    wanted = 2 if motifs is None else motifs
    while len(chosen) < wanted:
        choice = rng.choice(ALL_MOTIFS)
        if choice not in chosen:
            chosen.append(choice)
    chosen = chosen[: 3 if motifs is None else motifs]
    drawn = len(chosen) if layers >= 1 else math.ceil(len(chosen) * layers)
    for motif in chosen[:drawn]:
        layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        MOTIFS[motif](ImageDraw.Draw(layer), width, height, palette, rng)
        image.alpha_composite(layer)
    return image


def _palette(
    words: list[str], rng: random.Random, *, vivid: bool | None = None
) -> list[tuple[int, int, int]]:
    hues = [HUE_WORDS[w] for w in words if w in HUE_WORDS]
    base = (hues[0] if hues else rng.uniform(0, 360)) + rng.uniform(-12, 12)
    second = hues[1] if len(hues) > 1 else base + rng.choice((30, 150, 180, 210, -40))
    dark = any(w in DARK_WORDS for w in words)
    light = any(w in LIGHT_WORDS for w in words) and not dark
    if vivid is None:
        vivid = any(w in VIVID_WORDS for w in words)
    sat = rng.uniform(0.75, 1.0) if vivid else rng.uniform(0.35, 0.7)
    if dark:
        background = [(base, 0.12, sat * 0.8), (second, 0.22, sat)]
        accents = [0.55, 0.7, 0.85]
    elif light:
        background = [(base, 0.93, sat * 0.5), (second, 0.82, sat * 0.6)]
        accents = [0.45, 0.6, 0.72]
    else:
        background = [(base, rng.uniform(0.3, 0.45), sat), (second, rng.uniform(0.55, 0.7), sat)]
        accents = [0.25, 0.6, 0.85]
    colours = background + [
        (h + rng.uniform(-20, 20), lum, min(1.0, sat + 0.15))
        for h, lum in zip((second, base + 180, base + 40), accents, strict=True)
    ]
    return [_hls(h, lum, s) for h, lum, s in colours]


def _hls(hue: float, lum: float, sat: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb((hue % 360) / 360, lum, sat)
    return round(r * 255), round(g * 255), round(b * 255)


def _gradient(
    width: int, height: int, top: tuple, bottom: tuple, rng: random.Random
) -> Image.Image:
    vertical = Image.linear_gradient("L")
    direction = rng.choice(("vertical", "vertical", "horizontal", "diagonal"))
    if direction == "horizontal":
        mask = vertical.transpose(Image.Transpose.ROTATE_90)
    elif direction == "diagonal":
        mask = ImageChops.add(vertical, vertical.transpose(Image.Transpose.ROTATE_90), scale=2)
    else:
        mask = vertical
    mask = mask.resize((width, height), Image.Resampling.BILINEAR)
    return Image.composite(
        Image.new("RGBA", (width, height), (*bottom, 255)),
        Image.new("RGBA", (width, height), (*top, 255)),
        mask,
    )


def _rgba(colour: tuple[int, int, int], alpha: int) -> tuple[int, int, int, int]:
    return (*colour, alpha)


def _orbs(draw: ImageDraw.ImageDraw, w: int, h: int, palette: list, rng: random.Random) -> None:
    scale = min(w, h)
    for _ in range(rng.randint(3, 7)):
        r = rng.uniform(0.05, 0.28) * scale
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        colour = rng.choice(palette[2:])
        for ring in range(4):  # soft halo, then the body
            rr = r * (1.6 - ring * 0.2)
            draw.ellipse((x - rr, y - rr, x + rr, y + rr), fill=_rgba(colour, 25 + ring * 40))


def _ridges(draw: ImageDraw.ImageDraw, w: int, h: int, palette: list, rng: random.Random) -> None:
    layers = rng.randint(3, 5)
    for i in range(layers):
        base = h * (0.45 + 0.5 * i / layers)
        points = [(0, h)]
        x = 0.0
        while x <= w:
            points.append((x, base - rng.uniform(0.05, 0.3) * h * (1 - i / (layers + 1))))
            x += rng.uniform(0.06, 0.18) * w
        points += [(w, base - rng.uniform(0, 0.1) * h), (w, h)]
        draw.polygon(points, fill=_rgba(palette[2 + i % 3], 120 + 25 * i))


def _waves(draw: ImageDraw.ImageDraw, w: int, h: int, palette: list, rng: random.Random) -> None:
    for i in range(rng.randint(4, 7)):
        amp = rng.uniform(0.02, 0.07) * h
        freq = rng.uniform(1, 3.5) * 2 * math.pi / w
        phase = rng.uniform(0, 2 * math.pi)
        base = h * (0.35 + 0.1 * i)
        step = max(4, w // 128)
        points = [(x, base + amp * math.sin(freq * x + phase)) for x in range(0, w + step, step)]
        draw.polygon([*points, (w, h), (0, h)], fill=_rgba(palette[2 + i % 3], 70))


def _blocks(draw: ImageDraw.ImageDraw, w: int, h: int, palette: list, rng: random.Random) -> None:
    cols = rng.randint(4, 9)
    cell = w / cols
    for c in range(cols):
        top = rng.uniform(0.2, 0.75) * h
        pad = cell * rng.uniform(0.06, 0.2)
        draw.rounded_rectangle(
            (c * cell + pad, top, (c + 1) * cell - pad, h),
            radius=int(cell * 0.08),
            fill=_rgba(rng.choice(palette[2:]), rng.randint(110, 200)),
        )
        # Windows / panels, from their own generator: how many fit can change by one with the
        # canvas's rounding (a coarse partial image is smaller), and the shapes drawn after
        # them must not change with it.
        windows = random.Random(rng.random())
        for row in range(int((h - top) / (cell * 0.5))):
            if windows.random() < 0.5:
                y = top + pad + row * cell * 0.5
                draw.rectangle(
                    (c * cell + 2 * pad, y, (c + 1) * cell - 2 * pad, y + cell * 0.18),
                    fill=_rgba(palette[4], 90),
                )


def _stars(draw: ImageDraw.ImageDraw, w: int, h: int, palette: list, rng: random.Random) -> None:
    for _ in range(rng.randint(80, 220)):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.5, 2.5) * max(1, min(w, h) / 512)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, rng.randint(90, 240)))


def _shards(draw: ImageDraw.ImageDraw, w: int, h: int, palette: list, rng: random.Random) -> None:
    for _ in range(rng.randint(5, 12)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        size = rng.uniform(0.08, 0.3) * min(w, h)
        points = [
            (cx + size * math.cos(a), cy + size * math.sin(a))
            for a in sorted(rng.uniform(0, 2 * math.pi) for _ in range(3))
        ]
        draw.polygon(points, fill=_rgba(rng.choice(palette[2:]), rng.randint(70, 170)))


def _rays(draw: ImageDraw.ImageDraw, w: int, h: int, palette: list, rng: random.Random) -> None:
    ox, oy = rng.choice(((0, 0), (w, 0), (w / 2, h), (0, h / 2)))
    reach = math.hypot(w, h)
    for _ in range(rng.randint(6, 14)):
        a = rng.uniform(0, 2 * math.pi)
        spread = rng.uniform(0.01, 0.05)
        draw.polygon(
            [
                (ox, oy),
                (ox + reach * math.cos(a - spread), oy + reach * math.sin(a - spread)),
                (ox + reach * math.cos(a + spread), oy + reach * math.sin(a + spread)),
            ],
            fill=_rgba(rng.choice(palette[2:]), rng.randint(30, 90)),
        )


MOTIFS: dict[str, Callable[..., None]] = {
    "orbs": _orbs,
    "ridges": _ridges,
    "waves": _waves,
    "blocks": _blocks,
    "stars": _stars,
    "shards": _shards,
    "rays": _rays,
}


def _encode(
    image: Image.Image, output_format: str, quality: int | None, *, transparent: bool = False
) -> bytes:
    buffer = io.BytesIO()
    if output_format == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=90 if quality is None else quality)
    elif output_format == "webp":
        image.save(buffer, "WEBP", quality=90 if quality is None else quality)
    elif output_format == "gif":
        image.convert("RGB").quantize(256).save(buffer, "GIF")
    else:
        if not transparent:
            image = image.convert("RGB")  # an opaque gradient under it: no alpha to store
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
