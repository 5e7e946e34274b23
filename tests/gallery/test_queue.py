"""The queue shared by many people: fair, patient with a provider that asks to wait, and healing.

Fairness and waiting run the real task queue (django_tasks_db's worker loop, in batch mode) in
this process; the dead-worker test runs real `manage.py worker` processes and kills one with
SIGKILL in the middle of a generation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from werkzeug import Request, Response

from gallery import services
from gallery.models import Generation, Image, UserLimits
from tests.utils import b64, free_port, png_bytes, storage_env

GENERATIONS = "/v1/images/generations"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def answer_for(request: Request) -> Response:
    import json

    n = json.loads(request.data).get("n", 1)
    body = {"created": 1, "data": [{"b64_json": b64(png_bytes((8, 8)))} for _ in range(n)]}
    return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def provider(settings, httpserver):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = "sk-test"
    settings.NOVISURF_THUMBNAIL_SIZE = 8
    settings.NOVISURF_USER_MAX_RUNNING = 2
    return httpserver


def create(owner, prompt="a quiet harbour", n=1) -> Generation:
    return services.generation_create(
        owner=owner,
        prompt=prompt,
        model="dall-e-2",
        n=n,
        size="256x256",
        response_format="b64_json",
        tags=[],
    )


def drain() -> None:
    """Run every ready task with the real worker loop, then return."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


def test_a_second_persons_generation_runs_before_a_long_backlog(provider, user, other_user):
    provider.expect_request(GENERATIONS).respond_with_handler(answer_for)
    backlog = [create(user, f"backlog {i}") for i in range(50)]
    theirs = create(other_user, "just one")
    drain()

    order = list(
        Generation.objects.order_by("started_at", "created_at").values_list("pk", flat=True)
    )
    assert Generation.objects.filter(status=Generation.Status.DONE).count() == 51
    # The first of the backlog was already the oldest; the other person's one comes next,
    # not after the 49 others.
    assert order.index(theirs.pk) <= 1, order.index(theirs.pk)
    assert order.index(backlog[1].pk) > order.index(theirs.pk)


def test_two_backlogs_take_turns(provider, user, other_user):
    provider.expect_request(GENERATIONS).respond_with_handler(answer_for)
    for i in range(5):
        create(user, f"alice {i}")
    for i in range(5):
        create(other_user, f"bob {i}")
    drain()
    owners = list(
        Generation.objects.order_by("started_at").values_list("owner__username", flat=True)
    )
    assert owners == ["alice", "bob"] * 5


