"""Usage: images and what they cost per day, source, key, model and provider (a person's own;
staff see everyone's), as a page and as the same rows in a CSV; and the tokens each answer
reported, per day and per model."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from novisurf.pricing import usd_text

from .. import selectors
from ..models import Generation
from ..provider_client import model_label

SOURCE_LABELS = dict(Generation.Source.choices)


def _month(request: HttpRequest) -> tuple[datetime, datetime]:
    """The month asked for (``?month=YYYY-MM``, UTC, as budgets count it), else this one."""
    now = datetime.now(UTC)
    try:
        start = datetime.strptime(request.GET.get("month", ""), "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        start = datetime(now.year, now.month, 1, tzinfo=UTC)
    end = (
        datetime(start.year + 1, 1, 1, tzinfo=UTC)
        if start.month == 12
        else datetime(start.year, start.month + 1, 1, tzinfo=UTC)
    )
    return start, end


def _rows(request: HttpRequest, start: datetime, end: datetime) -> list[selectors.UsageRow]:
    owner = None if request.user.is_staff else request.user
    return selectors.usage_rows(owner=owner, start=start, end=end)


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    start, end = _month(request)
    rows = _rows(request, start, end)
    previous = datetime(start.year - (start.month == 1), (start.month - 2) % 12 + 1, 1)
    this_month = datetime.now(UTC).strftime("%Y-%m")
    return render(
        request,
        "gallery/usage.html",
        {
            "rows": rows,
            "everyone": request.user.is_staff,
            "month": start,
            "month_param": start.strftime("%Y-%m"),
            "previous_month": previous.strftime("%Y-%m"),
            "next_month": end.strftime("%Y-%m") if end.strftime("%Y-%m") <= this_month else "",
            "total_images": sum(row.images for row in rows),
            "total_cost": sum((row.cost for row in rows), Decimal(0)),
            "source_labels": SOURCE_LABELS,
            "by_day": selectors.usage_by_day(owner=request.user),
            "by_model": selectors.usage_by_model(owner=request.user),
        },
    )


@login_required
def usage_csv(request: HttpRequest) -> HttpResponse:
    """The page's rows as CSV: blank where there is nothing to name, never "None"."""
    start, end = _month(request)
    rows = _rows(request, start, end)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="novisurf-usage-{start:%Y-%m}.csv"'
    writer = csv.writer(response)
    header = ["day", "source", "key", "model", "provider", "images", "cost_usd"]
    if request.user.is_staff:
        header.insert(1, "person")
    writer.writerow(header)
    for row in rows:
        line = [
            row.day.isoformat(),
            SOURCE_LABELS.get(row.source, row.source),
            row.key,
            model_label(row.model) if row.model else "",
            row.provider,
            row.images,
            usd_text(row.cost),
        ]
        if request.user.is_staff:
            line.insert(1, row.person)
        writer.writerow(line)
    return response
