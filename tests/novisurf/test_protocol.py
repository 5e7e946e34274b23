"""novisurf.protocol.validate_generation: defaults, nulls, and every rule it enforces."""

from __future__ import annotations

import pytest

from novisurf.protocol import (
    DEFAULT_MODEL,
    KNOWN_FIELDS,
    MAX_PROMPT_CHARS,
    MODELS,
    PROCEDURAL_MODEL,
    GenerationRequest,
    ProtocolError,
    error_envelope,
    parse_size,
    validate_generation,
)


def serves_everything(model: str) -> bool:
    """As the endpoint decides when an upstream is configured."""
    return True


def refused(body, **kwargs) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        validate_generation(body, **kwargs)
    return info.value


# -- defaults and nulls -----------------------------------------------------------------------


def test_defaults_are_filled_in():
    request = validate_generation({"prompt": "a red fox"})
    assert request == GenerationRequest(
        prompt="a red fox",
        model=DEFAULT_MODEL,
        n=1,
        size="1024x1024",
        response_format="url",
        options={},
    )
    assert request.model == PROCEDURAL_MODEL
    assert request.dimensions == (1024, 1024)


def test_null_means_default_for_every_optional_field():
    body = {"prompt": "a red fox"} | {name: None for name in KNOWN_FIELDS - {"prompt"}}
    request = validate_generation(body)
    assert request == validate_generation({"prompt": "a red fox"})


def test_the_default_size_follows_the_model():
    request = validate_generation({"prompt": "x", "model": "gpt-image-1"}, serves=serves_everything)
    assert request.size == "auto"
    assert request.dimensions == (1024, 1024)
    request = validate_generation({"prompt": "x", "model": "dall-e-3"}, serves=serves_everything)
    assert request.size == "1024x1024"


def test_an_unknown_model_that_is_served_defaults_to_auto():
    request = validate_generation({"prompt": "x", "model": "flux-pro"}, serves=serves_everything)
    assert request.model == "flux-pro"
    assert request.size == "auto"
    assert request.n == 1


def test_all_valid_fields_are_kept():
    request = validate_generation(
        {
            "prompt": "a red fox",
            "model": PROCEDURAL_MODEL,
            "n": 3,
            "size": "512x512",
            "response_format": "b64_json",
            "quality": "hd",
            "style": "natural",
            "output_format": "webp",
            "background": "transparent",
            "moderation": "low",
            "user": "user-42",
            "output_compression": 80,
            "stream": False,
            "partial_images": 0,
        }
    )
    assert request.n == 3
    assert request.size == "512x512"
    assert request.dimensions == (512, 512)
    assert request.response_format == "b64_json"
    assert request.options == {
        "quality": "hd",
        "style": "natural",
        "output_format": "webp",
        "background": "transparent",
        "moderation": "low",
        "user": "user-42",
        "output_compression": 80,
    }


def test_a_whole_float_is_an_integer():
    assert validate_generation({"prompt": "x", "n": 2.0}).n == 2


def test_upstream_body_leaves_out_auto_size_and_response_format():
    request = validate_generation(
        {"prompt": "x", "model": "gpt-image-1.5", "n": 2, "quality": "high"},
        serves=serves_everything,
    )
    assert request.response_format == "b64_json"
    assert request.upstream_body() == {
        "prompt": "x",
        "model": "gpt-image-1.5",
        "n": 2,
        "quality": "high",
    }
    # A URL is downloaded at once and base64 decoded: the upstream is not told which we want.
    request = validate_generation(
        {"prompt": "x", "model": "dall-e-2", "size": "512x512", "response_format": "url"},
        serves=serves_everything,
    )
    assert request.upstream_body() == {
        "prompt": "x",
        "model": "dall-e-2",
        "n": 1,
        "size": "512x512",
    }


def test_upstream_body_of_a_stream_asks_for_its_partial_images():
    request = validate_generation(
        {"prompt": "x", "model": "gpt-image-2", "stream": True, "partial_images": 2},
        serves=serves_everything,
    )
    assert (request.stream, request.partial_images) == (True, 2)
    assert request.upstream_body() == {
        "prompt": "x",
        "model": "gpt-image-2",
        "n": 1,
        "stream": True,
        "partial_images": 2,
    }


# -- the body ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [[{"prompt": "x"}], "a red fox", 42, None, True])
def test_the_body_must_be_an_object(body):
    error = refused(body)
    assert error.status == 400
    assert error.code == "invalid_type"
    assert "JSON object" in error.message