def test_a_person_over_their_running_cap_waits_while_others_run(provider, user, other_user):
    UserLimits.objects.create(user=user, max_running=1)
    first = create(user, "first")
    second = create(user, "second")
    theirs = create(other_user, "theirs")
    Generation.objects.filter(pk=first.pk).update(
        status=Generation.Status.RUNNING,
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    picked = services.generation_pick()
    assert picked.pk == theirs.pk
    Generation.objects.filter(pk=theirs.pk).update(status=Generation.Status.DONE)
    assert services.generation_pick() is None  # alice is at her cap: second waits
    Generation.objects.filter(pk=first.pk).update(status=Generation.Status.DONE)
    assert services.generation_pick().pk == second.pk


def test_a_long_retry_after_puts_the_generation_back_in_the_queue(provider, user, client):
    provider.expect_ordered_request(GENERATIONS).respond_with_json(
        {"error": {"message": "Slow down", "type": "requests", "code": "rate_limit_exceeded"}},
        status=429,
        headers={"Retry-After": "45"},
    )
    provider.expect_ordered_request(GENERATIONS).respond_with_handler(answer_for)
    generation = create(user)
    before = timezone.now()
    drain()

    generation.refresh_from_db()
    assert generation.status == Generation.Status.QUEUED
    assert generation.not_before - before >= timedelta(seconds=44)
    assert generation.wait_reason.startswith("Waiting for the provider until ")
    assert "Slow down" in generation.wait_reason
    # A wake-up waits for that time in the task queue itself (run_after).
    [wake] = DBTaskResult.objects.filter(status="READY")
    assert wake.run_after >= generation.not_before - timedelta(seconds=1)

    client.force_login(user)
    page = client.get(f"/generations/{generation.pk}/").content.decode()
    assert "Waiting for the provider until" in page
    status = client.get(f"/generations/{generation.pk}/status").json()
    assert status["waiting"] is True and status["finished"] is False

    # 45 seconds later (moved, not waited for):
    Generation.objects.filter(pk=generation.pk).update(not_before=timezone.now())
    DBTaskResult.objects.filter(pk=wake.pk).update(run_after=timezone.now())
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE
    assert generation.images.count() == 1
    assert generation.wait_reason == ""


def test_waiting_has_a_limit_then_fails_with_the_providers_words(provider, user, settings):
    settings.NOVISURF_PROVIDER_MAX_WAIT = 30 * 60
    provider.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "Try much later", "type": "server_error"}},
        status=503,
        headers={"Retry-After": "600"},
    )
    generation = create(user)
    Generation.objects.filter(pk=generation.pk).update(
        waiting_since=timezone.now() - timedelta(minutes=25)
    )
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED
    assert "Try much later" in generation.error
    assert "gave up after waiting 25 min" in generation.error


def test_a_row_left_queued_without_a_wake_up_is_picked_up_by_the_sweeper(provider, user):
    provider.expect_request(GENERATIONS).respond_with_handler(answer_for)
    # As if enqueueing had failed after the row was committed (a locked database, say).
    orphan = Generation.objects.create(
        owner=user, prompt="orphan", model="dall-e-2", n=1, size="256x256", response_format="url"
    )
    assert not DBTaskResult.objects.exists()
    report = services.queue_sweep()
    assert report["woken"] == 1
    drain()
    orphan.refresh_from_db()
    assert orphan.status == Generation.Status.DONE


def test_a_lapsed_lease_is_taken_up_and_stores_only_the_missing_images(provider, user):
    requests_seen = []

    def handler(request):
        requests_seen.append(request.get_json())
        return answer_for(request)

    provider.expect_request(GENERATIONS).respond_with_handler(handler)
    generation = create(user, n=3)
    DBTaskResult.objects.all().delete()
    # A worker stored image 0 of 3, then died: its lease lapsed.
    services.image_store(generation=generation, index=0, data=png_bytes((8, 8), (1, 2, 3)))
    Generation.objects.filter(pk=generation.pk).update(
        status=Generation.Status.RUNNING,
        worker_id="dead",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        attempts=1,
    )
    assert services.queue_sweep()["taken_up"] == 1
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE
    assert sorted(generation.images.values_list("index", flat=True)) == [0, 1, 2]
    assert requests_seen[-1]["n"] == 2  # only what was missing


def test_a_taken_up_built_in_generation_asks_for_all_and_repeats_no_picture(provider, user):
    """The built-in renderer draws (prompt, position in the request): asked for the missing
    image alone, it would repeat the first picture. It is free, so it is asked for all again."""
    requests_seen = []

    def handler(request):
        requests_seen.append(request.get_json())
        return answer_for(request)

    provider.expect_request(GENERATIONS).respond_with_handler(handler)
    generation = services.generation_create(
        owner=user,
        prompt="a quiet harbour",
        model="novisurf-procedural",
        n=2,
        size="256x256",
        response_format="b64_json",
        tags=[],
    )
    DBTaskResult.objects.all().delete()
    first = services.image_store(generation=generation, index=0, data=png_bytes((8, 8), (1, 2, 3)))
    Generation.objects.filter(pk=generation.pk).update(
        status=Generation.Status.RUNNING,
        worker_id="dead",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        attempts=1,
    )
    services.queue_sweep()
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE
    assert requests_seen[-1]["n"] == 2
    kept = {image.index: image for image in generation.images.all()}
    assert kept[0].pk == first.pk  # the stored one is kept as it was
    assert kept[0].content_hash != kept[1].content_hash


