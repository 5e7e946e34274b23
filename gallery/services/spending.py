"""Money in the gallery: what a form generation cost, and whether a person's monthly budget
leaves room for one before it is queued.

The endpoint keeps the budgets (it is where money is spent); the gallery asks it through the
site's seam (``novisurf_site.keeping.budget_status``) and never imports it. A gallery pointed at
another provider has no one to ask, and queues as before.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.formats import date_format

from novisurf.pricing import PriceBook, usd_text
from novisurf_site import keeping

from ..models import Generation
from .limits import LimitReached


def generation_cost_record(
    generation: Generation, *, usage, provider: str = "", cost: str = "", images: int
) -> None:
    """Keep what the answer cost: as the endpoint said (x-novisurf-cost); else as this site's
    endpoint prices it (a stream, whose headers the client does not keep); else by OpenAI's
    published prices for the model (usage first)."""
    try:
        amount = Decimal(cost) if cost else None
    except InvalidOperation:
        amount = None
    usage = usage if isinstance(usage, dict) else None
    quality = (generation.options or {}).get("quality")
    if amount is None:
        priced = keeping.answer_price(
            model=generation.model, size=generation.size, quality=quality, n=images, usage=usage
        )
        if priced is not None:
            provider, amount = provider or priced[0], priced[1]
    if amount is None:
        amount = (
            PriceBook()
            .cost(
                provider=None,
                model=generation.model,
                size=generation.size,
                quality=quality,
                n=images,
                usage=usage,
            )
            .usd
        )
    generation.cost = amount
    generation.provider = provider[:100]
    generation.save(update_fields=["cost", "provider"])


def budget_check(*, owner, model: str, size: str, options: dict | None, n: int) -> None:
    """Raise :class:`LimitReached` when this generation could cost more than is left of the
    owner's monthly budget, saying what is left and when it resets."""
    status = keeping.budget_status(
        user_id=owner.pk, model=model, size=size, quality=(options or {}).get("quality"), n=n
    )
    if status is None or status.fits:
        return
    resets = status.resets_at
    raise LimitReached(
        f"This could cost up to ${usd_text(status.needed)}, and ${usd_text(status.left)} is left "
        f"of your monthly budget of ${usd_text(status.budget)}. It resets on "
        f"{date_format(resets, 'j F Y')} at {date_format(resets, 'H:i')} UTC.",
        limit="monthly_budget",
    )
