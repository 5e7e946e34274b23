"""The keys page: "Keep images made with this key" and a key's own monthly budget."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from api.models import ApiKey
from api.services import apikey_create

pytestmark = pytest.mark.django_db


def test_a_new_key_keeps_its_images_unless_told_not_to(client, user):
    client.force_login(user)
    page = client.get(reverse("keys:list")).content.decode()
    assert "Keep images made with this key" in page
    assert 'name="keep_images"' in page and "checked" in page
    client.post(reverse("keys:list"), {"name": "kept", "keep_images": "on"})
    client.post(reverse("keys:list"), {"name": "not kept", "monthly_budget": "2.50"})
    kept, not_kept = ApiKey.objects.get(name="kept"), ApiKey.objects.get(name="not kept")
    assert kept.keep_images and kept.monthly_budget is None
    assert not not_kept.keep_images and not_kept.monthly_budget == Decimal("2.50")


def test_a_keys_settings_are_saved(client, user):
    key, _ = apikey_create(owner=user, name="script")
    client.force_login(user)
    page = client.get(reverse("keys:list")).content.decode()
    assert "Save settings of key script" in page
    response = client.post(
        reverse("keys:settings", args=[key.pk]),
        {f"key{key.pk}-monthly_budget": "5", f"key{key.pk}-keep_images": ""},
        follow=True,
    )
    assert "Saved the settings of script" in response.content.decode()
    key.refresh_from_db()
    assert not key.keep_images and key.monthly_budget == Decimal("5")


def test_a_negative_budget_is_refused_with_words(client, user):
    key, _ = apikey_create(owner=user, name="script")
    client.force_login(user)
    response = client.post(
        reverse("keys:settings", args=[key.pk]),
        {f"key{key.pk}-monthly_budget": "-1", f"key{key.pk}-keep_images": "on"},
        follow=True,
    )
    assert "Not saved" in response.content.decode()
    key.refresh_from_db()
    assert key.monthly_budget is None


def test_nobody_sets_someone_elses_key(client, user, other_user):
    key, _ = apikey_create(owner=user, name="script")
    client.force_login(other_user)
    response = client.post(
        reverse("keys:settings", args=[key.pk]), {f"key{key.pk}-keep_images": ""}
    )
    assert response.status_code == 404
    key.refresh_from_db()
    assert key.keep_images