def test_the_daily_image_limit_is_named_with_when_it_resets(settings, user, client):
    settings.NOVISURF_USER_IMAGES_PER_DAY = 3
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    create(user, n=2)
    with pytest.raises(services.LimitReached) as caught:
        create(user, n=2)
    assert caught.value.limit == "images_per_day"
    assert "limit of 3 images a day" in caught.value.message
    assert "resets at 00:00" in caught.value.message

    client.force_login(user)
    page = client.post(
        "/generate",
        {
            "prompt": "one more",
            "model": "novisurf-procedural",
            "n": 2,
            "size": "256x256",
            "response_format": "url",
        },
    )
    assert page.status_code == 200
    assert "limit of 3 images a day" in page.content.decode()
    assert Generation.objects.count() == 1


def test_the_storage_limit_is_named(settings, user):
    settings.NOVISURF_USER_MAX_BYTES = 10
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    generation = create(user)
    services.image_store(generation=generation, index=0, data=png_bytes((8, 8)))
    with pytest.raises(services.LimitReached) as caught:
        create(user)
    assert caught.value.limit == "max_bytes"
    assert "of your 10 bytes of storage" in caught.value.message


# -- a real worker, killed -------------------------------------------------------------------


def worker_env(settings, **extra) -> dict[str, str]:
    """The environment for a real `manage.py worker` on this test's database and media."""
    db = connection.settings_dict
    env = dict(os.environ)
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        )
    env.update(
        {
            "SECRET_KEY": django_settings.SECRET_KEY,
            **storage_env(settings),
            "NOVISURF_API_BASE": settings.NOVISURF_API_BASE,
            "NOVISURF_API_KEY": settings.NOVISURF_API_KEY,
            "NOVISURF_THUMBNAIL_SIZE": "8",
            "NOVISURF_LEASE_SECONDS": "3",
            "NOVISURF_MAINTENANCE_INTERVAL": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def start_worker(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker", "--interval", "0.1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    return None


@pytest.mark.process
def test_a_generation_whose_worker_is_killed_finishes_by_itself(settings, httpserver, user):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = "sk-test"
    first_call = threading.Event()
    release = threading.Event()

    def handler(request):
        if not first_call.is_set():
            first_call.set()
            release.wait(20)  # the first worker dies while waiting for this answer
        return answer_for(request)

    httpserver.expect_request(GENERATIONS).respond_with_handler(handler)
    generation = create(user, n=2)
    env = worker_env(settings)
    doomed = start_worker(env)
    rescuer = None
    try:
        assert first_call.wait(30), "the first worker never called the provider"
        assert Generation.objects.get(pk=generation.pk).status == Generation.Status.RUNNING
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        killed_at = time.monotonic()
        release.set()
        rescuer = start_worker(env)
        done = wait_for(
            lambda: Generation.objects.filter(
                pk=generation.pk, status=Generation.Status.DONE
            ).exists(),
            timeout=60,
        )
        took = time.monotonic() - killed_at
        print(f"\nA killed worker's generation finished {took:.1f} s after the kill")
        assert done, Generation.objects.get(pk=generation.pk).__dict__
        generation.refresh_from_db()
        assert generation.attempts == 2
        images = Image.objects.filter(generation=generation)
        assert sorted(images.values_list("index", flat=True)) == [0, 1]
    finally:
        release.set()
        for process in (doomed, rescuer):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("renew_for", "renewed"), [(None, True), (0.0, False)])
def test_the_lease_stops_renewing_past_the_calls_deadline(user, settings, renew_for, renewed):
    from datetime import timedelta

    from django.utils import timezone

    from gallery.models import Generation
    from gallery.services.runner import _LeaseKeeper

    settings.NOVISURF_LEASE_SECONDS = 1
    lease = timezone.now() + timedelta(seconds=1)
    generation = Generation.objects.create(
        owner=user,
        prompt="p",
        model="m",
        n=1,
        size="256x256",
        status=Generation.Status.RUNNING,
        worker_id="w1",
        lease_expires_at=lease,
    )
    keeper = _LeaseKeeper(generation.pk, "w1", renew_for=renew_for)
    with keeper:
        keeper.thread.join(timeout=1.5)  # three renewals' time (or the keeper's return)
    generation.refresh_from_db()
    assert (generation.lease_expires_at > lease) is renewed


@pytest.mark.parametrize("retry_after", ["0", "nan", "-5"])
def test_a_retry_after_of_nothing_waits_a_backoff_not_a_second(provider, user, retry_after):
    provider.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "Busy", "type": "server_error"}},
        status=503,
        headers={"Retry-After": retry_after},
    )
    generation = create(user)
    before = timezone.now()
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.QUEUED
    assert generation.not_before - before >= timedelta(seconds=4)


