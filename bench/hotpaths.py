"""The hot paths in CPU time, against baselines measured in the same run.

- A gallery generation of one 1024x1024 image with the built-in renderer: the CPU of the web
  process (the site as ``make run`` serves it, every process it started included) and of this
  process running the generation as a worker does, against the CPU of the render alone.
- The endpoint at 256x256: the CPU the site's web process spends per request, against a minimal
  Starlette app (``bench/minimal_app.py``) calling the same renderer, both under uvicorn.
- Generations a minute through ``scripts/supervise.py`` (what ``make run`` starts) with 1 and 2
  workers, against what the render and the store of one image allow on ``min(workers, 2)`` cores.

CPU is read from ``/proc`` (user + system time of a process and its descendants), so work done
in threads or helper processes is counted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import requests
from django.test import override_settings

from api.renderers import procedural
from api.services import apikey_create
from bench.fixtures import PROMPT, bench_user, generation_request
from bench.timing import Report, format_seconds
from gallery import services
from gallery.models import Generation
from novisurf.protocol import PROCEDURAL_MODEL, validate_generation

TITLE = "Hot paths: CPU of a generation, of the endpoint's web layer, generations a minute"
ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
SMALL = "256x256"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) used so far by ``pid`` and every live descendant."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / TICK
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return total


def _supervise_web_argv(port: int) -> list[str]:
    """The web command ``make run`` starts, as scripts/supervise.py builds it."""
    spec = importlib.util.spec_from_file_location("supervise", ROOT / "scripts" / "supervise.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["supervise"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    saved = {k: os.environ.get(k) for k in ("HOST", "PORT", "NOVISURF_ACCESS_LOG")}
    os.environ.update({"HOST": "127.0.0.1", "PORT": str(port), "NOVISURF_ACCESS_LOG": "0"})
    try:
        return next(kid.argv for kid in module.children() if kid.name == "web")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _server(argv: list[str], port: int, ready_path: str, env: dict | None = None):
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost", **(env or {})},
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{argv[:4]} did not start") from None
                time.sleep(0.2)
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _cpu_per_call(pid: int, call: Callable[[], object], count: int) -> float:
    before = tree_cpu(pid)
    for _ in range(count):
        call()
    return (tree_cpu(pid) - before) / count


def run(report: Report) -> None:
    owner = bench_user()
    _, key = apikey_create(owner=owner, name="bench hot paths", is_service=True)
    # Its images are not kept: the row compares the web layers, and keeping an answer's
    # images (a file and a queued task per request) is work the minimal app does not do.
    _, client_key = apikey_create(owner=owner, name="bench hot paths client", keep_images=False)
    endpoint_rows(report, client_key)
    generation_row(report, key)
    throughput_rows(report, key)


def endpoint_rows(report: Report, key: str, *, repeats: int = 5, count: int = 40) -> None:
    body = json.dumps(
        {"prompt": PROMPT, "model": PROCEDURAL_MODEL, "size": SMALL, "response_format": "b64_json"}
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    site_port, minimal_port = _free_port(), _free_port()
    minimal_argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.minimal_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(minimal_port),
        "--no-access-log",
        "--lifespan",
        "off",
    ]
    with (
        _server(_supervise_web_argv(site_port), site_port, "/healthz") as site,
        _server(minimal_argv, minimal_port, "/", env={"BENCH_MINIMAL_KEY": key}) as minimal,
        requests.Session() as session,
    ):

        def poster(port: int) -> Callable[[], None]:
            url = f"http://127.0.0.1:{port}/v1/images/generations"

            def post() -> None:
                response = session.post(url, data=body, headers=headers, timeout=30)
                if response.status_code != 200:
                    raise RuntimeError(f"{url} answered {response.status_code}: {response.text}")

            return post

        samples: tuple[list[float], list[float]] = ([], [])
        for _ in range(2):  # warm-up
            _cpu_per_call(site.pid, poster(site_port), 5)
            _cpu_per_call(minimal.pid, poster(minimal_port), 5)
        for _ in range(repeats):
            samples[0].append(_cpu_per_call(site.pid, poster(site_port), count))
            samples[1].append(_cpu_per_call(minimal.pid, poster(minimal_port), count))
    report.row(
        f"endpoint {SMALL}, server CPU per request",
        statistics.median(samples[0]),
        "minimal Starlette app, same render",
        statistics.median(samples[1]),
    )
    render = validate_generation(
        {"prompt": PROMPT, "model": PROCEDURAL_MODEL, "size": SMALL, "response_format": "b64_json"}
    )
    report.info("  render alone (this process)", format_seconds(_process_cpu(render)))


def _process_cpu(request, count: int = 20) -> float:
    procedural.render(request)
    start = time.process_time()
    for _ in range(count):
        procedural.render(request)
    return (time.process_time() - start) / count


def _generation(owner, label: str) -> Generation:
    return services.generation_create(
        owner=owner,
        prompt=f"{PROMPT} ({label})",
        model=PROCEDURAL_MODEL,
        n=1,
        size="1024x1024",
        response_format="b64_json",
        tags=[],
    )


def generation_row(report: Report, key: str, *, repeats: int = 12) -> None:
    """One generation run here (as a worker runs it) against the site's web process."""
    owner = bench_user()
    port = _free_port()
    request = generation_request()
    with (
        _server(_supervise_web_argv(port), port, "/healthz") as site,
        override_settings(
            NOVISURF_API_BASE=f"http://127.0.0.1:{port}/v1",
            NOVISURF_API_KEY=key,
            NOVISURF_USER_MAX_RUNNING=1000,
        ),
    ):
        costs, renders = [], []
        for attempt in range(repeats + 2):
            generation = _generation(owner, f"cpu {attempt}")
            web_before, here_before = tree_cpu(site.pid), time.process_time()
            services.generation_run(generation_id=generation.pk)
            cost = (tree_cpu(site.pid) - web_before) + (time.process_time() - here_before)
            generation.refresh_from_db()
            if generation.status != Generation.Status.DONE:
                raise RuntimeError(f"the generation ended {generation.status}: {generation.error}")
            start = time.process_time()
            procedural.render(request)
            if attempt >= 2:
                costs.append(cost)
                renders.append(time.process_time() - start)
    report.row(
        "gallery generation 1024x1024, CPU",
        statistics.median(costs),
        "the render alone, CPU",
        statistics.median(renders),
    )
    report.note("CPU of the web process (and its helpers) plus this process running the worker")


