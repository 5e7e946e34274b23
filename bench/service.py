"""Many people on one server: the supervised site `make run` starts, measured from outside.

Real processes (scripts/supervise.py: uvicorn and one worker) on a free loopback port, on the
benchmark's throwaway database and media. Three figures, each beside a baseline from this run:
- a second person's wait behind another's 150 queued generations, against one generation alone;
- how long a generation whose worker is killed (SIGKILL) takes to finish, with the default
  lease and housekeeping, against the lease itself;
- the login page's latency with 50 slow connections open, against the same page with none.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from django.conf import settings

from bench.timing import Report

TITLE = "Service: fairness, a killed worker, slow clients (real processes)"
ROOT = Path(__file__).resolve().parent.parent
PROMPT_SIZE = "256x256"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Site:
    def __init__(self, workdir: Path, api_base: str, api_key: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"supervise-{self.port}.log"
        env = dict(os.environ)
        env.update(
            {
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "NOVISURF_API_BASE": api_base or f"{self.base}/v1",
                "NOVISURF_API_KEY": api_key,
                "NOVISURF_ACCESS_LOG": "0",
                "NOVISURF_USER_MAX_RUNNING": "1",
                "PYTHON": sys.executable,
            }
        )
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "scripts/supervise.py"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.base + "/accounts/login/", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"the site did not start; see {self.log}")

    def worker_pid(self) -> int:
        return int(re.findall(r"started worker \(pid (\d+)\)", self.log.read_text())[-1])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def run(report: Report) -> None:
    from django.contrib.auth import get_user_model

    from api.services import apikey_create
    from gallery import services
    from gallery.models import Generation

    User = get_user_model()
    heavy = User.objects.create_user("heavy-user")
    light = User.objects.create_user("light-user")
    _, key = apikey_create(owner=heavy, is_service=True)
    workdir = Path(settings.MEDIA_ROOT).parent

    def make(owner, prompt):
        return services.generation_create(
            owner=owner,
            prompt=prompt,
            model="novisurf-procedural",
            n=1,
            size=PROMPT_SIZE,
            response_format="b64_json",
            tags=[],
        )

    site = _Site(workdir, "", key)
    try:
        alone = make(light, "a lone lighthouse")
        _wait(lambda: Generation.objects.filter(pk=alone.pk, status="done").exists(), 60)
        alone.refresh_from_db()
        one_generation = (alone.finished_at - alone.created_at).total_seconds()

        for i in range(150):
            make(heavy, f"backlog {i} of mountains and rivers")
        time.sleep(0.5)
        theirs = make(light, "one generation behind a backlog")
        _wait(lambda: Generation.objects.filter(pk=theirs.pk, status="done").exists(), 120)
        theirs.refresh_from_db()
        waited = (theirs.finished_at - theirs.created_at).total_seconds()
        behind = Generation.objects.filter(owner=heavy, started_at__lt=theirs.started_at).count()
        report.row(
            "2nd person's generation, 150 queued",
            waited,
            "one generation alone",
            one_generation,
        )
        report.info("  backlog generations that ran first", str(behind))
        _wait(lambda: not Generation.objects.exclude(status__in=("done", "failed")).exists(), 300)
    finally:
        site.stop()

    # A killed worker, with the default lease and housekeeping interval.
    slow = _SlowProvider(delay=4.0)
    site = _Site(workdir, slow.base, "sk-bench")
    try:
        generation = services.generation_create(
            owner=light,
            prompt="killed mid-way",
            model="dall-e-2",
            n=1,
            size=PROMPT_SIZE,
            response_format="b64_json",
            tags=[],
        )
        _wait(slow.called.is_set, 30)
        os.kill(site.worker_pid(), signal.SIGKILL)
        killed = time.monotonic()
        finished = _wait(
            lambda: Generation.objects.filter(pk=generation.pk, status="done").exists(), 120
        )
        took = time.monotonic() - killed
        if not finished:
            raise RuntimeError("the killed worker's generation did not finish within 2 minutes")
        report.row(
            "killed worker's generation: done after",
            took,
            "the lease (NOVISURF_LEASE_SECONDS)",
            float(settings.NOVISURF_LEASE_SECONDS),
        )

        plain = _latencies(site.base + "/accounts/login/", 20)
        sockets = []
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", site.port), timeout=5)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            sockets.append(sock)
        try:
            loaded = _latencies(site.base + "/accounts/login/", 20)
        finally:
            for sock in sockets:
                sock.close()
        report.row("login page, 50 slow connections open", loaded, "login page, none open", plain)
    finally:
        site.stop()
        slow.stop()


def _latencies(url: str, count: int) -> float:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        requests.get(url, timeout=10).raise_for_status()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


class _SlowProvider:
    """An image endpoint on loopback that answers after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        import base64
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (20, 40, 60)).save(buffer, "PNG")
        image = base64.b64encode(buffer.getvalue()).decode()
        self.called = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                n = json.loads(self.rfile.read(length)).get("n", 1)
                outer.called.set()
                time.sleep(delay)
                body = json.dumps({"created": 1, "data": [{"b64_json": image}] * n}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # The worker that asked may have been killed meanwhile: that is the point.
                with contextlib.suppress(BrokenPipeError):
                    self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
