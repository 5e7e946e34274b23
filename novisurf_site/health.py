"""Health answers for load balancers and orchestrators.

- ``/healthz``: liveness. The process answers; nothing else is touched (no database), so a
  database outage does not get every web process restarted.
- ``/readyz``: readiness. The database, the cache, file storage and the task queue each answer;
  otherwise 503, with the failing parts named. JSON either way. Task workers alive are reported
  but do not fail readiness: web processes serve pages without them, and taking every web
  process out of rotation because workers are down would turn a slow queue into an outage.

Errors show only the exception's class; the full error goes to the log with the request id.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connections
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)

_NO_STORE = "no-store"


def _json(payload: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(payload, status=status)
    response["Cache-Control"] = _NO_STORE
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    return _json({"status": "ok"})


def check_database() -> dict | None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def check_cache() -> dict | None:
    key = f"novisurf:readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not keep a value")
    cache.delete(key)
    return None


def check_storage() -> dict | None:
    # A small write, read back and deleted: a full disk or a read-only bucket answers reads
    # but fails here, as every store would.
    from django.core.files.base import ContentFile

    name = default_storage.save(f"readyz/probe-{uuid.uuid4().hex}", ContentFile(b"ok"))
    try:
        with default_storage.open(name, "rb") as handle:
            if handle.read() != b"ok":
                raise RuntimeError("the storage did not keep what was written")
    finally:
        default_storage.delete(name)
    return None


def check_queue() -> dict | None:
    from django_tasks import task_backends

    backend = task_backends["default"]
    info: dict = {"backend": type(backend).__name__}
    if type(backend).__module__.startswith("django_tasks_db"):
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.only("id").first()
        info["waiting"] = DBTaskResult.objects.filter(status="READY")[:1000].count()
    from gallery.services import workers_alive

    info["workers_alive"] = workers_alive()
    return info


CHECKS: dict[str, Callable[[], dict | None]] = {
    "database": check_database,
    "cache": check_cache,
    "storage": check_storage,
    "queue": check_queue,
}


def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, dict] = {}
    failing: list[str] = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            extra = check() or {}
            checks[name] = {"ok": True, **extra}
        except Exception as exc:
            logger.warning("Readiness check %s failed", name, exc_info=True)
            checks[name] = {"ok": False, "error": type(exc).__name__}
            failing.append(name)
        checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    if failing:
        return _json(
            {"status": "unavailable", "failing": failing, "checks": checks},
            status=503,
        )
    return _json({"status": "ok", "failing": [], "checks": checks})


VIEWS: dict[str, Callable[[HttpRequest], JsonResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
}
