"""Per-person limits: how many images a day, how much storage, how many running at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format

from ..models import Generation, Image, UserLimits


class LimitReached(Exception):
    """A per-person limit stops this generation; the message says which and until when."""

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


@dataclass(frozen=True)
class Limits:
    max_running: int
    images_per_day: int  # 0: no limit
    max_bytes: int  # 0: no limit


def limits_for(*, user) -> Limits:
    override = UserLimits.objects.filter(user=user).first()

    def pick(name: str, default: int) -> int:
        value = getattr(override, name, None) if override else None
        return default if value is None else value

    return Limits(
        max_running=pick("max_running", settings.NOVISURF_USER_MAX_RUNNING),
        images_per_day=pick("images_per_day", settings.NOVISURF_USER_IMAGES_PER_DAY),
        max_bytes=pick("max_bytes", settings.NOVISURF_USER_MAX_BYTES),
    )


def monthly_budget_of(user_id: int) -> Decimal | None:
    """The USD a month this person was given in the admin, or None: the site's default."""
    return (
        UserLimits.objects.filter(user_id=user_id, monthly_budget__isnull=False)
        .values_list("monthly_budget", flat=True)
        .first()
    )


def limits_check(*, owner, n: int, now: datetime | None = None) -> None:
    """Raise :class:`LimitReached` if ``n`` more images would pass one of the owner's limits."""
    now = now or timezone.now()
    limits = limits_for(user=owner)
    if limits.images_per_day:
        day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        today = Generation.objects.filter(owner=owner, created_at__gte=day_start)
        used = (
            today.exclude(
                status__in=(Generation.Status.FAILED, Generation.Status.CANCELLED)
            ).aggregate(total=Sum("n"))["total"]
            or 0
        )
        # A cancelled generation counts the images it had stored before it was stopped.
        used += Image.objects.filter(
            generation__in=today.filter(status=Generation.Status.CANCELLED)
        ).count()
        if used + n > limits.images_per_day:
            resets = day_start + timedelta(days=1)
            left = max(0, limits.images_per_day - used)
            raise LimitReached(
                f"You have reached your limit of {limits.images_per_day} images a day "
                f"({used} made or on their way today, {left} left). It resets at "
                f"{date_format(timezone.localtime(resets), 'H:i')} "
                f"on {date_format(timezone.localtime(resets), 'j M')}.",
                limit="images_per_day",
            )
    if limits.max_bytes:
        stored = Image.objects.filter(owner=owner).aggregate(total=Sum("file_size"))["total"] or 0
        if stored >= limits.max_bytes:
            raise LimitReached(
                f"Your images take {_size(stored)} of your {_size(limits.max_bytes)} of storage "
                "(images in the trash count until it is emptied). Delete some to make room.",
                limit="max_bytes",
            )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
