"""README's "Deploying" section as processes: the commands and settings that the scale test and
the scale bench run, and that the README shows (tests/system/test_deploy_files.py holds them equal).

A ``Deployment`` starts web processes (gunicorn serving the ASGI app with uvicorn workers) and
task workers (``manage.py worker``) on free loopback ports with one environment, and stops them
all, however the block that uses it ends.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.servers import free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent

# The commands, without the interpreter: README's systemd units, the Dockerfile and compose.yaml
# run exactly these.
SETUP_COMMANDS = [
    ["manage.py", "migrate", "--noinput"],
    ["manage.py", "collectstatic", "--noinput"],
]
WEB_COMMAND = [
    "gunicorn",
    "novisurf_site.asgi:application",
    "--worker-class",
    "uvicorn_worker.UvicornWorker",
    "--bind",
    "{address}",
    "--timeout",
    "180",
]
WORKER_COMMAND = ["manage.py", "worker"]
# A name to tell workers apart (the default is host-pid-random): the units name theirs.
WORKER_ID_ARGS = ["--worker-id", "{worker_id}"]


# What the scale run sets only because it is a test run, not a setting of the site.
TEST_ONLY_SETTINGS = {"DJANGO_SETTINGS_MODULE", "PYTHONUNBUFFERED", "NOVISURF_REAL_SERVERS"}


def deploy_settings(*, servers_env: dict[str, str], api_base: str, api_key: str) -> dict[str, str]:
    """Every setting README's "Deploying" section documents, as the scale run sets them.

    ``servers_env`` comes from tests.servers (DATABASE_URL, CACHE_URL, CACHE_KEY_PREFIX, and the
    S3 settings); the rest is what an operator sets behind a TLS-terminating proxy.
    """
    return {
        **servers_env,
        "DJANGO_SETTINGS_MODULE": "novisurf_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CSRF_TRUSTED_ORIGINS": "https://localhost",
        "SECURE_PROXY_SSL": "true",
        "USE_X_FORWARDED_HOST": "true",
        "CONN_MAX_AGE": "60",
        "AWS_LOCATION": "media",
        "NOVISURF_API_BASE": api_base,
        "NOVISURF_API_KEY": api_key,
        "NOVISURF_AUTH_HEADER": "bearer",
        # Generous: the gallery's own calls through the endpoint share one key and one limit,
        # counted in Redis across both web processes.
        "NOVISURF_RATE_LIMIT_PER_MINUTE": "100000",
        # A dead worker's generation is taken up within LEASE + INTERVAL seconds.
        "NOVISURF_LEASE_SECONDS": "10",
        "NOVISURF_MAINTENANCE_INTERVAL": "2",
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Deployment:
    env: dict[str, str]
    log_dir: Path
    webs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    def manage(self, *args: str, timeout: float = 300) -> str:
        """Run ``manage.py ARGS`` with the deployment's settings; its standard output."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def setup(self) -> None:
        for command in SETUP_COMMANDS:
            self.manage(*command[1:], "--verbosity", "0")

    def _spawn(self, argv: list[str], name: str, env: dict[str, str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("ab")
        return subprocess.Popen(
            argv,
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a stop reaches gunicorn's children too
        )

    def start_web(self, port: int | None = None) -> str:
        """Start one web process; its base URL once it answers."""
        port = port or free_port()
        argv = [sys.executable, "-m", *(a.format(address=f"127.0.0.1:{port}") for a in WEB_COMMAND)]
        name = f"web-{len(self.webs) + 1}"
        process = self._spawn(argv, name, self.env)
        url = f"http://127.0.0.1:{port}"
        self.webs.append((url, process))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log(name)}")
            try:
                if requests.get(f"{url}/accounts/login/", timeout=2).status_code == 200:
                    return url
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer within 60 s:\n{self.log(name)}")

    def start_worker(self, worker_id: str, **extra_env: str) -> subprocess.Popen:
        argv = [
            sys.executable,
            *WORKER_COMMAND,
            *(a.format(worker_id=worker_id) for a in WORKER_ID_ARGS),
        ]
        process = self._spawn(argv, worker_id, {**self.env, **extra_env})
        self.workers[worker_id] = process
        return process

    def log(self, name: str) -> str:
        try:
            return (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def stop_workers(self) -> None:
        _stop([p for p in self.workers.values()])
        self.workers.clear()

    def stop(self) -> None:
        self.stop_workers()
        _stop([p for _, p in self.webs])
        self.webs.clear()


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def deployment(env: dict[str, str], log_dir: Path) -> Iterator[Deployment]:
    log_dir.mkdir(parents=True, exist_ok=True)
    running = Deployment(env=env, log_dir=log_dir)
    try:
        yield running
    finally:
        running.stop()


class Browser(requests.Session):
    """A person's browser behind the TLS proxy: the proxy's X-Forwarded-Proto, and cookies that
    are Secure (SECURE_PROXY_SSL) sent back although this hop is plain HTTP."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.headers["X-Forwarded-Proto"] = "https"
        self.headers["X-Forwarded-Host"] = "localhost"
        self.headers["Origin"] = "https://localhost"
        self.headers["Referer"] = "https://localhost/"

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 60)
        if url.startswith("/"):
            url = self.base_url + url
        response = super().request(method, url, *args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return response

    def csrf(self, path: str) -> str:
        page = self.get(path)
        page.raise_for_status()
        marker = 'name="csrfmiddlewaretoken" value="'
        start = page.text.index(marker) + len(marker)
        return page.text[start : page.text.index('"', start)]

    def log_in(self, username: str, password: str) -> None:
        token = self.csrf("/accounts/login/")
        response = self.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(f"Login as {username} failed: {response.status_code}")
