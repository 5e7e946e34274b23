"""The scale scenario, run as README's "Deploying" section sets it up: PostgreSQL, Redis and S3,
two web processes, two task workers, 100 generations through the web form, and one worker killed
with ``kill -9`` while it runs a generation. Every generation must finish, no image be stored
twice, every row have its objects and every object its row.

Only in the run against real servers (``python -m tests.servers``, the second run of
``make test``). It fails without the queue's leases: the killed worker's generation would stay
"running" until long after the deadline.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from gallery.models import Generation, Image
from tests.deployment import Browser, deploy_settings, deployment
from tests.servers import SETTINGS, TEST_PREFIX, free_port, s3_client

GENERATIONS = 100
IMAGES_EACH = 2
USERS = ("scale-ada", "scale-bo")
PASSWORD = "scale-password-7f3k"
KILL_AFTER_DONE = 25
DEADLINE = 300  # seconds for all generations to finish after the last is queued

pytestmark = [
    pytest.mark.scale,
    pytest.mark.skipif(
        os.environ.get("NOVISURF_REAL_SERVERS") != "1",
        reason="only in the run against real servers (python -m tests.servers, make test)",
    ),
]


def _database_url(connection) -> str:
    """The test database, which the processes share with this test."""
    params = connection.settings_dict
    return (
        f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{params['NAME']}"
        if params["USER"]
        else f"postgres://{params['HOST']}:{params['PORT']}/{params['NAME']}"
    )


def _objects(client, bucket: str, prefix: str) -> set[str]:
    names: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        names.update(item["Key"] for item in page.get("Contents", []))
    return names


def _in_bucket(client, bucket: str) -> set[str]:
    """Originals and thumbnails, named as their rows name them (inside AWS_LOCATION)."""
    return {
        name.removeprefix("media/")
        for folder in ("media/originals/", "media/thumbnails/")
        for name in _objects(client, bucket, folder)
    }


def _wait_for(condition, *, timeout: float, what: str, deployed) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    logs = "\n".join(
        f"--- {name} ---\n{deployed.log(name)}"
        for name in ["web-1", "web-2", "scale-worker-1", "scale-worker-2"]
    )
    pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}.\n{logs}")


@pytest.mark.django_db(transaction=True)
def test_two_web_two_workers_one_killed(settings, tmp_path, capsys):
    from django.db import connection

    started = time.monotonic()
    # A bucket of this scenario's own, in the run's S3 server, and this test process reading it.
    bucket = f"{TEST_PREFIX}scale-{secrets.token_hex(4)}"
    s3 = s3_client(os.environ["AWS_S3_ENDPOINT_URL"])
    s3.create_bucket(Bucket=bucket)
    storages = {**settings.STORAGES}
    storages["default"] = {
        **storages["default"],
        "OPTIONS": {**storages["default"]["OPTIONS"], "bucket_name": bucket, "location": "media"},
    }
    settings.STORAGES = storages

    servers_env = {key: os.environ[key] for key in SETTINGS}
    servers_env |= {
        "DATABASE_URL": _database_url(connection),
        "CACHE_KEY_PREFIX": f"{os.environ['CACHE_KEY_PREFIX']}-scale",
        "AWS_STORAGE_BUCKET_NAME": bucket,
    }
    ports = [free_port(), free_port()]
    web_urls = [f"http://127.0.0.1:{port}" for port in ports]
    # The gallery calls the site's own endpoint (the first web process) with a key made below.
    env = {
        **os.environ,
        **deploy_settings(servers_env=servers_env, api_base=f"{web_urls[0]}/v1", api_key=""),
    }

    with deployment(env, tmp_path / "logs") as deployed:
        deployed.setup()
        for username in USERS:
            deployed.env = {
                **env,
                "DJANGO_SUPERUSER_USERNAME": username,
                "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
                "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
            }
            deployed.manage("createsuperuser", "--noinput")
        deployed.env = env
        api_key = deployed.manage(
            "createapikey", USERS[0], "--name", "gallery", "--service"
        ).splitlines()[-1]
        deployed.env = env = {**env, "NOVISURF_API_KEY": api_key}
        for port in ports:
            deployed.start_web(port)
        # Each worker calls a different web process's endpoint: both serve the API too.
        workers = {
            f"scale-worker-{i + 1}": deployed.start_worker(
                f"scale-worker-{i + 1}", NOVISURF_API_BASE=f"{web_urls[i]}/v1"
            )
            for i in range(2)
        }

        browsers = []
        for i, username in enumerate(USERS):
            browser = Browser(web_urls[i % 2])
            browser.log_in(username, PASSWORD)
            browsers.append(browser)

        # 100 generations through the form, spread over both users and both web processes.
        for i in range(GENERATIONS):
            browser = browsers[i % len(browsers)]
            browser.base_url = web_urls[(i // 2) % 2]
            response = browser.post(
                "/generate",
                data={
                    "prompt": f"scale run {i}: a harbour of {i} boats under a {i % 7} moon",
                    "model": "novisurf-procedural",
                    "n": IMAGES_EACH,
                    "size": "256x256",
                    "response_format": ("url", "b64_json")[i % 2],
                    "tags": "scale",
                    "csrfmiddlewaretoken": browser.csrf("/"),
                },
                allow_redirects=False,
            )
            assert response.status_code == 302, (i, response.status_code, response.text[:500])
        queued_at = time.monotonic()
        assert Generation.objects.count() == GENERATIONS

        # kill -9 the first worker while it runs a generation, once a quarter are done.
        victim = "scale-worker-1"

        def victim_is_running() -> bool:
            done = Generation.objects.filter(status=Generation.Status.DONE).count()
            return (
                done >= KILL_AFTER_DONE
                and Generation.objects.filter(
                    status=Generation.Status.RUNNING, worker_id=victim
                ).exists()
            )

        _wait_for(
            victim_is_running,
            timeout=DEADLINE,
            what="the worker to run a generation",
            deployed=deployed,
        )
        os.kill(workers[victim].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        workers[victim].wait(timeout=10)
        stranded = list(
            Generation.objects.filter(status=Generation.Status.RUNNING, worker_id=victim)
        )
        assert stranded, "the killed worker held no generation"

        def all_finished() -> bool:
            return not Generation.objects.exclude(
                status__in=[Generation.Status.DONE, Generation.Status.FAILED]
            ).exists()

        _wait_for(
            all_finished,
            timeout=max(10, DEADLINE - (time.monotonic() - queued_at)),
            what="every generation to finish (a dead worker's generation is taken up by the "
            "lease sweeper)",
            deployed=deployed,
        )
        finished_at = time.monotonic()
        # Nothing writes from here on: the checks see the final state.
        deployed.stop()

    generations = Generation.objects.all()
    statuses = Counter(generations.values_list("status", flat=True))
    assert statuses == {Generation.Status.DONE: GENERATIONS}, statuses
    for generation in Generation.objects.filter(pk__in=[g.pk for g in stranded]):
        assert generation.attempts >= 2, "the stranded generation was not run again"
        assert generation.worker_id != victim
    assert all(not g.item_errors for g in generations), [g.item_errors for g in generations]

    images = Image.objects.all()
    assert images.count() == GENERATIONS * IMAGES_EACH
    twice = images.values("generation", "index").annotate(copies=Count("pk")).filter(copies__gt=1)
    # The same bytes under two generations would be one image delivered to the wrong one.
    across = [
        row
        for row in images.values("content_hash").annotate(
            copies=Count("pk"), generations=Count("generation", distinct=True)
        )
        if row["generations"] > 1
    ]
    duplicates = len(twice) + len(across)
    assert duplicates == 0, (list(twice), across)
    # A generation taken up after its worker died asks the deterministic built-in renderer for
    # the whole request again (services.runner._indexes_to_ask): no picture twice in one.
    repeated = (
        images.values("generation", "content_hash")
        .annotate(copies=Count("pk"))
        .filter(copies__gt=1)
    ).count()
    assert repeated == 0, "the same picture twice in one generation"

    rows = set(images.values_list("file", flat=True)) | set(
        images.values_list("thumbnail", flat=True)
    )
    stored = _objects(s3, bucket, "originals/") | _objects(s3, bucket, "thumbnails/")
    assert not stored, "objects outside AWS_LOCATION"
    stored = _in_bucket(s3, bucket)
    missing = rows - stored
    assert not missing, f"rows without their objects: {sorted(missing)[:5]}"
    orphans_before_sweep = stored - rows
    # A worker killed mid-store leaves objects that the file journal knows as "writing"; the
    # sweeper deletes them once their grace has passed. Run it as if that time had gone by.
    from gallery.services.files import WRITING_GRACE, files_sweep

    files_sweep(now=timezone.now() + WRITING_GRACE + timedelta(seconds=1))
    stored_after = _in_bucket(s3, bucket)
    orphans = stored_after - rows
    assert stored_after >= rows
    assert not orphans, f"objects without a row: {sorted(orphans)[:5]}"

    with capsys.disabled():
        print(
            f"\nScale scenario: {GENERATIONS} generations ({images.count()} images) by "
            f"{len(USERS)} users through 2 web processes and 2 workers; kills: 1 "
            f"(during generation {stranded[0].pk}); taken up and finished "
            f"{finished_at - killed_at:.1f} s after the kill; duplicates: {duplicates}; "
            f"same picture twice in a taken-up generation: {repeated}; "
            f"rows without objects: {len(missing)}; orphans: {len(orphans)} "
            f"({len(orphans_before_sweep)} journalled before the sweep); "
            f"queue drained in {finished_at - queued_at:.1f} s; "
            f"whole scenario {time.monotonic() - started:.1f} s."
        )
