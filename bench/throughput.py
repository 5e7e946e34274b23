"""Generations per minute through real processes (README's deployment: gunicorn + uvicorn web,
``manage.py worker``) with 1 and 2 workers, against the renderer's own rate on one core."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from api.renderers import procedural
from api.services import apikey_create
from bench.fixtures import bench_user, generation_request
from bench.timing import Report, format_seconds, measure
from gallery import services
from gallery.models import Generation
from novisurf.protocol import PROCEDURAL_MODEL
from tests.deployment import deploy_settings, deployment
from tests.servers import free_port

GENERATIONS = 40
SIZE = "1024x1024"
TITLE = f"Throughput: {GENERATIONS} generations of one {SIZE} image, web + workers as deployed"
DEADLINE = 300


def _drain(owner, count: int, label: str) -> float:
    """Queue ``count`` generations at once; seconds until the last is done."""
    started = time.monotonic()
    ids = [
        services.generation_create(
            owner=owner,
            prompt=f"throughput {label} {i}: a neon city skyline at night over the waves",
            model=PROCEDURAL_MODEL,
            n=1,
            size=SIZE,
            response_format="b64_json",
            tags=[],
        ).pk
        for i in range(count)
    ]
    pending = Generation.objects.filter(pk__in=ids).exclude(
        status__in=[Generation.Status.DONE, Generation.Status.FAILED]
    )
    while pending.exists():
        if time.monotonic() - started > DEADLINE:
            raise RuntimeError(f"{pending.count()} generations not done after {DEADLINE} s")
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    failed = Generation.objects.filter(pk__in=ids, status=Generation.Status.FAILED)
    if failed.exists():
        raise RuntimeError(f"{failed.count()} generations failed: {failed.first().error}")
    return elapsed


def run(report: Report, *, servers_env: dict[str, str]) -> None:
    owner = bench_user()
    _, key = apikey_create(owner=owner, name="bench throughput")
    render = measure(lambda: procedural.render(generation_request()), repeats=5)
    report.info("renderer alone, one image", format_seconds(render))
    report.info("  images per minute, one core", f"{60 / render:.0f}")

    for workers in (1, 2):
        ports = [free_port() for _ in range(workers)]
        env = {
            **os.environ,
            **deploy_settings(
                servers_env=servers_env,
                api_base=f"http://127.0.0.1:{ports[0]}/v1",
                api_key=key,
            ),
            "NOVISURF_USER_MAX_RUNNING": str(workers),
        }
        with (
            tempfile.TemporaryDirectory(prefix="novisurf-bench-logs-") as logs,
            deployment(env, Path(logs)) as deployed,
        ):
            # One web process per worker, each worker calling its own: the endpoint renders.
            for i, port in enumerate(ports):
                deployed.start_web(port)
                deployed.start_worker(
                    f"bench-worker-{i + 1}", NOVISURF_API_BASE=f"http://127.0.0.1:{port}/v1"
                )
            _drain(owner, 2 * workers, f"warm-up {workers}")
            elapsed = _drain(owner, GENERATIONS, f"{workers} workers")
        per_generation = elapsed / GENERATIONS
        report.row(
            f"{workers} worker{'s' if workers > 1 else ''}: one generation",
            per_generation,
            "renderer alone, one image",
            render,
        )
        report.info(
            "  generations per minute",
            f"{60 / per_generation:.0f} ({60 / per_generation / (60 / render):.2f}x the renderer)",
        )