def throughput_rows(report: Report, key: str, *, generations: int = 30) -> None:
    """Generations a minute through scripts/supervise.py, as ``make run`` starts it."""
    owner = bench_user()
    request = generation_request()
    data = procedural.render(request).images[0].data
    holder = Generation.objects.create(
        owner=owner,
        prompt=PROMPT,
        model=PROCEDURAL_MODEL,
        n=1,
        size="1024x1024",
        response_format="b64_json",
        status=Generation.Status.RUNNING,
    )
    indexes = iter(range(100_000))
    start = time.process_time()
    for _ in range(10):
        procedural.render(request)
    render = (time.process_time() - start) / 10
    start = time.process_time()
    for _ in range(10):
        services.image_store(generation=holder, index=next(indexes), data=data)
    store = (time.process_time() - start) / 10
    # Done, or it would count as the owner's running generation and hold the queue back.
    Generation.objects.filter(pk=holder.pk).update(status=Generation.Status.DONE)
    report.info("render + store of one image, CPU", format_seconds(render + store))
    for workers in (1, 2):
        port = _free_port()
        env = {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "NOVISURF_WORKERS": str(workers),
            "NOVISURF_ACCESS_LOG": "0",
            "NOVISURF_API_BASE": f"http://127.0.0.1:{port}/v1",
            "NOVISURF_API_KEY": key,
            "NOVISURF_USER_MAX_RUNNING": str(workers),
            "PYTHON": sys.executable,
        }
        argv = [sys.executable, "scripts/supervise.py"]
        with _server(argv, port, "/healthz", env=env) as supervisor:
            _drain(owner, 2 * workers, f"warm-up {workers}")
            cpu_before = tree_cpu(supervisor.pid)
            elapsed = _drain(owner, generations, f"{workers} workers")
            cpu = (tree_cpu(supervisor.pid) - cpu_before) / generations
        per_generation = elapsed / generations
        allowed = (render + store) / min(workers, 2)
        report.row(
            f"make run, {workers} worker{'s' if workers > 1 else ''}: s per generation",
            per_generation,
            f"render+store on {min(workers, 2)} core{'s' if workers > 1 else ''}",
            allowed,
        )
        report.info(
            "  generations a minute",
            f"{60 / per_generation:.0f} ({allowed / per_generation:.2f}x what the cores allow)",
        )
        # On a machine that others share, wall time depends on their load; CPU time does not.
        report.info(
            "  CPU per generation, all processes",
            f"{format_seconds(cpu)} ({(render + store) / cpu:.2f}x render+store's own)",
        )


def _drain(owner, count: int, label: str, deadline: float = 120) -> float:
    started = time.monotonic()
    ids = [_generation(owner, f"{label} {i}").pk for i in range(count)]
    pending = Generation.objects.filter(pk__in=ids).exclude(
        status__in=[Generation.Status.DONE, Generation.Status.FAILED]
    )
    while pending.exists():
        if time.monotonic() - started > deadline:
            states = sorted({(g.status, g.wait_reason or g.error) for g in pending})
            raise RuntimeError(
                f"{pending.count()} generations not done after {deadline} s: {states}"
            )
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    failed = Generation.objects.filter(pk__in=ids, status=Generation.Status.FAILED)
    if failed.exists():
        raise RuntimeError(f"{failed.count()} generations failed: {failed.first().error}")
    return elapsed
