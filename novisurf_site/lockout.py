"""Login lockouts (django-axes): which address a login comes from, what a success forgets, and
the page a locked-out login gets."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_response(
    request: HttpRequest, original_response=None, credentials=None
) -> HttpResponse:
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return render(
        request,
        "registration/lockout.html",
        {"cooloff_minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler, except that a successful login forgets only the failures of
    that account from that address. axes resets every row matching any lockout parameter, so
    one good login to an account of one's own from an address erased the failures against
    every other account from it: four guesses, one good login, repeated, was never locked."""

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address
        ).delete()
        return count


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _address(text: str):
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4-mapped IPv6 address is the IPv4 one (a dual-stack socket reports it so).
    return getattr(address, "ipv4_mapped", None) or address


def client_ip(request: HttpRequest) -> str:
    """The client's address: the connecting one, unless it is a trusted proxy
    (``NOVISURF_TRUSTED_PROXIES``); then the nearest address in ``X-Forwarded-For`` that is
    not a trusted proxy itself (what comes before it anyone could have written)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    trusted = _networks(tuple(settings.NOVISURF_TRUSTED_PROXIES))
    peer = _address(remote)
    if not trusted or peer is None or not any(peer in net for net in trusted):
        return remote
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote  # a garbled chain: believe only the proxy we know
        if not any(address in net for net in trusted):
            return str(address)
    return remote