def test_a_retry_after_of_1e400_gives_up_in_words(provider, user):
    provider.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "Come back never"}}, status=429, headers={"Retry-After": "1e400"}
    )
    generation = create(user)
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED
    assert "Come back never" in generation.error
    assert "gave up after waiting" in generation.error


def test_a_provider_that_is_restarting_is_waited_for(provider, user, settings):
    # Connection refused (the web server restarting): the generation waits and is tried again.
    settings.NOVISURF_API_BASE = f"http://127.0.0.1:{free_port()}/v1"
    generation = create(user)
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.QUEUED
    assert "Could not reach the image endpoint" in generation.wait_reason
    # Once it is back, the generation is done.
    provider.expect_request(GENERATIONS).respond_with_handler(answer_for)
    settings.NOVISURF_API_BASE = provider.url_for("/v1")
    Generation.objects.filter(pk=generation.pk).update(not_before=timezone.now())
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE


def test_a_locked_database_defers_the_generation_instead_of_failing_it(provider, user, monkeypatch):
    from django.db import OperationalError

    from gallery.services import runner

    def locked(**kwargs):
        raise OperationalError("database is locked")

    provider.expect_request(GENERATIONS).respond_with_handler(answer_for)
    monkeypatch.setattr(runner, "image_store", locked)
    generation = create(user)
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.QUEUED
    assert "database was busy" in generation.wait_reason


def test_fewer_images_than_asked_names_the_reason_for_each_missing_one(settings, httpserver, user):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes())}]}
    )
    generation = create(user, n=3)
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE
    assert [e["index"] for e in generation.item_errors] == [1, 2]
    assert all("sent 1 of the 3 images" in e["reason"] for e in generation.item_errors)


def test_a_usage_count_too_big_for_its_column_keeps_the_image(settings, httpserver, user):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes())}], "usage": {"input_tokens": 2**70}}
    )
    generation = create(user)
    drain()
    generation.refresh_from_db()
    assert generation.status == Generation.Status.DONE
    assert generation.images.count() == 1
    assert generation.input_tokens is None


def test_provider_text_is_capped_where_it_is_stored(settings, httpserver, user):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    httpserver.expect_ordered_request(GENERATIONS).respond_with_json(
        {"error": {"message": "x" * 2_000_078}}, status=400
    )
    httpserver.expect_ordered_request(GENERATIONS).respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes()), "revised_prompt": "y" * 5_000_000}]}
    )
    failed = create(user)
    drain()
    failed.refresh_from_db()
    assert failed.status == Generation.Status.FAILED
    assert 100 < len(failed.error) <= 2001
    done = create(user)
    drain()
    [image] = Image.objects.filter(generation=done)
    assert len(image.revised_prompt) == 32_000
