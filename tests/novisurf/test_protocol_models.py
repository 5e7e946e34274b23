"""The per-model table, option by option, against what the openai SDK (3.57) documents.

The expectations below are written out from the SDK's docstrings (image_generate_params.py,
image_edit_params.py, image_model.py), not read from novisurf.protocol, so that a wrong row
in the table fails here. Every option of every model is tried with every value the SDK knows.
"""

from __future__ import annotations

import typing

import pytest
from openai.types import ImageModel

from novisurf.protocol import (
    MODELS,
    PROCEDURAL_MODEL,
    InputFile,
    ProtocolError,
    validate_edit,
    validate_generation,
)
from tests.utils import png_bytes

GPT = ("low", "medium", "high", "auto")
GPT_25 = ("low", "medium", "high", "xhigh", "max", "auto")
RASTER = ("png", "webp", "jpeg")
ALL_FORMATS = ("png", "webp", "jpeg", "gif", "svg")
STANDARD = ("1024x1024", "1536x1024", "1024x1536", "auto")


def gpt(**overrides) -> dict:
    row = {
        "sizes": STANDARD,
        "free_sizes": False,
        "max_n": 10,
        "max_prompt": 32_000,
        "response_format": ("b64_json",),
        "quality": GPT,
        "style": (),
        "background": ("transparent", "opaque", "auto"),
        "output_format": RASTER,
        "output_compression": True,
        "moderation": ("low", "auto"),
        "streams": True,
        "edits": True,
        "input_fidelity": (),
        "retired": False,
    }
    return row | overrides


GPT_2 = {"free_sizes": True, "output_format": ALL_FORMATS}
GPT_25_ROW = {**GPT_2, "quality": GPT_25}
DALL_E = {
    "max_prompt": 1000,
    "response_format": ("url", "b64_json"),
    "style": (),
    "background": (),
    "output_format": (),
    "output_compression": False,
    "moderation": (),
    "streams": False,
    "retired": True,
}
EXPECTED = {
    "gpt-image-1-mini": gpt(input_fidelity=("low",)),
    "gpt-image-1.5": gpt(input_fidelity=("high", "low")),
    "chatgpt-image-latest": gpt(),
    "gpt-image-1": gpt(input_fidelity=("high", "low"), retired=True),
    "gpt-image-2": gpt(**GPT_2),
    "gpt-image-2-2026-04-21": gpt(**GPT_2),
    "gpt-image-2.5-sunburst": gpt(**GPT_25_ROW),
    "gpt-image-2.5-sunburst-2026-09-08": gpt(**GPT_25_ROW),
    "gpt-image-2.5-flare": gpt(**GPT_25_ROW),
    "gpt-image-2.5-flare-2026-09-08": gpt(**GPT_25_ROW),
    "gpt-image-2.6-sunburst": gpt(**GPT_2),
    "gpt-image-2.6-flare": gpt(**GPT_2),
    "dall-e-3": gpt(
        **DALL_E,
        sizes=("1024x1024", "1792x1024", "1024x1792"),
        max_n=1,
        quality=("standard", "hd", "auto"),
        edits=False,
    )
    | {"max_prompt": 4000, "style": ("vivid", "natural")},
    "dall-e-2": gpt(
        **DALL_E, sizes=("256x256", "512x512", "1024x1024"), quality=("standard", "auto")
    ),
    PROCEDURAL_MODEL: gpt(
        sizes=(
            "256x256",
            "512x512",
            "1024x1024",
            "1536x1024",
            "1024x1536",
            "1792x1024",
            "1024x1792",
            "auto",
        ),
        response_format=("url", "b64_json"),
        quality=("standard", "hd", "low", "medium", "high", "xhigh", "max", "auto"),
        style=("vivid", "natural"),
        output_format=("png", "webp", "jpeg", "gif"),
        input_fidelity=("high", "low"),
    ),
}
# Every value the SDK's types offer for each option.
SDK_VALUES = {
    "quality": ("standard", "hd", "low", "medium", "high", "xhigh", "max", "auto"),
    "style": ("vivid", "natural"),
    "background": ("transparent", "opaque", "auto"),
    "output_format": ALL_FORMATS,
    "moderation": ("low", "auto"),
    "response_format": ("url", "b64_json"),
}
SDK_SIZES = (
    "auto",
    "1024x1024",
    "1536x1024",
    "1024x1536",
    "256x256",
    "512x512",
    "1792x1024",
    "1024x1792",
)


