"""A person's usage: the tokens their generations' answers reported, per day and per model."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .. import selectors


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "gallery/usage.html",
        {
            "by_day": selectors.usage_by_day(owner=request.user),
            "by_model": selectors.usage_by_model(owner=request.user),
        },
    )
