"""A person's own API keys, in the browser: list, make (shown once), revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from novisurf.protocol import MODELS

from . import renderers, services
from .models import ApiKey


class KeySettingsForm(forms.Form):
    keep_images = forms.BooleanField(
        label="Keep images made with this key", required=False, initial=True
    )
    monthly_budget = forms.DecimalField(
        label="Monthly budget (USD)",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="Empty: none of its own (yours still applies).",
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


class ApiKeyForm(KeySettingsForm):
    name = forms.CharField(
        label="Label",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. laptop script"}),
    )
    field_order = ["name", "keep_images", "monthly_budget"]


# Where a new key waits, in the person's own session, for the one page that shows it.
NEW_KEY_SESSION = "keys:new"


@never_cache  # the page that shows a new key must not be kept by any cache
@login_required
def key_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    keys = list(ApiKey.objects.filter(owner=request.user, is_service=False))
    if request.method == "POST" and form.is_valid():
        try:
            _, raw_key = services.apikey_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                keep_images=form.cleaned_data["keep_images"],
                monthly_budget=form.cleaned_data["monthly_budget"],
            )
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
            "keys": keys,
            "settings_forms": [
                (key, _settings_form(key)) for key in keys if key.revoked_at is None
            ],
            "form": form,
            "new_key": new_key,
            "base_url": request.build_absolute_uri("/v1"),
            "models": [spec for spec in MODELS.values() if spec.procedural],
            "available_models": [model.id for model in renderers.listed()],
        },
    )


class AllowedModelsForm(forms.Form):
    models = forms.CharField(label="Allowed models", max_length=2000, required=False)

    def clean_models(self) -> list[str]:
        return [m.strip() for m in self.cleaned_data["models"].split(",") if m.strip()]


@login_required
@require_POST
def key_models(request: HttpRequest, key_id: int) -> HttpResponse:
    """Which models a key may use: names separated by commas; empty allows every model."""
    api_key = ApiKey.objects.filter(owner=request.user, pk=key_id, is_service=False).first()
    if api_key is None:
        raise Http404("No such key.")
    form = AllowedModelsForm(request.POST)
    if form.is_valid():
        try:
            services.apikey_models_set(api_key=api_key, models=form.cleaned_data["models"])
        except services.UnknownModels as exc:
            messages.error(request, f"Key {api_key.prefix}…: {exc}")
        else:
            allowed = ", ".join(api_key.allowed_models) or "every model"
            messages.success(request, f"Key {api_key.prefix}… may use {allowed}.")
    return redirect("keys:list")


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


def _settings_form(key: ApiKey) -> KeySettingsForm:
    return KeySettingsForm(
        prefix=f"key{key.pk}",
        initial={"keep_images": key.keep_images, "monthly_budget": key.monthly_budget},
    )


@login_required
@require_POST
def key_settings(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = (
        ApiKey.objects.active().filter(owner=request.user, pk=key_id, is_service=False).first()
    )
    if api_key is None:
        raise Http404("No such key.")
    form = KeySettingsForm(request.POST, prefix=f"key{api_key.pk}")
    if form.is_valid():
        services.apikey_settings_set(
            api_key=api_key,
            keep_images=form.cleaned_data["keep_images"],
            monthly_budget=form.cleaned_data["monthly_budget"],
        )
        messages.success(request, f"Saved the settings of {api_key.name or api_key.prefix}.")
    else:
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        messages.error(request, f"Not saved: {errors}")
    return redirect("keys:list")
