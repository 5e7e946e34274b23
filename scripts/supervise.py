"""Run the web server and the task workers together, restarting any that stops.

`make run` starts this. Each child runs in its own session, so Ctrl-C reaches only this
supervisor, which then stops every child once (SIGTERM, then SIGKILL after a grace period). A
child that exits on its own is restarted with exponential backoff (1 s doubling to 30 s, back to
1 s once it has stayed up for a minute). If the process that started us (make) goes away, we
stop too rather than live on orphaned.

Plain Python, no Django: it only starts processes. Why not honcho, circus or supervisord?
Honcho stops everything when one process exits (the opposite of what we want); circus and
supervisord are daemons driven by their own config files and control sockets, which is more to
install and explain than the 150 lines here for two kinds of process on one machine. On a real
deployment systemd does this job (see README, "Deploying").
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0
GRACE = 10.0


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    started: float = 0.0
    backoff: float = 1.0
    restart_at: float = 0.0
    restarts: int = field(default=0)

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            self.argv, cwd=ROOT, start_new_session=True, env={**os.environ, **self.env}
        )
        self.started = time.monotonic()
        say(f"started {self.name} (pid {self.process.pid})")

    def poll(self) -> None:
        now = time.monotonic()
        if self.process is None:
            if now >= self.restart_at:
                self.start()
            return
        code = self.process.poll()
        if code is None:
            if now - self.started > STABLE_AFTER:
                self.backoff = 1.0
            return
        self.process = None
        self.restarts += 1
        how = f"signal {-code}" if code < 0 else f"code {code}"
        say(f"{self.name} stopped ({how}); restarting in {self.backoff:g} s")
        self.restart_at = now + self.backoff
        self.backoff = min(MAX_BACKOFF, self.backoff * 2)

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)


def say(message: str) -> None:
    print(f"[supervise] {message}", flush=True)


def children() -> list[Child]:
    python = os.environ.get("PYTHON", sys.executable)
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    workers = int(os.environ.get("NOVISURF_WORKERS", "1"))
    # uvicorn: an event loop holds every connection, so slow clients cost a little memory each,
    # not a thread; Django's sync views run in a thread pool once a request has fully arrived.
    web = [
        python,
        "-m",
        "uvicorn",
        "novisurf_site.asgi:application",
        "--host",
        host,
        "--port",
        port,
        "--lifespan",
        "off",
        "--timeout-keep-alive",
        "5",
        "--timeout-graceful-shutdown",
        str(int(GRACE)),
        "--no-server-header",
        # The client's address is the connecting one: uvicorn would otherwise take it from
        # X-Forwarded-For of any loopback peer. Django believes that header only from
        # NOVISURF_TRUSTED_PROXIES (novisurf_site/lockout.py).
        "--no-proxy-headers",
    ]
    if os.environ.get("NOVISURF_ACCESS_LOG", "1") in ("0", "false", "no"):
        web.append("--no-access-log")
    result = [Child("web", web, env=_web_env())]
    for number in range(1, workers + 1):
        name = "worker" if workers == 1 else f"worker-{number}"
        result.append(Child(name, [python, "manage.py", "worker"]))
    return result


def _web_env() -> dict[str, str]:
    """One web process serves everything; its built-in renders run in one helper process per
    core (NOVISURF_RENDER_PROCESSES), so that the endpoint uses every core. Unless the
    environment or .env says otherwise."""
    name = "NOVISURF_RENDER_PROCESSES"
    dotenv = ROOT / ".env"
    lines = dotenv.read_text().splitlines() if dotenv.exists() else []
    if name in os.environ or any(line.strip().startswith(f"{name}=") for line in lines):
        return {}
    return {name: str(os.cpu_count() or 1)}


def main() -> int:
    kids = children()
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    parent = int(os.environ.get("NOVISURF_PARENT_PID", "0") or 0)
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    for kid in kids:
        kid.start()
    say(f"Novisurf is running at http://{host}:{port}/ (Ctrl-C stops it)")
    while not stopping:
        for kid in kids:
            kid.poll()
        if parent and not _alive(parent):
            say("the process that started us is gone; stopping")
            break
        time.sleep(0.2)
    say("stopping")
    for kid in kids:
        kid.signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE + 2
    while time.monotonic() < deadline and any(
        kid.process is not None and kid.process.poll() is None for kid in kids
    ):
        time.sleep(0.1)
    for kid in kids:
        kid.signal(signal.SIGKILL)
        if kid.process is not None:
            kid.process.wait()
    say("stopped")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    sys.exit(main())
