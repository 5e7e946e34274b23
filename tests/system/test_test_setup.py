"""The test setup itself: each test's files are its own, and the suite refuses to touch an
operator's bucket or shared cache; the real-server run really runs on the real servers."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from tests.servers import SETTINGS, TEST_PREFIX
from tests.utils import is_stored, stored_names

PROJECT_DIR = Path(__file__).resolve().parents[2]
REAL = os.environ.get("NOVISURF_REAL_SERVERS") == "1"


def test_files_written_by_a_test_are_its_own():
    name = default_storage.save("originals/setup-check.txt", ContentFile(b"mine"))
    assert is_stored(name)
    assert stored_names("originals") == [name]
    if "s3" in settings.STORAGES["default"]["BACKEND"].lower():
        assert default_storage.location.startswith("tests/")
        assert settings.STORAGES["default"]["OPTIONS"]["bucket_name"].startswith(TEST_PREFIX)
    else:
        assert str(settings.MEDIA_ROOT).startswith(tempfile.gettempdir())


def test_the_next_test_starts_with_no_files():
    # Runs after the test above: its file is not visible here.
    assert stored_names("originals") == []


def _pytest_with(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/novisurf/test_protocol.py",
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, "SECRET_KEY": "x" * 50, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        (
            {
                "STORAGE_BACKEND": "s3",
                "AWS_STORAGE_BUCKET_NAME": "acme-production-images",
                "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9",
            },
            "acme-production-images",
        ),
        (
            # Nothing listens there: the refusal comes before any connection.
            {"CACHE_URL": "redis://127.0.0.1:9/0", "CACHE_KEY_PREFIX": "acme"},
            "shared cache",
        ),
    ],
)
def test_the_suite_refuses_an_operators_bucket_or_cache(env, refused):
    result = _pytest_with(env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Refusing to run the tests" in result.stdout + result.stderr
    assert refused in result.stdout + result.stderr
    assert " passed" not in result.stdout


@pytest.mark.skipif(not REAL, reason="only in the run against real servers (tests/servers.py)")
@pytest.mark.django_db
def test_the_real_server_run_uses_postgresql_redis_and_s3():
    assert all(os.environ.get(key) for key in SETTINGS)
    assert connection.vendor == "postgresql"
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert settings.CACHES["default"]["KEY_PREFIX"].startswith(TEST_PREFIX)
    cache.set("setup-check", "here")
    client = cache._cache.get_client("setup-check")
    assert client.get(f"{settings.CACHES['default']['KEY_PREFIX']}:1:setup-check") is not None
    assert default_storage.__class__.__name__ == "S3Storage"
    name = default_storage.save("originals/real.txt", ContentFile(b"in the bucket"))
    head = default_storage.bucket.Object(default_storage._normalize_name(name)).get()
    assert head["Body"].read() == b"in the bucket"
