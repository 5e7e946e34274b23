"""The seam between the endpoint and the gallery: what the endpoint answered, for whoever keeps
it, and what a person may still spend, for whoever asks.

``api`` and ``gallery`` never import each other. The endpoint sends :data:`images_answered`
after a successful answer (whether anyone listens or not); the gallery, wired in
``novisurf_site.apps``, receives it and keeps the images in the key owner's library. The
endpoint registers :func:`budget_provider` so that the gallery's form can say, before it
queues anything, what is left of a person's budget. An endpoint without a gallery, or a
gallery pointed at another provider, each works alone: nobody listens, nobody answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.dispatch import Signal

# Sent with ``answered=AnsweredImages(...)`` once the endpoint has its images in hand.
images_answered = Signal()


@dataclass(frozen=True)
class AnsweredImage:
    """One image of an answer: where its bytes are in the default storage (or, if they could
    not be written there, the bytes themselves as base64)."""

    content_type: str
    storage_name: str = ""
    # True: the name is the keeper's to delete once the image is kept (a hand-off file);
    # False: someone else's (an image issued by URL, pruned with its link).
    owned: bool = True
    b64: str = ""
    revised_prompt: str = ""


@dataclass(frozen=True)
class AnsweredImages:
    """Everything needed to keep one answer as a generation of the key's owner."""

    answer_id: str  # a UUID: keeping the same answer twice keeps it once
    owner_id: int
    key_id: int
    key_name: str
    kind: str  # "generate" or "edit"
    prompt: str
    model: str
    n: int
    size: str
    response_format: str
    options: dict[str, Any]
    provider: str
    cost: str  # USD, a decimal string
    usage: dict[str, Any] | None
    images: list[AnsweredImage]
    # SHA-256 of each input image of an edit: the one the owner has is its "Made from".
    input_hashes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnsweredImages:
        images = [AnsweredImage(**image) for image in data.get("images", [])]
        return cls(**{**data, "images": images})


@dataclass(frozen=True)
class BudgetStatus:
    """A person's month: their budget (None: no limit), what is spent or reserved, what a
    request would need, and when the month resets."""

    budget: Decimal | None
    used: Decimal
    needed: Decimal
    resets_at: datetime

    @property
    def left(self) -> Decimal | None:
        return None if self.budget is None else max(Decimal(0), self.budget - self.used)

    @property
    def fits(self) -> bool:
        return self.budget is None or self.used + self.needed <= self.budget


# (user_id, model, size, quality, n) -> BudgetStatus; registered by the endpoint's app.
_budget_provider: Callable[..., BudgetStatus | None] | None = None
# (model, size, quality, n, usage) -> (provider, USD): how the endpoint prices an answer;
# registered by the endpoint's app, for generations whose answer did not say (streams).
_pricer: Callable[..., tuple[str, Decimal]] | None = None
# user_id -> that person's own monthly budget (USD) where it differs from the site's default;
# registered by whoever keeps per-person limits (the gallery's limits, edited in the admin).
_person_budget: Callable[[int], Decimal | None] | None = None


def budget_provider(function: Callable[..., BudgetStatus | None]) -> None:
    global _budget_provider
    _budget_provider = function


def pricer(function: Callable[..., tuple[str, Decimal]]) -> None:
    global _pricer
    _pricer = function


def answer_price(
    *, model: str, size: str, quality: str | None, n: int, usage: dict | None
) -> tuple[str, Decimal] | None:
    """The provider the endpoint routes ``model`` to and what such an answer costs there;
    None where no endpoint is here to say."""
    if _pricer is None:
        return None
    return _pricer(model=model, size=size, quality=quality, n=n, usage=usage)


def person_budget_provider(function: Callable[[int], Decimal | None]) -> None:
    global _person_budget
    _person_budget = function


def budget_status(
    *, user_id: int, model: str, size: str, quality: str | None, n: int
) -> BudgetStatus | None:
    """What is left of ``user_id``'s budget for this request; None where nothing keeps budgets."""
    if _budget_provider is None:
        return None
    return _budget_provider(user_id=user_id, model=model, size=size, quality=quality, n=n)


def person_budget(user_id: int) -> Decimal | None:
    """The person's own budget, if one was set for them; None: the site's default applies."""
    return None if _person_budget is None else _person_budget(user_id)
