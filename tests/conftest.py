"""Shared fixtures: media of each test's own, users, API keys, and the live endpoint."""

from __future__ import annotations

import copy
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from api.services import apikey_create
from tests.servers import TEST_PREFIX


def _is_s3() -> bool:
    return "s3" in django_settings.STORAGES["default"]["BACKEND"].lower()


def _is_local_cache() -> bool:
    backend = django_settings.CACHES["default"]["BACKEND"]
    return backend.endswith(("LocMemCache", "DummyCache"))


@pytest.fixture(scope="session", autouse=True)
def _only_test_services():
    """Refuse to run against a bucket or shared cache that this run did not make for itself:
    the suite deletes what it writes and clears its cache, and an operator's must never be it."""
    if _is_s3():
        bucket = django_settings.STORAGES["default"]["OPTIONS"].get("bucket_name", "")
        if not bucket.startswith(TEST_PREFIX):
            pytest.exit(
                f"Refusing to run the tests against the bucket {bucket!r}: only a bucket named "
                f"{TEST_PREFIX}… (made by `python -m tests.servers`) is the tests' own.",
                returncode=2,
            )
    if not _is_local_cache():
        prefix = django_settings.CACHES["default"].get("KEY_PREFIX", "")
        if not prefix.startswith(TEST_PREFIX):
            pytest.exit(
                f"Refusing to run the tests against the shared cache "
                f"{django_settings.CACHES['default'].get('LOCATION')!r} with key prefix "
                f"{prefix!r}: only a prefix {TEST_PREFIX}… (set by `python -m tests.servers`) "
                "is the tests' own.",
                returncode=2,
            )


def clear_test_cache() -> None:
    """Empty this run's cache: all of a local one, only this run's keys of a shared one (Redis's
    ``clear()`` would flush every key of the database, other runs' and sites' included)."""
    if _is_local_cache():
        cache.clear()
        return
    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
    assert prefix.startswith(TEST_PREFIX)
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path, request):
    """Every test writes its files in a place of its own, never the real media: a temporary
    folder on disk, or a prefix of its own in this run's bucket on S3. A test marked
    ``filesystem`` (it tests serving files from disk) gets the folder on every run."""
    if _is_s3() and not request.node.get_closest_marker("filesystem"):
        storages = copy.deepcopy(settings.STORAGES)
        storages["default"]["OPTIONS"]["location"] = f"tests/{uuid.uuid4().hex}"
        settings.STORAGES = storages
    else:
        if _is_s3():
            storages = copy.deepcopy(settings.STORAGES)
            storages["default"] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
            settings.STORAGES = storages
            settings.NOVISURF_FILE_DELIVERY = "stream"  # what the settings pick for a disk
        settings.MEDIA_ROOT = tmp_path / "media"
    # Users are made in most tests; the real hasher would spend a quarter second on each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Hermetic: whatever .env or a running `make run` says, the gallery calls nothing real
    # (port 9 is closed) unless a test points it somewhere.
    settings.NOVISURF_API_BASE = "http://127.0.0.1:9/v1"
    settings.NOVISURF_API_KEY = ""
    settings.NOVISURF_UPSTREAM_BASE = ""
    settings.NOVISURF_UPSTREAM_KEY = ""
    settings.NOVISURF_PROVIDERS_FILE = ""
    settings.NOVISURF_RATE_LIMIT_PER_MINUTE = 1000
    clear_test_cache()
    yield
    clear_test_cache()


# The fake providers, their CDNs and delivery hosts all live on loopback, standing in for
# public hosts: the tests allow their downloads as an operator would allow a CDN on the local
# network. Tests of request forgery set ``private_hosts=()`` on their client.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@pytest.fixture(autouse=True)
def _loopback_downloads(monkeypatch):
    from novisurf import client

    monkeypatch.setattr(client, "PRIVATE_DOWNLOAD_HOSTS", LOOPBACK_HOSTS)


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
def service_key(user) -> str:
    """The gallery's own key (as `make run` makes it): its answers are not kept twice."""
    _, raw_key = apikey_create(owner=user, name="gallery", is_service=True)
    return raw_key


@pytest.fixture
def gallery_endpoint(settings, endpoint_url, service_key) -> str:
    """Point the gallery at the live endpoint with its own key, as `make run` does."""
    settings.NOVISURF_API_BASE = endpoint_url
    settings.NOVISURF_API_KEY = service_key
    settings.NOVISURF_AUTH_HEADER = "bearer"
    return endpoint_url
