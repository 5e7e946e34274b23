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
            # Where Django would spool a request body: a folder each test can look into.
            "TMPDIR": str(tmp_path / "tmp"),
        }
    )
    (tmp_path / "tmp").mkdir()
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


def raw_request(port: int, head: str, body: bytes = b"", *, chunks: int = 0) -> bytes:
    """Send ``head`` and a few bytes of body on a socket, then read the answer (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        try:
            for _ in range(chunks):  # a chunked body of 64 KB chunks, until it is refused
                sock.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
        except OSError:
            pass  # the server answered and closed: the rest is not wanted
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 65536:
            part = sock.recv(65536)
            if not part:
                break
            answer += part
        return answer


GIGABYTE_BODIES = [
    ("/v1/images/edits", "Content-Type: multipart/form-data; boundary=b\r\n"),
    ("/accounts/login/", "Content-Type: application/x-www-form-urlencoded\r\n"),
    ("/healthz", ""),
    ("/import", "Content-Type: multipart/form-data; boundary=b\r\n"),
]


def test_bodies_are_refused_from_their_headers_before_they_are_read(site):
    base, _, log = site
    port = int(base.rsplit(":", 1)[1])
    spool = log.parent / "tmp"
    # 1 GiB claimed, three bytes sent: a 413 at once (the server would otherwise wait for
    # the rest, then spool it to disk).
    for path, headers in GIGABYTE_BODIES:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {1 << 30}\r\n"
        answer = raw_request(port, head + headers, b"abc")
        assert answer.startswith(b"HTTP/1.1 413 "), (path, answer[:200])
    # Under the cap, but to the API without a valid key: a 401 before the body is read.
    for auth in ("", "Authorization: Bearer dkai_not-a-key\r\n"):
        head = (
            "POST /v1/images/edits HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {60 * 1024 * 1024}\r\n{auth}"
            "Content-Type: multipart/form-data; boundary=b\r\n"
        )
        answer = raw_request(port, head, b"--b\r\n")
        assert answer.startswith(b"HTTP/1.1 401 "), (auth, answer[:200])
    # An upload page without a login: a 403 before the body is read.
    head = (
        f"POST /import HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {100 << 20}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
    )
    assert raw_request(port, head, b"--b\r\n").startswith(b"HTTP/1.1 403 ")
    # A chunked body (no length) is cut at the cap: 16 MB offered, the login page takes 64 KB.
    head = (
        "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
    )
    assert raw_request(port, head, chunks=256).startswith(b"HTTP/1.1 413 ")
    # Nothing of any of them reached the disk.
    assert sorted(p.name for p in spool.rglob("*") if p.is_file()) == []


def _api_key(base: str, log: Path) -> str:
    """A user and a key of the supervised site's own database (its environment is the log's
    folder's: the ``site`` fixture's)."""
    tmp_path = log.parent
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "DJANGO_SUPERUSER_USERNAME": "ada",
            "DJANGO_SUPERUSER_EMAIL": "ada@example.com",
            "DJANGO_SUPERUSER_PASSWORD": "ada-password-123",
        }
    )
    run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "manage.py", "createsuperuser", "--noinput"], **run)
    made = subprocess.run([sys.executable, "manage.py", "createapikey", "ada"], **run)
    return made.stdout.strip().splitlines()[-1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_the_endpoint_renders_in_helper_processes_that_ctrl_c_stops(site):
    base, supervisor, log = site
    key = _api_key(base, log)
    response = requests.post(
        base + "/v1/images/generations",
        json={"prompt": "a lighthouse at dawn", "size": "1024x1024", "response_format": "b64_json"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["b64_json"]
    [web] = child_pids(log, "web")
    helpers = [pid for pid in _children(web) if b"spawn_main" in _cmdline(pid)]
    assert helpers, "the web process rendered without its helper processes"
    # Static files are still served, by the web process itself.
    css = requests.get(base + "/static/css/site.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")

    # A web process killed outright runs no clean-up: its helpers leave by themselves.
    os.kill(web, signal.SIGKILL)
    assert wait_until(lambda: not any(_alive(pid) for pid in helpers), 15)
    assert wait_until(lambda: len(child_pids(log, "web")) == 2, 15), log.read_text()
    assert wait_until(lambda: answers(base + "/accounts/login/"), 30)

    supervisor.send_signal(signal.SIGINT)
    supervisor.wait(25)
    assert not _alive(child_pids(log, "web")[-1])
    assert "leaked" not in log.read_text()


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent is gone for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
