"""The server `make run` starts (scripts/supervise.py): uvicorn and a worker, supervised.

These start the real processes on a free loopback port with a database of their own, and
stop them at the end. Slow clients are sockets on loopback that send a request one byte at a
time; every loop here is bounded.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.utils import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.process


@pytest.fixture
def site(tmp_path):
    """A migrated site served by the supervisor; yields (base_url, process, log path)."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "NOVISURF_ACCESS_LOG": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHON": sys.executable,
        }
    )
    env.pop("NOVISURF_API_KEY", None)
    # A site of its own: never the operator's database, cache or bucket.
    for name in ("CACHE_URL", "STORAGE_BACKEND"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log = tmp_path / "supervise.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "scripts/supervise.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(
            lambda: answers(base + "/healthz") or answers(base + "/accounts/login/"), 30
        )
        yield base, process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(url, timeout=timeout).status_code < 500
    except requests.RequestException:
        return False


def wait_until(condition, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def child_pids(log: Path, name: str) -> list[int]:
    return [int(pid) for pid in re.findall(rf"started {name} \(pid (\d+)\)", log.read_text())]


def test_a_crashed_worker_and_web_server_are_restarted_and_ctrl_c_stops_all(site):
    base, supervisor, log = site
    [worker] = child_pids(log, "worker")
    os.kill(worker, signal.SIGKILL)
    assert wait_until(lambda: len(child_pids(log, "worker")) == 2, 15), log.read_text()
    assert "worker stopped (signal 9); restarting" in log.read_text()

    [web] = child_pids(log, "web")
    os.kill(web, signal.SIGKILL)
    assert wait_until(lambda: len(child_pids(log, "web")) == 2, 15), log.read_text()
    assert wait_until(lambda: answers(base + "/accounts/login/"), 30)

    children = child_pids(log, "web")[-1:] + child_pids(log, "worker")[-1:]
    supervisor.send_signal(signal.SIGINT)
    supervisor.wait(25)
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_fifty_slow_connections_do_not_stop_a_normal_page(site):
    base, _, _ = site
    port = int(base.rsplit(":", 1)[1])
    slow = []
    try:
        for _ in range(50):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            # A request that never ends: headers trickle in and the blank line never comes.
            sock.sendall(b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(sock)
        for sock in slow:
            sock.sendall(b"a")
        started = time.monotonic()
        # A server with one thread per connection (gunicorn's sync workers) would be stuck
        # here until those connections time out; an event loop answers at once.
        response = requests.get(base + "/accounts/login/", timeout=5)
        took = time.monotonic() - started
        assert response.status_code == 200
        assert "Log in" in response.text
        print(f"\nLogin page with 50 slow connections open: {took * 1000:.0f} ms")
        api = requests.post(base + "/v1/images/generations", json={}, timeout=5)
        assert api.status_code == 401
    finally:
        for sock in slow:
            sock.close()
