"""Shared fixtures: media in a temporary folder, users, API keys, and the live endpoint."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from api.services import apikey_create


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Every test writes its files under its own temporary folder, never the real media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    # Users are made in most tests; the real hasher would spend a quarter second on each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Hermetic: whatever .env or a running `make run` says, the gallery calls nothing real
    # (port 9 is closed) unless a test points it somewhere.
    settings.NOVISURF_API_BASE = "http://127.0.0.1:9/v1"
    settings.NOVISURF_API_KEY = ""
    settings.NOVISURF_UPSTREAM_BASE = ""
    settings.NOVISURF_UPSTREAM_KEY = ""
    settings.NOVISURF_RATE_LIMIT_PER_MINUTE = 1000
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password-123")


@pytest.fixture
def api_key(user) -> str:
    """A raw API key belonging to ``user``."""
    _, raw_key = apikey_create(owner=user, name="tests")
    return raw_key


@pytest.fixture
def endpoint_url(live_server) -> str:
    """This site's own endpoint, served for real on loopback."""
    return f"{live_server.url}/v1"


@pytest.fixture
def gallery_endpoint(settings, endpoint_url, api_key) -> str:
    """Point the gallery at the live endpoint with a valid key, as `make run` does."""
    settings.NOVISURF_API_BASE = endpoint_url
    settings.NOVISURF_API_KEY = api_key
    settings.NOVISURF_AUTH_HEADER = "bearer"
    return endpoint_url