def test_an_unknown_field_is_named():
    error = refused({"prompt": "x", "colour": "red"})
    assert error.status == 400
    assert error.param == "colour"
    assert error.code == "unknown_parameter"
    assert "colour" in error.message


def test_an_unknown_field_is_reported_even_when_null():
    assert refused({"prompt": "x", "seed": None}).param == "seed"


# -- prompt -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"prompt": None}, {"n": 2}])
def test_prompt_is_required(body):
    error = refused(body)
    assert (error.status, error.param, error.code) == (400, "prompt", "missing_required_parameter")


@pytest.mark.parametrize("prompt", ["", " ", "\n\t  "])
def test_prompt_must_not_be_blank(prompt):
    error = refused({"prompt": prompt})
    assert (error.status, error.param) == (400, "prompt")


@pytest.mark.parametrize("prompt", [42, ["a", "b"], {"text": "x"}, True])
def test_prompt_must_be_a_string(prompt):
    error = refused({"prompt": prompt})
    assert (error.status, error.param, error.code) == (400, "prompt", "invalid_type")


@pytest.mark.parametrize("name", ["prompt", "user", "size"])
def test_strings_must_be_valid_unicode(name):
    body = {"prompt": "x", name: "a lone surrogate \ud800"}
    error = refused(body)
    assert (error.status, error.param, error.code) == (400, name, "invalid_value")


def test_prompt_length_limit():
    assert len(validate_generation({"prompt": "x" * MAX_PROMPT_CHARS}).prompt) == MAX_PROMPT_CHARS
    error = refused({"prompt": "x" * (MAX_PROMPT_CHARS + 1)})
    assert (error.status, error.param, error.code) == (400, "prompt", "string_above_max_length")
    assert "32,000" in error.message


# -- model ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-image-1", "dall-e-3", "no-such-model"])
def test_a_model_not_served_is_a_404(model):
    error = refused({"prompt": "x", "model": model})
    assert (error.status, error.param, error.code) == (404, "model", "model_not_found")
    assert model in error.message


def test_serves_decides_which_models_are_accepted():
    request = validate_generation({"prompt": "x", "model": "gpt-image-1"}, serves=serves_everything)
    assert request.model == "gpt-image-1"
    error = refused({"prompt": "x"}, serves=lambda model: False)
    assert error.status == 404


def test_model_must_be_a_string():
    error = refused({"prompt": "x", "model": 3})
    assert (error.status, error.param, error.code) == (400, "model", "invalid_type")


# -- n ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 5, 10])
def test_n_in_range(n):
    assert validate_generation({"prompt": "x", "n": n}).n == n


@pytest.mark.parametrize("n", [0, -1, 11, 100])
def test_n_out_of_range(n):
    error = refused({"prompt": "x", "n": n})
    assert (error.status, error.param, error.code) == (400, "n", "integer_out_of_range")


@pytest.mark.parametrize("n", ["two", "2", True, False, 1.5, [1]])
def test_n_must_be_an_integer(n):
    error = refused({"prompt": "x", "n": n})
    assert (error.status, error.param, error.code) == (400, "n", "invalid_type")


def test_n_is_limited_per_model():
    assert MODELS["dall-e-3"].max_n == 1
    error = refused({"prompt": "x", "model": "dall-e-3", "n": 2}, serves=serves_everything)
    assert (error.status, error.param, error.code) == (400, "n", "invalid_value")
    assert "dall-e-3" in error.message


# -- size -------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", MODELS[PROCEDURAL_MODEL].sizes)
def test_every_procedural_size_is_accepted(size):
    request = validate_generation({"prompt": "x", "size": size})
    assert request.size == size
    expected = (1024, 1024) if size == "auto" else tuple(int(v) for v in size.split("x"))
    assert request.dimensions == expected


@pytest.mark.parametrize("size", ["1024", "1x1", "999x999", "1024X1024", "1024x1024 ", "big", ""])
def test_a_size_not_in_the_models_list_is_refused(size):
    error = refused({"prompt": "x", "size": size})
    assert (error.status, error.param, error.code) == (400, "size", "invalid_value")
    assert "1024x1024" in error.message  # the supported sizes are listed


def test_size_must_be_a_string():
    error = refused({"prompt": "x", "size": 1024})
    assert (error.status, error.param, error.code) == (400, "size", "invalid_type")


