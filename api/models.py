"""The endpoint's records: API keys, and the images it hands out by URL for an hour."""

from __future__ import annotations

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX = "dkai_"


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True, owner__is_active=True)


class ApiKey(models.Model):
    """A key for the endpoint. Only a SHA-256 of the key is kept; the key is shown once.

    SHA-256 (not a slow password hash) is right here: keys are 256 random bits, so there is
    nothing to brute-force, and every request has to look its key up fast.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=16, help_text="The first characters of the key, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    is_service = models.BooleanField(
        default=False,
        help_text=(
            "The gallery's own key (made by `make run`): not rate-limited as an outside client, "
            "and not listed on its owner's keys page."
        ),
    )
    keep_images = models.BooleanField(
        "Keep images made with this key",
        default=True,
        help_text="Every image this key is answered with is kept in its owner's gallery.",
    )
    monthly_budget = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="USD this key may spend in a calendar month; empty: only its owner's budget.",
    )
    allowed_models = models.JSONField(
        default=list,
        blank=True,
        help_text="The model names this key may use (aliases included); empty: every model.",
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'}, {self.owner})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


def issued_image_upload_to(instance: IssuedImage, filename: str) -> str:
    # Random names, sharded by date so that no folder grows without bound; the URL that reaches
    # them is signed and expires, and the files are pruned after the same hour.
    return (
        f"api-results/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}{filename[filename.rfind('.') :]}"
    )


class IssuedImage(models.Model):
    """An image the endpoint answered with as a ``url``: kept for an hour, then pruned."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="+")
    file = models.FileField(upload_to=issued_image_upload_to, max_length=255)
    content_type = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return str(self.id)


class Spend(models.Model):
    """What one person, or one key, spent in one calendar month (UTC), and what requests in
    flight have reserved. Budgets are checked and reserved by one conditional UPDATE of this row,
    so that concurrent requests cannot together spend past a budget.

    Amounts are whole millionths of a dollar: integer arithmetic is exact in the database's own
    comparison on SQLite and PostgreSQL alike (SQLite would compare decimals as floats)."""

    scope = models.CharField(max_length=40, help_text='"user:ID" or "key:ID".')
    month = models.DateField(help_text="The first day of the month.")
    spent_micros = models.BigIntegerField(default=0)
    reserved_micros = models.BigIntegerField(default=0)
    images = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "month"], name="one_spend_per_scope_month")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.month:%Y-%m}: {self.spent_micros / 1e6:.2f} USD spent"


def month_start(moment) -> date:
    return date(moment.year, moment.month, 1)
