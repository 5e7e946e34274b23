"""Stored -> visible: how long after an image is stored an open gallery receives its tile.

A real uvicorn (ASGI, as ``make run`` serves) on a free loopback port, on the benchmark's
throwaway database; an open gallery is a streaming ``GET /events`` (what the page's EventSource
opens), read in a thread. Each image is stored here through ``services.image_store`` (as a worker
stores it); the figure is the time from the store's commit to the tile's arrival. Baseline: one
``GET`` of the generation's JSON status from the same server, the floor of any page that asks.
Twenty open galleries of the same person are then connected, to show that one poller serves them
all (the latency should not grow with them).
"""

from __future__ import annotations

import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from django.conf import settings
from django.test import Client
from PIL import Image as PILImage

from bench.timing import Report, format_seconds
from gallery import services
from gallery.models import Generation
from novisurf.protocol import PROCEDURAL_MODEL

TITLE = "Live: stored -> tile received by an open gallery (uvicorn, server-sent events)"
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = 25


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _png() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 48), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


class Listener:
    """One open gallery: reads the event stream and notes when each tile arrived."""

    def __init__(self, url: str, cookies: dict) -> None:
        self.arrived: dict[str, float] = {}
        self.ready = threading.Event()
        self.response = requests.get(
            url,
            cookies=cookies,
            stream=True,
            timeout=(5, 60),
            headers={"Accept": "text/event-stream"},
        )
        self.response.raise_for_status()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event = None
        try:
            for line in self.response.iter_lines(chunk_size=1, decode_unicode=True):
                self.ready.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "tile":
                    self.arrived[json.loads(line[6:])["id"]] = time.perf_counter()
        except Exception:  # closed at the end
            pass

    def close(self) -> None:
        self.response.close()


def run(report: Report) -> None:
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user("bench-live", password="bench-password-123")
    client = Client()
    client.force_login(owner)
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "novisurf_site.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1,localhost"},
    )
    listeners: list[Listener] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/accounts/login/", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.2)

        generation = Generation.objects.create(
            owner=owner,
            prompt="live bench",
            model=PROCEDURAL_MODEL,
            n=SAMPLES * 2,
            size="256x256",
            response_format="b64_json",
            status=Generation.Status.RUNNING,
        )
        data = _png()
        index = iter(range(10_000))

        def latencies(watchers: list[Listener], samples: int) -> list[float]:
            found = []
            for _ in range(samples):
                image = services.image_store(generation=generation, index=next(index), data=data)
                stored = time.perf_counter()  # committed: image_store returns after its commit
                key = str(image.pk)
                until = stored + 5
                while time.perf_counter() < until and not all(key in w.arrived for w in watchers):
                    time.sleep(0.001)
                if not all(key in w.arrived for w in watchers):
                    raise RuntimeError("a tile did not arrive within 5 s")
                found.append(statistics.median(w.arrived[key] - stored for w in watchers))
                time.sleep(0.05)  # not in step with the poller
            return found

        listeners.append(Listener(f"{base}/events", cookies))
        listeners[0].ready.wait(10)
        one = latencies(listeners, SAMPLES)

        status_url = f"{base}/generations/{generation.pk}/status"
        rounds = []
        for _ in range(SAMPLES):
            start = time.perf_counter()
            requests.get(status_url, cookies=cookies, timeout=10).raise_for_status()
            rounds.append(time.perf_counter() - start)
        report.row(
            "stored -> tile, 1 open gallery (median)",
            statistics.median(one),
            "GET status JSON round trip",
            statistics.median(rounds),
        )
        report.info("  90th percentile", format_seconds(sorted(one)[int(len(one) * 0.9)]))

        for _ in range(19):
            listeners.append(Listener(f"{base}/events", cookies))
        for listener in listeners:
            listener.ready.wait(10)
        many = latencies(listeners, SAMPLES)
        report.row(
            "stored -> tile, 20 open galleries",
            statistics.median(many),
            "the same, 1 open gallery",
            statistics.median(one),
        )
        if statistics.median(one) > 0.3:
            report.note("over the 300 ms target")
    finally:
        # The server first: its open streams never end by themselves, and a reader blocked on
        # one is released only when the connection drops.
        server.terminate()
        try:
            server.wait(timeout=3)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        for listener in listeners:
            listener.close()
