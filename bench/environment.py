"""Django for the benchmarks: a throwaway SQLite database and media folder, or (``--scale``)
PostgreSQL, Redis and S3 started for the run; never the real ones.

With ``BENCH_DATABASE_URL=postgres://…`` naming a PostgreSQL server, the plain run uses a database
of its own created on that server and dropped after it (the URL's own database is only connected
to; nothing in it is read or written).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


def _postgres_admin(url: str):
    """A connection to the server of ``url`` (its own database), in autocommit."""
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or None,
        port=parts.port or None,
        user=parts.username or None,
        password=parts.password or None,
        dbname=parts.path.lstrip("/") or "postgres",
        autocommit=True,
    )


@contextmanager
def _throwaway_postgres(url: str) -> Iterator[tuple[str, str]]:
    """A new database on the server of ``url``, dropped afterwards: its (URL, name)."""
    name = f"novisurf_bench_{secrets.token_hex(4)}"
    with _postgres_admin(url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        parts = urlsplit(url)
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")), name
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        with _postgres_admin(url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def django_environment() -> Iterator[Path]:
    """Set up Django on a temporary database and media folder; remove both afterwards."""
    postgres_url = os.environ.get("BENCH_DATABASE_URL", "")
    if postgres_url and not postgres_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must be a postgres:// URL (a server to create in)")
    with _throwaway_postgres(postgres_url) if postgres_url else nullcontext() as pg:
        yield from _django_environment(pg)


def _django_environment(pg: tuple[str, str] | None) -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="novisurf-bench-"))
    try:
        # Real environment variables win over .env, and settings read them at import time, so
        # these are set before anything imports the settings.
        os.environ["DATABASE_URL"] = pg[0] if pg else f"sqlite:///{workdir / 'bench.sqlite3'}"
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
        expected_db = pg[1] if pg else str(workdir)
        if not db_name.startswith(expected_db) or not str(settings.MEDIA_ROOT).startswith(
            str(workdir)
        ):
            raise RuntimeError(
                f"Refusing to run: the database ({db_name}) or media ({settings.MEDIA_ROOT}) "
                f"is not this run's own ({expected_db}, {workdir})."
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
