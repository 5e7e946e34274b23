"""What several benchmarks share: the prompt, a request for one 1024x1024 PNG, a user."""

from __future__ import annotations

import functools

from novisurf.protocol import PROCEDURAL_MODEL, GenerationRequest, validate_generation

# Colour, darkness and three motifs (blocks, stars, waves): a typical, not a trivial, picture.
PROMPT = "a neon city skyline at night with stars over the waves"
SIZE = "1024x1024"
BODY = {"prompt": PROMPT, "model": PROCEDURAL_MODEL, "n": 1, "size": SIZE}


def generation_request(response_format: str = "b64_json") -> GenerationRequest:
    return validate_generation({**BODY, "response_format": response_format})


@functools.cache
def rendered_png() -> bytes:
    """The renderer's PNG for the prompt: what the gallery receives from the endpoint."""
    from api.renderers import procedural

    return procedural.render(generation_request()).images[0].data


@functools.cache
def bench_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("bench", password="bench-password-123")
