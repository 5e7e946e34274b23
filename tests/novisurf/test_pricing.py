"""The price book: OpenAI's published prices per image and per token, providers' flat prices."""

from __future__ import annotations

from decimal import Decimal

import pytest

from novisurf.pricing import PriceBook, usd_text
from novisurf.protocol import PROCEDURAL_MODEL


@pytest.mark.parametrize(
    ("model", "size", "quality", "n", "expected"),
    [
        ("dall-e-3", "1024x1024", "standard", 1, "0.04"),
        ("dall-e-3", "1024x1792", "hd", 1, "0.12"),
        ("dall-e-3", "1024x1024", None, 1, "0.04"),
        ("dall-e-2", "512x512", None, 3, "0.054"),
        ("gpt-image-1", "1024x1024", "low", 2, "0.022"),
        ("gpt-image-1", "1536x1024", "high", 1, "0.25"),
        ("gpt-image-1-mini", "1024x1024", "medium", 1, "0.011"),
        ("gpt-image-1", "1024x1024", "auto", 1, "0.167"),
        (PROCEDURAL_MODEL, "1024x1024", "high", 4, "0"),
    ],
)
def test_the_price_book_follows_openais_prices(model, size, quality, n, expected):
    book = PriceBook(free_models=(PROCEDURAL_MODEL,))
    cost = book.cost(provider=None, model=model, size=size, quality=quality, n=n)
    assert cost.usd == Decimal(expected)


def test_usage_prices_text_and_image_input_apart():
    book = PriceBook()
    usage = {
        "input_tokens": 1000,
        "input_tokens_details": {"text_tokens": 200, "image_tokens": 800},
        "output_tokens": 1000,
    }
    cost = book.cost(
        provider=None, model="gpt-image-1", size="1024x1024", quality="low", n=1, usage=usage
    )
    assert cost.basis == "usage"
    assert cost.usd == Decimal("0.001") + Decimal("0.008") + Decimal("0.04")


def test_a_flat_price_per_image_beats_usage_and_the_table():
    book = PriceBook(provider_per_image={"cheap": Decimal("0.015")})
    usage = {"input_tokens": 10, "output_tokens": 5000}
    cost = book.cost(
        provider="cheap", model="gpt-image-1", size="1024x1024", quality="high", n=3, usage=usage
    )
    assert cost.usd == Decimal("0.045")


def test_newer_gpt_image_models_are_never_free():
    book = PriceBook()
    assert (
        book.estimate(provider=None, model="gpt-image-2", size="1024x1024", quality="auto", n=1) > 0
    )


def test_the_worst_case_of_a_big_free_size_grows_with_its_pixels():
    book = PriceBook()
    wide = book.estimate(provider=None, model="gpt-image-1", size="1536x1024", quality="high", n=1)
    huge = book.estimate(provider=None, model="gpt-image-1", size="3072x2048", quality="high", n=1)
    assert huge == wide * 4


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0", "0.00"),
        ("0.04", "0.04"),
        ("0.16665", "0.16665"),
        ("12", "12.00"),
        ("0.0000004", "0.00"),
    ],
)
def test_costs_are_written_as_plain_decimal_strings(amount, text):
    assert usd_text(Decimal(amount)) == text
