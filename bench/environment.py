"""Django for the benchmarks: a throwaway SQLite database and media folder, or (``--scale``)
PostgreSQL, Redis and S3 started for the run; never the real ones."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# A loopback port nothing listens on: the gallery's model list fails at once, never waits.
CLOSED_API_BASE = "http://127.0.0.1:9/v1"


def _setup_django() -> None:
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novisurf_site.settings")
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))

    import django

    django.setup()
    # WhiteNoise warns that staticfiles/ (collectstatic's output) is missing: not measured here.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    # A view that fails is reported by the benchmark itself, in one line.
    logging.getLogger("django.request").setLevel(logging.CRITICAL)


@contextmanager
def scale_environment() -> Iterator[dict[str, str]]:
    """Django on PostgreSQL, Redis and S3 started for this run (tests/servers.py), stopped and
    removed at the end; yields the servers' settings, for the processes a benchmark starts."""
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))
    from tests.servers import TEST_PREFIX, real_servers

    with real_servers() as servers:
        os.environ.update(servers.env)
        os.environ["NOVISURF_API_BASE"] = CLOSED_API_BASE
        os.environ["NOVISURF_UPSTREAM_BASE"] = ""
        os.environ["NOVISURF_RATE_LIMIT_PER_MINUTE"] = "1000000"
        os.environ["DEBUG"] = "false"
        _setup_django()

        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        db_name = str(settings.DATABASES["default"]["NAME"])
        bucket = settings.STORAGES["default"]["OPTIONS"]["bucket_name"]
        if not (db_name.startswith(TEST_PREFIX) and bucket.startswith(TEST_PREFIX)):
            raise RuntimeError(f"Refusing to run: {db_name} or {bucket} is not this run's own.")
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        call_command("migrate", verbosity=0)
        try:
            yield servers.env
        finally:
            connections.close_all()


@contextmanager
def django_environment() -> Iterator[Path]:
    """Set up Django on a temporary database and media folder; remove both afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="novisurf-bench-"))
    try:
        # Real environment variables win over .env, and settings read them at import time, so
        # these are set before anything imports the settings.
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
        os.environ["MEDIA_ROOT"] = str(workdir / "media")
        os.environ["STORAGE_BACKEND"] = "filesystem"
        os.environ["CACHE_URL"] = "locmemcache://novisurf-bench"
        os.environ["NOVISURF_API_BASE"] = CLOSED_API_BASE
        os.environ["NOVISURF_UPSTREAM_BASE"] = ""
        os.environ["NOVISURF_RATE_LIMIT_PER_MINUTE"] = "1000000"
        os.environ["DEBUG"] = "false"  # measure what production runs
        _setup_django()

        from django.conf import settings
        from django.core.management import call_command

        db_name = str(settings.DATABASES["default"]["NAME"])
        if not db_name.startswith(str(workdir)) or not str(settings.MEDIA_ROOT).startswith(
            str(workdir)
        ):
            raise RuntimeError(
                f"Refusing to run: the database ({db_name}) or media ({settings.MEDIA_ROOT}) "
                f"is not under the throwaway folder {workdir}."
            )
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # django.test.Client
        settings.NOVISURF_RATE_LIMIT_PER_MINUTE = 1_000_000
        call_command("migrate", verbosity=0)
        yield workdir
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        shutil.rmtree(workdir, ignore_errors=True)
