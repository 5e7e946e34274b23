"""The gallery keeps every format an endpoint sends, byte-exact, and shows each one: PNG, JPEG,
WebP (transparent), animated GIF (an animated WebP thumbnail) and SVG (pixels in pages, the
original only sandboxed). A provider on loopback answers each format, as a real one would."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from PIL import Image as PILImage

from gallery import services
from gallery.models import Generation, Image
from tests.system.test_operations import s3_down  # noqa: F401 - a fixture, used by name
from tests.utils import b64, image_bytes

GENERATIONS = "/v1/images/generations"
pytestmark = pytest.mark.django_db


# -- what the provider sends ------------------------------------------------------------------


def transparent_webp() -> bytes:
    picture = PILImage.new("RGBA", (60, 40), (0, 0, 0, 0))
    picture.paste((20, 160, 220, 255), (10, 10, 50, 30))
    buffer = io.BytesIO()
    picture.save(buffer, "WEBP", lossless=True)
    return buffer.getvalue()


def animated_gif(frames: int = 6, size=(48, 32)) -> bytes:
    pictures = [
        PILImage.new("RGB", size, (40 * i % 256, 90, 200 - 20 * i % 200)) for i in range(frames)
    ]
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=True, append_images=pictures[1:], duration=120, loop=0)
    return buffer.getvalue()


SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 60">'
    b'<circle cx="30" cy="30" r="25" fill="#e03c3c"/>'
    b'<rect x="70" y="10" width="40" height="40" fill="#3c64e0"/></svg>\n'
)

FORMATS = {
    # name: (bytes, Image.format, is_animated, has_alpha, (width, height))
    "png": (image_bytes((64, 48), (200, 40, 90), noise=True), "png", False, False, (64, 48)),
    "jpeg": (image_bytes((80, 60), format="JPEG", quality=91), "jpeg", False, False, (80, 60)),
    "webp": (transparent_webp(), "webp", False, True, (60, 40)),
    "gif": (animated_gif(), "gif", True, False, (48, 32)),
    "svg": (SVG, "svg", False, True, (120, 60)),
}


@pytest.fixture
def provider(settings, httpserver):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = "sk-test"
    settings.NOVISURF_AUTH_HEADER = "bearer"
    settings.NOVISURF_THUMBNAIL_SIZE = 64
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return httpserver


def generate(provider, user, data: bytes, output_format: str) -> Generation:
    """One image of ``output_format`` asked of the provider, which answers ``data``."""
    provider.expect_oneshot_request(GENERATIONS, method="POST").respond_with_json(
        {"created": 1_700_000_000, "data": [{"b64_json": b64(data)}]}
    )
    generation = services.generation_create(
        owner=user,
        prompt=f"a {output_format} of two shapes",
        model="gpt-image-2",
        n=1,
        size="1024x1024",
        response_format="b64_json",
        tags=[],
        options={"output_format": output_format, "partial_images": 0},
    )
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    return generation


def stored_bytes(field) -> bytes:
    with field.open("rb") as handle:
        return handle.read()


def decoded(data: bytes) -> PILImage.Image:
    picture = PILImage.open(io.BytesIO(data))
    picture.load()
    return picture


# -- each format, stored and shown ------------------------------------------------------------


# Reads the original as the disk serves it (the S3 run redirects instead; see below).
@pytest.mark.filesystem
@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_is_stored_byte_exact_and_shown(provider, user, client, name):
    sent, fmt, animated, alpha, size = FORMATS[name]
    generation = generate(provider, user, sent, name)
    assert generation.status == Generation.Status.DONE, (generation.error, generation.item_errors)
    image = Image.objects.get(generation=generation)
    assert stored_bytes(image.file) == sent
    assert image.file.name.endswith({"jpeg": ".jpg"}.get(name, f".{name}"))
    assert (image.format, image.is_animated, image.has_alpha) == (fmt, animated, alpha)
    assert (image.width, image.height) == size

    thumb = decoded(stored_bytes(image.thumbnail))
    assert thumb.format == "WEBP"
    assert max(thumb.size) <= 64
    assert getattr(thumb, "n_frames", 1) == (6 if animated else 1)

    client.force_login(user)
    page = client.get(reverse("gallery:image", args=[image.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert image.prompt in html
    assert ("checker" in html) is alpha  # transparent images sit on a checkerboard
    original = client.get(reverse("gallery:image-file", args=[image.pk]))
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == sent
    expected_type = {"svg": "image/svg+xml"}.get(name, f"image/{name}")
    assert original["Content-Type"] == expected_type
    download = client.get(reverse("gallery:image-download", args=[image.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    if name != "png":  # a PNG download carries the parameters; the others are the bytes as sent
        assert download.content == sent


def test_the_animated_thumbnail_keeps_every_frame_and_its_timing(provider, user):
    generation = generate(provider, user, animated_gif(frames=9), "gif")
    image = Image.objects.get(generation=generation)
    thumb = decoded(stored_bytes(image.thumbnail))
    assert thumb.is_animated and thumb.n_frames == 9
    colours = set()
    for number in range(thumb.n_frames):
        thumb.seek(number)
        thumb.load()  # WebP frames tell their duration once decoded
        assert thumb.info["duration"] == 120
        colours.add(thumb.convert("RGB").getpixel((5, 5)))
    assert len(colours) > 1  # it moves


def test_a_bomb_of_frames_is_refused_with_a_reason(provider, user, settings):
    settings.NOVISURF_MAX_FRAMES = 40
    generation = generate(provider, user, animated_gif(frames=41, size=(4, 4)), "gif")
    assert generation.status == Generation.Status.FAILED
    assert "more than 40 frames" in generation.error
    assert not Image.objects.exists()


# -- SVG: kept as sent, never live in our pages -----------------------------------------------


def hostile_svg(recorder: str) -> bytes:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="200" height="100" onload="fetch(\'' + recorder + "/onload')\">"
        "<style>@import url(" + recorder + "/import.css);</style>"
        "<script>fetch('" + recorder + "/script')</script>"
        '<rect width="200" height="100" fill="#20a060"/>'
        '<image href="' + recorder + '/image.png" width="50" height="50"/>'
        '<image xlink:href="file:///etc/hostname" width="50" height="50"/>'
        '<image href="/etc/passwd" width="50" height="50"/>'
        '<use href="' + recorder + '/sprite.svg#a"/>'
        "</svg>"
    ).encode()


# Reads the original as the disk serves it (the S3 run redirects instead; see below).
@pytest.mark.filesystem
def test_a_hostile_svg_is_stored_as_sent_and_its_thumbnail_fetches_nothing(provider, user, client):
    recorder = provider.url_for("/recorder")
    sent = hostile_svg(recorder)
    generation = generate(provider, user, sent, "svg")
    image = Image.objects.get(generation=generation)
    assert stored_bytes(image.file) == sent  # byte-exact: nothing neutralised in the original
    thumb = decoded(stored_bytes(image.thumbnail)).convert("RGB")
    assert thumb.size == (64, 32)
    assert thumb.getpixel((50, 20)) == pytest.approx((32, 160, 96), abs=6)  # the green rect
    assert [r.path for r, _ in provider.log if r.path.startswith("/recorder")] == []

    client.force_login(user)
    html = client.get(reverse("gallery:image", args=[image.pk])).content.decode()
    original_url = reverse("gallery:image-file", args=[image.pk])
    assert f'src="{original_url}"' not in html  # never the SVG itself in one of our pages
    original = client.get(original_url)
    policy = original["Content-Security-Policy"]
    assert policy.startswith("sandbox") and "default-src 'none'" in policy
    assert original["X-Content-Type-Options"] == "nosniff"
    download = client.get(reverse("gallery:image-download", args=[image.pk]))
    assert download.content == sent
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><text>&c;</text></svg>',
            "XML entities",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
            "external references",
        ),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>', "not well-formed"),
        (b'<?xml version="1.0"?><html><svg/></html>', "not an SVG"),
    ],
)
def test_an_svg_bomb_or_broken_svg_is_refused_with_a_reason(provider, user, svg, reason):
    generation = generate(provider, user, svg, "svg")
    assert generation.status == Generation.Status.FAILED
    assert reason in generation.error
    assert not Image.objects.exists()


def test_an_svg_on_s3_is_always_a_download_from_the_store(provider, user, client, request):
    generation = generate(provider, user, SVG, "svg")
    image = Image.objects.get(generation=generation)
    request.getfixturevalue("s3_down")  # now storage is S3 (presigning needs no network)
    client.force_login(user)
    response = client.get(reverse("gallery:image-file", args=[image.pk]))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["response-content-type"] == ["image/svg+xml"]
    assert query["response-content-disposition"][0].startswith("attachment;")
    # A PNG on S3 stays a plain presigned URL: shown inline, as before.
    png = Image.objects.create(
        owner=user,
        width=1,
        height=1,
        thumbnail_width=1,
        thumbnail_height=1,
        format="png",
        file_size=1,
        content_hash="0" * 64,
        prompt="a dot",
        model="gpt-image-2",
        size="auto",
        file="originals/x.png",
        thumbnail="thumbnails/x.webp",
    )
    plain = client.get(reverse("gallery:image-file", args=[png.pk]))
    assert "response-content-disposition" not in plain["Location"]
