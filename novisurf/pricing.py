"""The price book: what an image costs, per provider and model, in US dollars (Decimal).

Two ways a price is known, as OpenAI publishes them: per image, by quality and size (DALL·E, and
OpenAI's per-image estimates for the GPT image models), or per token (the GPT image models bill
text and image input tokens and image output tokens). A provider's reported ``usage`` is the
truth where there is one; the per-image table is used otherwise, and for the worst case that a
budget reserves before a provider is called.

The defaults below are OpenAI's public prices (platform.openai.com/docs/pricing). A provider's
``price_per_image`` (the providers file) overrides them for everything that provider serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
# Costs are kept to a millionth of a dollar: a token of gpt-image-1-mini output costs $0.000008.
MICRO = Decimal("0.000001")
ZERO = Decimal("0")
MILLION = Decimal(1_000_000)

# Size tiers of OpenAI's per-image prices: the square and the "wide" (1024x1536, 1536x1024).
SQUARE = "square"
WIDE = "wide"
# The quality a request of "auto" is priced at when the worst case is wanted.
QUALITY_ORDER = ("low", "standard", "medium", "hd", "high", "xhigh", "max")


def d(value: str | int | float | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class Price:
    """One model's price. ``per_image`` maps ``(quality, tier)`` (a tier: ``square``, ``wide``,
    or an exact ``WxH``) to USD per image; ``"*"`` as the quality matches any. Token prices are
    USD per million tokens; ``None`` where the model is not billed by the token."""

    per_image: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    text_input_per_mtok: Decimal | None = None
    image_input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    # What a request that names no quality (or "auto") is billed at, where the model has one
    # (DALL·E 3: standard); None: any quality may come back, so the dearest is assumed.
    default_quality: str | None = None

    @property
    def by_token(self) -> bool:
        return self.output_per_mtok is not None

    def image_price(self, *, size: str, quality: str | None) -> Decimal:
        """USD for one image of ``size`` at ``quality`` ("auto" or none: the dearest quality)."""
        if not self.per_image:
            return ZERO
        tier = size_tier(size)
        if quality in (None, "", "auto") and self.default_quality:
            quality = self.default_quality
        # The most specific size first: the exact size, then its tier, then any size.
        for sizes in ((size,), (tier,), ("*",)):
            rows = [(q, p) for (q, t), p in self.per_image.items() if t in sizes]
            if rows:
                break
        else:
            rows = list(self.per_image.items())
        any_quality = quality in (None, "", "auto")
        candidates = [(q, p) for q, p in rows if any_quality or q in (quality, "*")]
        # A quality this table does not name: the dearest of the size, never free.
        candidates = candidates or rows
        price = max(p for _, p in candidates)
        return price * _larger_than_wide(size)

    def usage_cost(self, usage: Mapping[str, Any]) -> Decimal | None:
        """USD for the tokens ``usage`` reports, or None where it reports none we can price."""
        if not self.by_token or not isinstance(usage, Mapping):
            return None
        output = _count(usage.get("output_tokens"))
        input_total = _count(usage.get("input_tokens"))
        if output is None and input_total is None:
            return None
        details = usage.get("input_tokens_details")
        details = details if isinstance(details, Mapping) else {}
        image_in = _count(details.get("image_tokens")) or 0
        text_in = _count(details.get("text_tokens"))
        if text_in is None:
            text_in = max(0, (input_total or 0) - image_in)
        image_rate = self.image_input_per_mtok or self.text_input_per_mtok or ZERO
        cost = (
            d(text_in) * (self.text_input_per_mtok or ZERO)
            + d(image_in) * image_rate
            + d(output or 0) * (self.output_per_mtok or ZERO)
        ) / MILLION
        return cost


def size_tier(size: str) -> str:
    width, height = _dimensions(size)
    return SQUARE if width == height else WIDE


def _dimensions(size: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in str(size).lower().split("x", 1))
    except ValueError:
        return (1024, 1024)
    return (max(1, width), max(1, height))


def _larger_than_wide(size: str) -> Decimal:
    """Free sizes beyond the largest named one (1792x1024) cost in proportion to their pixels
    against the wide tier's 1536x1024."""
    width, height = _dimensions(size)
    pixels = width * height
    return d(pixels) / d(1536 * 1024) if pixels > 1792 * 1024 else Decimal(1)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _gpt_image_prices(
    text: str, image: str, output: str, low: tuple[str, str], medium: tuple, high: tuple
) -> Price:
    per_image = {}
    for quality, (square, wide) in (("low", low), ("medium", medium), ("high", high)):
        per_image[(quality, SQUARE)] = d(square)
        per_image[(quality, WIDE)] = d(wide)
    return Price(
        per_image=per_image,
        text_input_per_mtok=d(text),
        image_input_per_mtok=d(image),
        output_per_mtok=d(output),
    )


