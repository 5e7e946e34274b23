"""Operations: request ids on every answer, logs that carry them (JSON when asked), health and
readiness for load balancers, connection reuse chosen by server, and protocol faults on /v1/
answered in JSON."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.urls import reverse
from django_tasks import task

from gallery import selectors
from novisurf import logcontext

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
HEX32 = r"[0-9a-f]{32}"
CLOSED_S3 = {
    "BACKEND": "storages.backends.s3.S3Storage",
    "OPTIONS": {
        "bucket_name": "novisurf-test-nothing-here",
        "endpoint_url": "http://127.0.0.1:9",  # nothing listens on port 9: storage is down
        "access_key": "test",
        "secret_key": "test-secret",
        "region_name": "us-east-1",
        "querystring_auth": True,
        "querystring_expire": 300,
    },
}


@pytest.fixture
def s3_down(settings):
    from botocore.config import Config

    storage = {**CLOSED_S3, "OPTIONS": {**CLOSED_S3["OPTIONS"]}}
    storage["OPTIONS"]["client_config"] = Config(
        connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}
    )
    settings.STORAGES = {**settings.STORAGES, "default": storage}
    settings.NOVISURF_FILE_DELIVERY = "presigned"
    return storage


# -- request ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/accounts/login/", "/v1/models", "/v1/nope", "/no-such-page/", "/healthz"]
)
def test_every_answer_has_a_request_id(client, path):
    response = client.get(path)
    assert response.status_code in (200, 302, 401, 404)
    assert len(response["x-request-id"]) == 32


def test_a_crash_still_has_a_request_id(client, user, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "image_list", broken)
    client.raise_request_exception = False
    client.force_login(user)
    response = client.get(reverse("gallery:home"))
    assert response.status_code == 500
    assert len(response["x-request-id"]) == 32


def test_a_sane_incoming_request_id_is_kept_and_others_replaced(client):
    kept = client.get("/v1/models", HTTP_X_REQUEST_ID="lb-7f3a.2:trace=1")
    assert kept["x-request-id"] == "lb-7f3a.2:trace=1"
    for bad in ["has spaces", "x" * 300, "<script>", "", "-leading-dash", "a\tb"]:
        replaced = client.get("/v1/models", HTTP_X_REQUEST_ID=bad)
        assert replaced["x-request-id"] != bad
        assert len(replaced["x-request-id"]) == 32


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(logcontext.ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected():
    handler = _Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


def test_log_lines_of_a_request_carry_its_id(client, collected):
    response = client.get("/v1/no-such-endpoint", HTTP_X_REQUEST_ID="req-abc-123")
    assert response.status_code == 404
    lines = [r for r in collected if r.name == "django.request"]
    assert lines, "Django logs a 404"
    assert {r.request_id for r in lines} == {"req-abc-123"}


@task()
def logging_task(word: str) -> None:
    logging.getLogger("tests.task").warning("working on %s", word)


def test_log_lines_of_a_task_carry_its_id(settings, collected):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    result = logging_task.enqueue("apples")
    lines = [r for r in collected if r.name == "tests.task"]
    assert [r.task_id for r in lines] == [str(result.id)]
    assert logcontext.task_id.get() is None  # and not after it


def test_json_logs_when_asked():
    """LOG_FORMAT=json: one JSON object per line with the request and task ids."""
    code = (
        "import django, logging; django.setup();"
        "from novisurf import logcontext;"
        "logcontext.request_id.set('rid-1'); logcontext.task_id.set('tid-2');"
        "logging.getLogger('novisurf.test').warning('hello %s', 'world')"
    )
    env = {
        **os.environ,
        "LOG_FORMAT": "json",
        "DJANGO_SETTINGS_MODULE": "novisurf_site.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["level"] == "WARNING"
    assert line["logger"] == "novisurf.test"
    assert line["request_id"] == "rid-1"
    assert line["task_id"] == "tid-2"


# -- health -----------------------------------------------------------------------------------


def test_healthz_answers_any_host_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_every_part_answers(client):
    response = client.get("/readyz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "storage", "queue"}
    assert all(check["ok"] for check in body["checks"].values())
    assert response["Cache-Control"] == "no-store"


def test_readyz_names_storage_when_s3_is_down(client, s3_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["storage"]
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_readyz_names_the_cache_when_it_is_down(client):
    closed_redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on port 9
        }
    }
    with override_settings(CACHES=closed_redis):  # undone before the fixtures clear the cache
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache"]


# -- connection reuse, chosen by server --------------------------------------------------------


def _database_settings(server: str, **extra) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings;"
        "d = settings.DATABASES['default'];"
        "print(json.dumps({'max_age': d['CONN_MAX_AGE'], 'checks': d['CONN_HEALTH_CHECKS'],"
        " 'pool': d.get('OPTIONS', {}).get('pool')}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "novisurf_site.settings",
        "DATABASE_URL": "postgres://novisurf@127.0.0.1:9/novisurf",
        "NOVISURF_SERVER": server,
        **extra,
    }
    for name in ("CONN_MAX_AGE", "DATABASE_POOL"):
        if name not in extra:
            env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_postgresql_under_wsgi_keeps_checked_persistent_connections():
    assert _database_settings("wsgi") == {"max_age": 60, "checks": True, "pool": None}


def test_postgresql_under_asgi_uses_psycopgs_pool_instead():
    chosen = _database_settings("asgi", DATABASE_POOL_MAX_SIZE="7")
    assert chosen["max_age"] == 0
    assert chosen["pool"]["max_size"] == 7


def test_the_pool_can_be_turned_off():
    chosen = _database_settings("asgi", DATABASE_POOL="false", CONN_MAX_AGE="0")
    assert chosen == {"max_age": 0, "checks": True, "pool": None}


# -- protocol faults on /v1/ ------------------------------------------------------------------


def test_a_host_not_allowed_is_a_json_error_on_v1(client):
    response = client.post(
        "/v1/images/generations", data="{}", content_type="application/json", HTTP_HOST="evil.test"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "bad_request"
    assert len(response["x-request-id"]) == 32


def test_a_host_not_allowed_is_a_page_elsewhere(client):
    response = client.get("/", HTTP_HOST="evil.test")
    assert response.status_code == 400
    assert "application/json" not in response["Content-Type"]


def _wsgi_post(path: str, body: bytes, *, headers: dict, terminated: bool):
    """Call the WSGI application as gunicorn does for a chunked body: no CONTENT_LENGTH, the
    de-chunked body in wsgi.input, ending where the body ends."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": terminated,
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **headers,
    }
    status_headers = {}

    def start_response(status, response_headers, exc_info=None):
        status_headers["status"] = int(status.split()[0])
        status_headers["headers"] = dict(response_headers)

    # As Django's test client does: the test's own connection must survive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = WSGIHandler()(environ, start_response)
        data = b"".join(chunks)
        chunks.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return status_headers["status"], status_headers["headers"], data


def test_a_chunked_body_is_read_where_the_server_dechunks_it(api_key):
    body = json.dumps({"prompt": "a chunked fox", "size": "256x256", "response_format": "b64_json"})
    status, headers, data = _wsgi_post(
        "/v1/images/generations",
        body.encode(),
        headers={"CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": f"Bearer {api_key}"},
        terminated=True,
    )
    assert status == 200, data[:300]
    assert json.loads(data)["data"][0]["b64_json"]
    assert "X-Request-ID" in headers


def test_a_chunked_body_the_server_cannot_end_is_a_json_411(api_key):
    status, _, data = _wsgi_post(
        "/v1/images/generations",
        b'{"prompt": "x"}',
        headers={"CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": f"Bearer {api_key}"},
        terminated=False,
    )
    assert status == 411
    assert json.loads(data)["error"]["code"] == "length_required"