def serves_all(model: str) -> bool:
    return True


def outcome(body: dict) -> str | None:
    """None when the body is accepted, else the parameter its 400 names."""
    try:
        validate_generation({"prompt": "a red fox"} | body, serves=serves_all)
    except ProtocolError as error:
        assert error.status == 400, error.message
        assert error.param and error.param in error.message
        return error.param
    return None


def test_the_table_has_every_model_the_sdk_lists():
    assert set(MODELS) - {PROCEDURAL_MODEL} == set(typing.get_args(ImageModel))
    assert set(EXPECTED) == set(MODELS)


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_retired_models_say_so(model):
    spec = MODELS[model]
    assert bool(spec.retired) == EXPECTED[model]["retired"]
    assert spec.title.endswith("(retired)") == EXPECTED[model]["retired"]


def _option_cases():
    for model, row in sorted(EXPECTED.items()):
        for name, values in SDK_VALUES.items():
            for value in values:
                yield model, name, value, value in row[name]


@pytest.mark.parametrize("model, name, value, accepted", list(_option_cases()))
def test_every_option_value_of_every_model(model, name, value, accepted):
    body = {"model": model, name: value}
    if name == "output_format" and value == "svg":
        body["n"] = 1
    if name == "background" and value == "transparent" and EXPECTED[model]["output_format"]:
        body["output_format"] = "png"
    assert outcome(body) == (None if accepted else name)


def fits_freely(size: str) -> bool:
    """The SDK's rule for gpt-image-2 and later: edges divisible by 16, 1:3 to 3:1, at most
    3840x2160."""
    if size == "auto":
        return False
    width, height = (int(edge) for edge in size.split("x"))
    return (
        width % 16 == 0
        and height % 16 == 0
        and max(width, height) <= 3 * min(width, height)
        and max(width, height) <= 3840
        and min(width, height) <= 2160
    )


FREE_SIZES = [
    ("1536x864", True),
    ("3840x2160", True),
    ("2160x3840", True),
    ("1280x3840", True),  # exactly 1:3, at the edge limits
    ("2176x3840", False),  # the short edge over 2160
    ("3856x2160", False),  # the long edge over 3840
    ("1000x1000", False),  # not divisible by 16
    ("3072x1008", False),  # wider than 3:1
    ("480x1440", True),  # exactly 1:3
    ("464x1440", False),  # narrower than 1:3
]


def test_the_free_size_rule_of_this_test():
    assert all(fits_freely(size) == fits for size, fits in FREE_SIZES)


def _size_cases():
    for model, row in sorted(EXPECTED.items()):
        for size in SDK_SIZES + tuple(size for size, _ in FREE_SIZES):
            accepted = size in row["sizes"] or (row["free_sizes"] and fits_freely(size))
            yield model, size, accepted


