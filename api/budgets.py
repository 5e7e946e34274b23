"""Money at the endpoint: the site's price book, and monthly budgets per person and per key.

A request's worst case is reserved before any provider is called, by one conditional UPDATE per
budget (``spent + reserved + amount <= budget``), and settled with what it really cost once the
answer is in: whatever the database (SQLite's one writer, PostgreSQL's row locks re-checking
the condition), concurrent requests can never together spend past a budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from novisurf.pricing import PriceBook, usd_text
from novisurf.protocol import MODELS, GenerationRequest, ProtocolError
from novisurf_site import keeping

from .models import ApiKey, Spend, month_start
from .renderers.builtin import BUILTIN_PROVIDER
from .renderers.registry import router

logger = logging.getLogger(__name__)
MICROS = Decimal(1_000_000)


def price_book() -> PriceBook:
    """The defaults, with each configured provider's ``price_per_image`` over them; the
    renderer built in is free."""
    per_image = {
        renderer.name: Decimal(str(renderer.config.price_per_image))
        for renderer in _router_renderers()
        if renderer.config.price_per_image is not None
    }
    free = tuple(model for model, spec in MODELS.items() if spec.procedural)
    return PriceBook(
        provider_per_image=per_image, free_models=free, free_providers=(BUILTIN_PROVIDER,)
    )


def _router_renderers() -> list:
    try:
        return list(router().renderers.values())
    except Exception:  # a providers file that does not load is reported where it is loaded
        logger.debug("No router to price providers by", exc_info=True)
        return []


def provider_for(model: str) -> str:
    """The name of the provider that will serve ``model`` first (before it is asked)."""
    try:
        routes = router().routes(model)
    except Exception:
        routes = []
    return routes[0].renderer.name if routes else ""


def worst_case(*, request: GenerationRequest, provider: str) -> Decimal:
    """The most ``request`` can cost by the price book: every image at its dearest quality."""
    return price_book().estimate(
        provider=provider,
        model=request.model,
        size=request.size,
        quality=request.options.get("quality"),
        n=request.n,
    )


def request_cost(*, request: GenerationRequest, provider: str, usage, images: int) -> Decimal:
    """What the answer cost: the provider's ``usage`` where it reports tokens, else the table
    for the images that came back."""
    return (
        price_book()
        .cost(
            provider=provider,
            model=request.model,
            size=request.size,
            quality=request.options.get("quality"),
            n=images,
            usage=usage if isinstance(usage, dict) else None,
        )
        .usd
    )


def answer_price(
    *, model: str, size: str, quality: str | None, n: int, usage: dict | None
) -> tuple[str, Decimal]:
    """The provider ``model`` goes to and what ``n`` images from it cost (for the gallery's
    streamed generations, whose answer's headers it does not see)."""
    provider = provider_for(model)
    cost = price_book().cost(
        provider=provider, model=model, size=size, quality=quality, n=n, usage=usage
    )
    return provider, cost.usd


# -- budgets ---------------------------------------------------------------------------------


def person_budget(*, user_id: int) -> Decimal | None:
    """The person's monthly budget in USD, or None for no limit (0 means none, too)."""
    own = keeping.person_budget(user_id)
    budget = own if own is not None else settings.NOVISURF_USER_MONTHLY_BUDGET
    return Decimal(budget) if budget else None


def key_budget(*, api_key: ApiKey | None) -> Decimal | None:
    if api_key is None or not api_key.monthly_budget:
        return None
    return Decimal(api_key.monthly_budget)


def to_micros(amount: Decimal) -> int:
    return int((Decimal(amount) * MICROS).to_integral_value(rounding=ROUND_CEILING))


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS).quantize(Decimal("0.000001"))


def month_end(moment: datetime) -> datetime:
    """When the month of ``moment`` (UTC) resets: the first instant of the next one."""
    moment = moment.astimezone(UTC)
    if moment.month == 12:
        return datetime(moment.year + 1, 1, 1, tzinfo=UTC)
    return datetime(moment.year, moment.month + 1, 1, tzinfo=UTC)


@dataclass
class Reservation:
    """Money held for one request: released or turned into spending by :func:`spend_settle`."""

    micros: int = 0
    rows: list[int] = field(default_factory=list)
    settled: bool = False


