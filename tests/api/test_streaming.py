"""Streaming partial images and POST /v1/images/edits, with the SDK against the live server.

The built-in renderer streams coarse-to-fine partial images of the very picture it then
completes; edits paint the prompt into the mask's transparent area. Nothing HTTP is mocked.
"""

from __future__ import annotations

import base64
import io

import openai
import pytest
import requests
from PIL import Image, ImageChops, ImageStat

from tests.utils import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "a neon city skyline at night with stars over the waves"


@pytest.fixture
def sdk(endpoint_url, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)


def decode(b64_json: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64_json, validate=True)))
    image.load()
    return image


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two pictures' RGB pixels, 0 (same) to 255."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def mask_png(size: tuple[int, int], hole: tuple[int, int, int, int]) -> bytes:
    """An opaque mask with a fully transparent rectangle ``hole``: the area to edit."""
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), hole)
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    return buffer.getvalue()


# -- generations ---------------------------------------------------------------------------------


def test_sdk_stream_with_two_partial_images(sdk):
    stream = sdk.images.generate(
        prompt=PROMPT, size="512x512", stream=True, partial_images=2, quality="high"
    )
    events = list(stream)
    assert [event.type for event in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [event.partial_image_index for event in events[:2]] == [0, 1]
    for event in events:
        assert (event.size, event.output_format, event.background) == ("512x512", "png", "opaque")
        assert event.quality == "high"
        assert isinstance(event.created_at, int)
    completed = events[-1]
    assert completed.usage.output_tokens == 16 * 16
    assert completed.usage.input_tokens_details.text_tokens == len(PROMPT.split())
    assert completed.usage.total_tokens == completed.usage.input_tokens + 16 * 16

    first, second, final = (decode(event.b64_json) for event in events)
    assert first.size == second.size == final.size == (512, 512)
    # Coarse to fine renders of the same picture: each partial differs from the final one,
    # and the later partial is the nearer.
    assert difference(first, final) > difference(second, final) > 0


def test_the_streamed_final_image_is_the_plain_answers_image(sdk):
    plain = sdk.images.generate(prompt=PROMPT, size="256x256", response_format="b64_json")
    streamed = list(sdk.images.generate(prompt=PROMPT, size="256x256", stream=True))
    assert [event.type for event in streamed] == ["image_generation.completed"]
    assert base64.b64decode(streamed[0].b64_json) == base64.b64decode(plain.data[0].b64_json)


def test_a_stream_is_an_event_stream(endpoint_url, api_key):
    response = requests.post(
        f"{endpoint_url}/images/generations",
        json={"prompt": PROMPT, "size": "256x256", "stream": True, "partial_images": 1},
        headers={"Authorization": f"Bearer {api_key}"},
        stream=True,
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-cache"
    text = response.text
    assert text.count("event: image_generation.partial_image\n") == 1
    assert text.count("event: image_generation.completed\n") == 1


def test_a_refused_stream_is_a_plain_error_with_its_status(endpoint_url, api_key):
    response = requests.post(
        f"{endpoint_url}/images/generations",
        json={"prompt": PROMPT, "stream": True, "output_format": "gif"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream"


def test_transparent_webp_with_compression_zero(sdk):
    response = sdk.images.generate(
        prompt="orbs",
        size="256x256",
        background="transparent",
        output_format="webp",
        output_compression=0,
        response_format="b64_json",
    )
    assert (response.background, response.output_format) == ("transparent", "webp")
    image = decode(response.data[0].b64_json)
    assert image.format == "WEBP" and image.mode == "RGBA"
    assert image.getextrema()[3][0] == 0  # some pixels are fully transparent
    # 0 means 0: the smallest, roughest file, not the default quality.
    default = sdk.images.generate(
        prompt="orbs",
        size="256x256",
        background="transparent",
        output_format="webp",
        response_format="b64_json",
    )
    assert len(response.data[0].b64_json) < len(default.data[0].b64_json)


def test_animated_gif(sdk):
    response = sdk.images.generate(
        prompt="stars over the sea",
        size="256x256",
        output_format="gif",
        frame_count=4,
        frame_duration_ms=120,
        response_format="b64_json",
    )
    image = decode(response.data[0].b64_json)
    assert image.format == "GIF"
    assert image.n_frames == 4
    assert image.info["duration"] == 120


# -- edits -----------------------------------------------------------------------------------


def test_sdk_edit_with_a_mask_paints_only_the_transparent_area(sdk):
    original = png_bytes((256, 192), colour=(250, 250, 250))
    response = sdk.images.edit(
        image=("photo.png", original, "image/png"),
        mask=("mask.png", mask_png((256, 192), (64, 48, 192, 144)), "image/png"),
        prompt="a dark forest",
        response_format="b64_json",
    )
    assert response.size == "256x192"
    assert response.usage.input_tokens_details.image_tokens == 8 * 6
    edited = decode(response.data[0].b64_json).convert("RGB")
    assert edited.size == (256, 192)
    # Far from the hole, the picture is what it was; in the hole, it is the prompt's.
    assert edited.getpixel((5, 5)) == (250, 250, 250)
    assert edited.getpixel((250, 186)) == (250, 250, 250)
    inside = edited.crop((80, 64, 176, 128))
    assert difference(inside, Image.new("RGB", inside.size, (250, 250, 250))) > 60


def test_sdk_edit_without_a_mask_changes_the_whole_image(sdk):
    original = png_bytes((128, 128), colour=(250, 250, 250))
    response = sdk.images.edit(
        image=("photo.png", original, "image/png"),
        prompt="a dark forest",
        size="256x256",
        response_format="b64_json",
    )
    edited = decode(response.data[0].b64_json).convert("RGB")
    assert edited.size == (256, 256)
    white = Image.new("RGB", (256, 256), (250, 250, 250))
    assert difference(edited, white) > 30
    assert edited.getpixel((0, 0)) != (250, 250, 250)


def test_sdk_edit_of_several_images_and_n(sdk):
    images = [("a.png", png_bytes((64, 64)), "image/png")] + [
        (f"{i}.jpg", _jpeg((64, 64)), "image/jpeg") for i in range(3)
    ]
    response = sdk.images.edit(image=images, prompt="waves", n=2, response_format="b64_json")
    assert len(response.data) == 2
    assert response.data[0].b64_json != response.data[1].b64_json


def test_sdk_edit_as_a_url(sdk):
    response = sdk.images.edit(
        image=("a.png", png_bytes((64, 64)), "image/png"), prompt="waves", response_format="url"
    )
    assert requests.get(response.data[0].url, timeout=10).status_code == 200


def test_sdk_edit_stream(sdk):
    original = png_bytes((256, 256), colour=(20, 20, 20))
    events = list(
        sdk.images.edit(
            image=("photo.png", original, "image/png"),
            mask=("mask.png", mask_png((256, 256), (0, 0, 128, 256)), "image/png"),
            prompt="a pastel sunset",
            stream=True,
            partial_images=3,
            input_fidelity="high",
        )
    )
    assert [event.type for event in events] == ["image_edit.partial_image"] * 3 + [
        "image_edit.completed"
    ]
    assert [event.partial_image_index for event in events[:3]] == [0, 1, 2]
    assert events[-1].usage.input_tokens_details.image_tokens == 8 * 8
    pictures = [decode(event.b64_json) for event in events]
    final = pictures[-1]
    distances = [difference(picture, final) for picture in pictures[:-1]]
    assert distances == sorted(distances, reverse=True) and distances[-1] > 0
    # Every partial keeps the unmasked half as it was.
    for picture in pictures:
        assert picture.convert("RGB").getpixel((250, 128)) == (20, 20, 20)


def _jpeg(size) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def _post_edit(endpoint_url, api_key, *, files, data=None) -> requests.Response:
    """A multipart edit: text ``data`` (a prompt unless it says otherwise) and ``files``."""
    fields = [(k, (None, v)) for k, v in ({"prompt": "a red fox"} | (data or {})).items()]
    return requests.post(
        f"{endpoint_url}/images/edits",
        files=fields + files,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )


PNG = png_bytes((64, 64))
BAD_EDITS = [
    ("no image", [], {}, "image", "missing_required_parameter"),
    ("17 images", [("image[]", ("a.png", PNG, "image/png"))] * 17, {}, "image", "too_many_images"),
    ("not an image", [("image", ("a.png", b"hello", "image/png"))], {}, "image", None),
    ("a GIF", [("image", ("a.gif", b"GIF89a" + b"\0" * 20, "image/gif"))], {}, "image", None),
    (
        "truncated PNG",
        [("image", ("a.png", PNG[:60], "image/png"))],
        {},
        "image",
        "invalid_image",
    ),
    (
        "mask of the wrong size",
        [
            ("image", ("a.png", PNG, "image/png")),
            ("mask", ("m.png", mask_png((32, 32), (0, 0, 8, 8)), "image/png")),
        ],
        {},
        "mask",
        "invalid_image_dimensions",
    ),
    (
        "mask without alpha",
        [
            ("image", ("a.png", PNG, "image/png")),
            ("mask", ("m.png", png_bytes((64, 64)), "image/png")),
        ],
        {},
        "mask",
        "invalid_image",
    ),
    (
        "JPEG mask",
        [
            ("image", ("a.png", PNG, "image/png")),
            ("mask", ("m.jpg", _jpeg((64, 64)), "image/jpeg")),
        ],
        {},
        "mask",
        "invalid_image_format",
    ),
    (
        "two masks",
        [
            ("image", ("a.png", PNG, "image/png")),
            ("mask", ("m.png", PNG, "image/png")),
            ("mask", ("n.png", PNG, "image/png")),
        ],
        {},
        "mask",
        None,
    ),
    (
        "unknown file field",
        [("image", ("a.png", PNG, "image/png")), ("picture", ("b.png", PNG, "image/png"))],
        {},
        "picture",
        "unknown_parameter",
    ),
    (
        "unknown field",
        [("image", ("a.png", PNG, "image/png"))],
        {"colour": "red"},
        "colour",
        "unknown_parameter",
    ),
    (
        "moderation is not an edit field",
        [("image", ("a.png", PNG, "image/png"))],
        {"moderation": "low"},
        "moderation",
        "unknown_parameter",
    ),
    ("n as words", [("image", ("a.png", PNG, "image/png"))], {"n": "two"}, "n", "invalid_type"),
    (
        "stream as words",
        [("image", ("a.png", PNG, "image/png"))],
        {"stream": "maybe"},
        "stream",
        "invalid_type",
    ),
    (
        "transparent jpeg",
        [("image", ("a.png", PNG, "image/png"))],
        {"background": "transparent", "output_format": "jpeg"},
        "background",
        "invalid_value",
    ),
    ("image as text", [], {"image": "a.png"}, "image", "invalid_type"),
]


@pytest.mark.parametrize(
    "files, data, param, code",
    [case[1:] for case in BAD_EDITS],
    ids=[case[0] for case in BAD_EDITS],
)
def test_bad_edits_name_the_field(endpoint_url, api_key, files, data, param, code):
    response = _post_edit(endpoint_url, api_key, files=files, data=data)
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["param"] == param
    assert param in error["message"]
    if code:
        assert error["code"] == code


def test_an_edit_body_over_the_cap_is_a_413(endpoint_url, api_key, settings):
    settings.NOVISURF_MAX_EDIT_BODY_BYTES = 100_000
    big = png_bytes((256, 256), noise=True)  # about 190 KB
    response = _post_edit(endpoint_url, api_key, files=[("image", ("a.png", big, "image/png"))])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_an_image_over_the_models_limit_names_it(endpoint_url, api_key, settings):
    settings.NOVISURF_UPSTREAM_BASE = "http://127.0.0.1:9/v1"  # never reached: refused first
    big = png_bytes((1200, 1200), noise=True)  # over DALL·E 2's 4 MB
    response = _post_edit(
        endpoint_url,
        api_key,
        files=[("image", ("a.png", big, "image/png"))],
        data={"model": "dall-e-2"},
    )
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (
        "image",
        "image_too_large",
    )


def test_an_edit_must_be_multipart_or_json(endpoint_url, api_key):
    response = requests.post(
        f"{endpoint_url}/images/edits",
        data="prompt=a red fox",
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "text/plain"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_content_type"
    # JSON is taken, with its images as data URLs.
    response = requests.post(
        f"{endpoint_url}/images/edits",
        json={"prompt": "a red fox"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "images"


def test_an_edit_needs_a_key(endpoint_url):
    response = requests.post(
        f"{endpoint_url}/images/edits", files=[("image", ("a.png", PNG, "image/png"))], timeout=30
    )
    assert response.status_code == 401