@pytest.mark.parametrize("model, size, accepted", list(_size_cases()))
def test_every_size_of_every_model(model, size, accepted):
    assert outcome({"model": model, "size": size}) == (None if accepted else "size")


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_largest_n_and_prompt_of_every_model(model):
    row = EXPECTED[model]
    assert outcome({"model": model, "n": row["max_n"]}) is None
    assert outcome({"model": model, "n": row["max_n"] + 1}) == "n"
    assert outcome({"model": model, "prompt": "x" * row["max_prompt"]}) is None
    assert outcome({"model": model, "prompt": "x" * (row["max_prompt"] + 1)}) == "prompt"


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_compression_and_streams_of_every_model(model):
    row = EXPECTED[model]
    lossy = {"output_format": "webp"} if "webp" in row["output_format"] else {}
    for compression in (0, 55, 100):
        body = {"model": model, "output_compression": compression, **lossy}
        assert outcome(body) == (None if row["output_compression"] else "output_compression")
    if row["output_compression"]:
        request = validate_generation(
            {"prompt": "x", "model": model, "output_format": "jpeg", "output_compression": 0},
            serves=serves_all,
        )
        assert request.options["output_compression"] == 0
        # Compression means jpeg or webp; with PNG (the default) it is accepted, as OpenAI's
        # own examples send it, and dropped: there is nothing to compress.
        assert outcome({"model": model, "output_compression": 50}) is None
        request = validate_generation(
            {"prompt": "x", "model": model, "output_compression": 50}, serves=serves_all
        )
        assert "output_compression" not in request.options
    for partial_images in (0, 1, 2, 3):
        body = {"model": model, "stream": True, "partial_images": partial_images}
        assert outcome(body) == (None if row["streams"] else "stream")
    assert outcome({"model": model, "stream": False}) is None


@pytest.mark.parametrize("model", sorted(m for m, row in EXPECTED.items() if row["background"]))
def test_transparent_needs_png_or_webp(model):
    for output_format in EXPECTED[model]["output_format"]:
        body = {"model": model, "background": "transparent", "output_format": output_format}
        if output_format == "svg":
            body["n"] = 1
        expected = None if output_format in ("png", "webp") else "background"
        assert outcome(body) == expected


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_gpt_image_models_answer_base64(model):
    request = validate_generation({"prompt": "x", "model": model}, serves=serves_all)
    assert request.response_format == (
        "b64_json" if "url" not in EXPECTED[model]["response_format"] else "url"
    )


def _edit(model: str, **fields):
    image = InputFile("image", "a.png", "image/png", png_bytes((64, 64)))
    return validate_edit(
        {"prompt": "x", "model": model, **fields}, {"image": [image]}, serves=serves_all
    )


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_edits_and_input_fidelity_of_every_model(model):
    row = EXPECTED[model]
    if not row["edits"]:
        with pytest.raises(ProtocolError) as info:
            _edit(model)
        assert info.value.param == "model"
        return
    assert _edit(model).is_edit
    for fidelity in ("high", "low"):
        if fidelity in row["input_fidelity"]:
            assert _edit(model, input_fidelity=fidelity).options["input_fidelity"] == fidelity
        else:
            with pytest.raises(ProtocolError) as info:
                _edit(model, input_fidelity=fidelity)
            assert info.value.param == "input_fidelity"
    # style and moderation are generation fields only.
    for name in ("style", "moderation"):
        with pytest.raises(ProtocolError) as info:
            _edit(model, **{name: "auto"})
        assert (info.value.param, info.value.code) == (name, "unknown_parameter")


def test_svg_and_gif_rules():
    assert outcome({"model": "gpt-image-2", "output_format": "svg", "n": 2}) == "n"
    assert outcome({"model": "gpt-image-2", "output_format": "svg", "stream": True}) == "stream"
    assert outcome({"model": "gpt-image-2", "svg": {"model": "x"}}) == "svg"
    assert outcome({"model": "gpt-image-2", "output_format": "svg", "svg": {"model": "x"}}) is None
    assert outcome({"model": "gpt-image-2", "frame_count": 4}) == "frame_count"
    assert outcome({"model": "gpt-image-2", "output_format": "gif", "frame_count": 4}) is None
    assert (
        outcome({"model": "gpt-image-2", "output_format": "gif", "frame_count": 17})
        == "frame_count"
    )
    assert outcome({"model": "gpt-image-1.5", "output_format": "gif"}) == "output_format"