class OverBudget(ProtocolError):
    """429 ``insufficient_quota``, as OpenAI answers a request that its billing refuses."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=429, type="insufficient_quota", code="insufficient_quota")


def _row(scope: str, month) -> int:
    pk = Spend.objects.filter(scope=scope, month=month).values_list("pk", flat=True).first()
    if pk is not None:
        return pk
    try:
        with transaction.atomic():
            return Spend.objects.create(scope=scope, month=month).pk
    except IntegrityError:  # another request made it first
        return Spend.objects.get(scope=scope, month=month).pk


def spend_reserve(
    *, user_id: int, api_key: ApiKey | None, amount: Decimal, now: datetime | None = None
) -> Reservation:
    """Hold ``amount`` against the person's budget and the key's, or raise :class:`OverBudget`
    naming what is left and when it resets. Nothing is held for a free request."""
    micros = to_micros(amount)
    if micros <= 0:
        return Reservation()
    now = now or timezone.now()
    month = month_start(now.astimezone(UTC))
    scopes = [(f"user:{user_id}", person_budget(user_id=user_id), "your monthly budget")]
    if api_key is not None and not api_key.is_service:
        scopes.append(
            (f"key:{api_key.pk}", key_budget(api_key=api_key), "this key's monthly budget")
        )
    rows = [(_row(scope, month), budget, what) for scope, budget, what in scopes]
    with transaction.atomic():
        for pk, budget, what in rows:
            held = Spend.objects.filter(pk=pk)
            if budget is not None:
                held = held.filter(
                    spent_micros__lte=to_micros(budget) - micros - F("reserved_micros")
                )
            if not held.update(reserved_micros=F("reserved_micros") + micros):
                raise OverBudget(_over_message(pk, budget, what, amount, now))
    return Reservation(micros=micros, rows=[pk for pk, _, _ in rows])


def _over_message(pk: int, budget: Decimal, what: str, amount: Decimal, now: datetime) -> str:
    row = Spend.objects.get(pk=pk)
    left = max(Decimal(0), budget - from_micros(row.spent_micros + row.reserved_micros))
    resets = month_end(now)
    return (
        f"This request could cost up to ${usd_text(amount)}, more than is left of {what} "
        f"(${usd_text(left)} of ${usd_text(budget)}). It resets on {resets:%d %B %Y} at "
        f"00:00 UTC."
    )


def spend_settle(*, reservation: Reservation, cost: Decimal, images: int = 0) -> None:
    """Release the hold and record what was really spent (0 for a request that failed)."""
    if reservation.settled:
        return
    reservation.settled = True
    spent = to_micros(cost) if cost else 0
    if not reservation.rows and not spent:
        return
    try:
        with transaction.atomic():
            for pk in reservation.rows:
                Spend.objects.filter(pk=pk).update(
                    reserved_micros=F("reserved_micros") - reservation.micros,
                    spent_micros=F("spent_micros") + spent,
                    images=F("images") + images,
                )
    except Exception:
        # The answer is already on its way; a hold left behind only errs on the safe side.
        logger.exception("Could not settle a budget reservation of %s micro-USD", spent)


def spend_record(
    *, user_id: int, api_key: ApiKey | None, cost: Decimal, images: int, now=None
) -> None:
    """Record spending that nothing reserved (a request too cheap to hold anything for)."""
    if not cost:
        return
    month = month_start((now or timezone.now()).astimezone(UTC))
    scopes = [f"user:{user_id}"]
    if api_key is not None and not api_key.is_service:
        scopes.append(f"key:{api_key.pk}")
    spend_settle(
        reservation=Reservation(rows=[_row(scope, month) for scope in scopes]),
        cost=cost,
        images=images,
    )


def budget_status(
    *, user_id: int, model: str, size: str, quality: str | None, n: int
) -> keeping.BudgetStatus:
    """The person's month for the gallery's form: budget, used, what this request needs."""
    now = timezone.now()
    row = Spend.objects.filter(
        scope=f"user:{user_id}", month=month_start(now.astimezone(UTC))
    ).first()
    used = from_micros(row.spent_micros + row.reserved_micros) if row else Decimal(0)
    provider = provider_for(model)
    needed = price_book().estimate(provider=provider, model=model, size=size, quality=quality, n=n)
    return keeping.BudgetStatus(
        budget=person_budget(user_id=user_id), used=used, needed=needed, resets_at=month_end(now)
    )