def test_size_is_checked_against_the_models_own_list():
    # 256x256 is fine for the procedural model and DALL·E 2, not for gpt-image-1.
    error = refused(
        {"prompt": "x", "model": "gpt-image-1", "size": "256x256"}, serves=serves_everything
    )
    assert error.param == "size"
    assert validate_generation(
        {"prompt": "x", "model": "dall-e-2", "size": "256x256"}, serves=serves_everything
    ).size == ("256x256")


def test_an_unknown_models_size_is_checked_for_shape_only():
    ok = validate_generation(
        {"prompt": "x", "model": "flux", "size": "640x480"}, serves=serves_everything
    )
    assert ok.dimensions == (640, 480)
    for size in ("640", "1x1", "0x10", "wide"):
        error = refused({"prompt": "x", "model": "flux", "size": size}, serves=serves_everything)
        assert (error.param, error.code) == ("size", "invalid_value")


# -- response_format and the optional fields ------------------------------------------------


@pytest.mark.parametrize("response_format", ["url", "b64_json"])
def test_response_formats(response_format):
    request = validate_generation({"prompt": "x", "response_format": response_format})
    assert request.response_format == response_format


@pytest.mark.parametrize("response_format", ["png", "URL", "json", 1])
def test_unknown_response_format(response_format):
    error = refused({"prompt": "x", "response_format": response_format})
    assert (error.status, error.param) == (400, "response_format")


@pytest.mark.parametrize(
    "name, bad",
    [
        ("quality", "ultra"),
        ("style", "cartoon"),
        ("output_format", "bmp"),
        ("background", "checkered"),
        ("moderation", "none"),
    ],
)
def test_enum_fields_refuse_unknown_values(name, bad):
    error = refused({"prompt": "x", name: bad})
    assert (error.status, error.param, error.code) == (400, name, "invalid_value")
    assert bad in error.message


@pytest.mark.parametrize(
    "name", ["quality", "style", "output_format", "background", "moderation", "user"]
)
def test_string_fields_refuse_other_types(name):
    error = refused({"prompt": "x", name: 5})
    assert (error.status, error.param, error.code) == (400, name, "invalid_type")


@pytest.mark.parametrize("compression", [0, 50, 100])
def test_output_compression_in_range(compression):
    request = validate_generation(
        {"prompt": "x", "output_format": "webp", "output_compression": compression}
    )
    # 0 is a value (the smallest file), not "unset".
    assert request.options["output_compression"] == compression


@pytest.mark.parametrize("compression", [-1, 101])
def test_output_compression_out_of_range(compression):
    error = refused({"prompt": "x", "output_compression": compression})
    assert (error.status, error.param, error.code) == (
        400,
        "output_compression",
        "integer_out_of_range",
    )


@pytest.mark.parametrize("stream", ["yes", 1, "true"])
def test_stream_must_be_a_boolean(stream):
    error = refused({"prompt": "x", "stream": stream})
    assert (error.status, error.param, error.code) == (400, "stream", "invalid_type")


@pytest.mark.parametrize("partial_images", [0, 1, 2, 3])
def test_streaming_with_partial_images(partial_images):
    request = validate_generation({"prompt": "x", "stream": True, "partial_images": partial_images})
    assert (request.stream, request.partial_images) == (True, partial_images)
    assert "stream" not in request.options and "partial_images" not in request.options


def test_partial_images_without_streaming_are_accepted_and_mean_nothing():
    # OpenAI's own examples send them with stream false.
    request = validate_generation({"prompt": "x", "partial_images": 2, "stream": False})
    assert (request.stream, request.partial_images) == (False, 0)
    assert "partial_images" not in request.upstream_body()


def test_the_first_problem_in_field_order_is_reported():
    # An unknown field is reported before anything else is looked at.
    assert refused({"n": 0, "bogus": 1}).param == "bogus"
    # A missing prompt before a bad n.
    assert refused({"n": 0}).param == "prompt"


# -- sizes and the envelope -----------------------------------------------------------------


def test_parse_size():
    assert parse_size("1536x1024") == (1536, 1024)
    assert parse_size("auto") == (1024, 1024)
    with pytest.raises(ValueError):
        parse_size("1024")


def test_error_envelope_shape():
    assert error_envelope("Nope.", param="n", code="invalid_value") == {
        "error": {
            "message": "Nope.",
            "type": "invalid_request_error",
            "param": "n",
            "code": "invalid_value",
        }
    }
    error = refused({"prompt": "x", "n": 0})
    assert error.envelope()["error"] == {
        "message": error.message,
        "type": "invalid_request_error",
        "param": "n",
        "code": "integer_out_of_range",
    }
