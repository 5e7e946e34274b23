"""A person's own API keys, in the browser: list, make (shown once), revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from novisurf.protocol import MODELS

from . import services
from .models import ApiKey


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Label",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. laptop script"}),
    )


# Where a new key waits, in the person's own session, for the one page that shows it.
NEW_KEY_SESSION = "keys:new"


@never_cache  # the page that shows a new key must not be kept by any cache
@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            _, raw_key = services.apikey_create(owner=request.user, name=form.cleaned_data["name"])
        except services.KeyLimitReached as exc:
            form.add_error(None, str(exc))
        else:
            # Post/redirect/get: reloading the page that shows the key makes no second key.
            request.session[NEW_KEY_SESSION] = raw_key
            return redirect("keys:list")
    # Shown once: taken out of the session by the page that shows it.
    new_key = request.session.pop(NEW_KEY_SESSION, None) if request.method == "GET" else None
    return render(
        request,
        "api/keys.html",
        {
            # The gallery's own key is the server's, not a person's: it is not listed here,
            # so that no one revokes it by mistake (`make run` repairs it if it is revoked).
            "keys": ApiKey.objects.filter(owner=request.user, is_service=False),
            "form": form,
            "new_key": new_key,
            "base_url": request.build_absolute_uri("/v1"),
            "models": [spec for spec in MODELS.values() if spec.procedural],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    """GET asks first (what stops working); POST revokes."""
    api_key = ApiKey.objects.filter(owner=request.user, pk=key_id, is_service=False).first()
    if api_key is None:
        raise Http404("No such key.")
    if request.method == "GET":
        return render(request, "api/key_revoke.html", {"key": api_key})
    services.apikey_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.prefix}… is revoked: it no longer works.")
    return redirect("keys:list")