GPT_IMAGE_1 = _gpt_image_prices(
    "5", "10", "40", ("0.011", "0.016"), ("0.042", "0.063"), ("0.167", "0.25")
)
GPT_IMAGE_1_MINI = _gpt_image_prices(
    "2", "2.5", "8", ("0.005", "0.006"), ("0.011", "0.015"), ("0.036", "0.052")
)
GPT_IMAGE_1_5 = _gpt_image_prices(
    "5", "8", "32", ("0.009", "0.013"), ("0.034", "0.05"), ("0.133", "0.2")
)
DALL_E_3 = Price(
    per_image={
        ("standard", SQUARE): d("0.04"),
        ("standard", WIDE): d("0.08"),
        ("hd", SQUARE): d("0.08"),
        ("hd", WIDE): d("0.12"),
    },
    default_quality="standard",
)
DALL_E_2 = Price(
    per_image={
        ("*", "256x256"): d("0.016"),
        ("*", "512x512"): d("0.018"),
        ("*", "1024x1024"): d("0.02"),
        ("*", SQUARE): d("0.02"),
    }
)
FREE = Price()

# model -> price, for the OpenAI models this site knows. A model id that starts with one of
# these (a dated snapshot, e.g. gpt-image-1-2025-04-15) takes its price.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-image-1": GPT_IMAGE_1,
    "gpt-image-1-mini": GPT_IMAGE_1_MINI,
    "gpt-image-1.5": GPT_IMAGE_1_5,
    "chatgpt-image-latest": GPT_IMAGE_1_5,
    "dall-e-3": DALL_E_3,
    "dall-e-2": DALL_E_2,
}
# Newer GPT image models that OpenAI has not published a price for in this table: priced as
# the dearest published one, so that a budget is never under-reserved.
FAMILY_DEFAULT = {"gpt-image-": GPT_IMAGE_1}


@dataclass(frozen=True)
class Cost:
    """What an answer cost, and where the figure came from (``usage``, ``price``, ``free``)."""

    usd: Decimal
    basis: str

    def text(self) -> str:
        """The cost as a decimal string (``x-novisurf-cost``): no exponent, no trailing noise."""
        return usd_text(self.usd)


def usd_text(value: Decimal) -> str:
    whole, _, fraction = format(value.quantize(MICRO, rounding=ROUND_HALF_UP), "f").partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


class PriceBook:
    """Prices by provider and model: the defaults, per-model entries, and per-provider flat
    prices (``price_per_image``), the most specific first."""

    def __init__(
        self,
        *,
        models: Mapping[str, Price] | None = None,
        provider_models: Mapping[tuple[str, str], Price] | None = None,
        provider_per_image: Mapping[str, Decimal] | None = None,
        free_models: tuple[str, ...] = (),
        free_providers: tuple[str, ...] = (),
    ) -> None:
        self.models = {**DEFAULT_PRICES, **(models or {})}
        self.provider_models = dict(provider_models or {})
        self.provider_per_image = {k: d(v) for k, v in (provider_per_image or {}).items()}
        self.free_models = set(free_models)
        self.free_providers = set(free_providers)

    def price(self, *, provider: str | None, model: str) -> Price:
        if model in self.free_models or (provider and provider in self.free_providers):
            return FREE
        if provider and (provider, model) in self.provider_models:
            return self.provider_models[(provider, model)]
        if provider and provider in self.provider_per_image:
            return Price(per_image={("*", "*"): self.provider_per_image[provider]})
        if model in self.models:
            return self.models[model]
        for known, price in sorted(self.models.items(), key=lambda kv: -len(kv[0])):
            if model.startswith(known + "-"):
                return price
        for prefix, price in FAMILY_DEFAULT.items():
            if model.startswith(prefix):
                return price
        return FREE

    def estimate(
        self, *, provider: str | None, model: str, size: str, quality: str | None, n: int
    ) -> Decimal:
        """USD for ``n`` images by the table (``auto`` quality: the dearest)."""
        price = self.price(provider=provider, model=model)
        return price.image_price(size=size, quality=quality) * n

    def cost(
        self,
        *,
        provider: str | None,
        model: str,
        size: str,
        quality: str | None,
        n: int,
        usage: Mapping[str, Any] | None = None,
    ) -> Cost:
        """What ``n`` images cost: from ``usage`` where the model is billed by the token and the
        provider reported its tokens (and no flat price overrides it), else from the table."""
        price = self.price(provider=provider, model=model)
        if price is FREE:
            return Cost(ZERO, "free")
        if usage:
            from_usage = price.usage_cost(usage)
            if from_usage is not None:
                return Cost(from_usage, "usage")
        return Cost(price.image_price(size=size, quality=quality) * n, "price")
