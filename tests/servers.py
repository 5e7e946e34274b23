"""Real PostgreSQL, Redis and S3 (moto's server) on loopback, for the suite's second run and the
bench's scale mode.

Each server gets a free loopback port and a data folder of its own under one temporary folder,
and is stopped (and the folder removed) when the ``real_servers()`` block ends, however it ends.
The settings they need come back as environment variables: a database, a cache key prefix and a
bucket made for this run alone, all named ``novisurf-test-…`` so that the test setup can refuse
anything else.

    python -m tests.servers -- COMMAND ...   start them, run COMMAND with their settings, stop them

Exit status: COMMAND's. When the servers cannot be started here (no PostgreSQL or Redis
installed), it says so loudly and exits 0 without running COMMAND, except on CI (``CI=true``),
where that is a failure.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Every database, cache prefix and bucket this module makes starts with this, and the test setup
# refuses to touch one that does not (tests/conftest.py): the suite never meets an operator's data.
TEST_PREFIX = "novisurf-test-"
START_TIMEOUT = 60.0
# The settings a run against these servers sets (with NOVISURF_REAL_SERVERS=1 to say so).
SETTINGS = (
    "DATABASE_URL",
    "CACHE_URL",
    "CACHE_KEY_PREFIX",
    "STORAGE_BACKEND",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_REGION_NAME",
)


class ServersUnavailable(RuntimeError):
    """What is missing on this machine, in words."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bindir() -> Path | None:
    """Debian installs each major version under /usr/lib/postgresql/N/bin; take the newest."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def missing() -> list[str]:
    """What this machine lacks to start the servers (empty: nothing)."""
    lacks = []
    if postgres_bindir() is None:
        lacks.append("PostgreSQL (apt-get install postgresql)")
    if shutil.which("redis-server") is None:
        lacks.append("Redis (apt-get install redis-server)")
    try:
        import moto.server  # noqa: F401
    except ImportError:
        lacks.append("moto's S3 server (pip install -r requirements-dev.txt)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            lacks.append("the postgres user (PostgreSQL refuses to run as root)")
    return lacks


@dataclass
class Servers:
    """The running servers and the environment that points a Novisurf process at them."""

    root: Path
    run_id: str
    env: dict[str, str] = field(default_factory=dict)
    processes: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def stop(self) -> None:
        # Each server runs in a session of its own (PostgreSQL under runuser as root): signal the
        # whole group, so that no child outlives its parent. SIGINT is PostgreSQL's fast shutdown.
        for _, process in reversed(self.processes):
            _signal_group(process, signal.SIGINT)
        for _, process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        # The group's last members may still be exiting after their leader: wait them out.
        for _, process in self.processes:
            deadline = time.monotonic() + 15
            while _group_alive(process.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _group_alive(process.pid):
                _signal_group(process, signal.SIGKILL)
        self.processes.clear()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; as root (CI, containers) run it as Debian's postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _wait(check, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServersUnavailable(f"{what} exited at start:\n{_tail(log)}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise ServersUnavailable(f"{what} did not answer within {START_TIMEOUT:.0f} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return "(no log)"


def _start_postgres(servers: Servers) -> None:
    bindir = postgres_bindir()
    data = servers.root / "postgres"
    data.mkdir()
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(data, entry.pw_uid, entry.pw_gid)
    log = servers.root / "postgres.log"
    initdb = subprocess.run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "novisurf",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ]
        ),
        check=False,
        capture_output=True,
        text=True,
    )
    if initdb.returncode:
        raise ServersUnavailable(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            _as_postgres(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(data),  # its socket stays in its own folder
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # A throwaway cluster: durability buys nothing here and costs the suite time.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=300",
                ]
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    servers.processes.append(("postgres", process))
    database = f"{TEST_PREFIX}{servers.run_id}"

    import psycopg

    def ready() -> bool:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="novisurf", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return True

    _wait(ready, "PostgreSQL", process, log)
    servers.env["DATABASE_URL"] = f"postgres://novisurf@127.0.0.1:{port}/{database}"


def _start_redis(servers: Servers) -> None:
    data = servers.root / "redis"
    data.mkdir()
    log = servers.root / "redis.log"
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    servers.processes.append(("redis", process))

    def ready() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    _wait(ready, "Redis", process, log)
    servers.env["CACHE_URL"] = f"redis://127.0.0.1:{port}/0"
    servers.env["CACHE_KEY_PREFIX"] = f"{TEST_PREFIX}{servers.run_id}"


def _start_s3(servers: Servers) -> None:
    log = servers.root / "moto.log"
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=servers.root,
        )
    servers.processes.append(("moto", process))
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"{TEST_PREFIX}{servers.run_id}"
    credentials = {
        "AWS_ACCESS_KEY_ID": "novisurf-test",
        "AWS_SECRET_ACCESS_KEY": "novisurf-test-secret",
        "AWS_S3_REGION_NAME": "us-east-1",
    }

    def ready() -> bool:
        s3_client(endpoint, credentials).create_bucket(Bucket=bucket)
        return True

    _wait(ready, "moto's S3 server", process, log)
    servers.env.update(
        STORAGE_BACKEND="s3",
        AWS_STORAGE_BUCKET_NAME=bucket,
        AWS_S3_ENDPOINT_URL=endpoint,
        **credentials,
    )


def s3_client(endpoint: str, credentials: dict[str, str] | None = None):
    """A boto3 S3 client for ``endpoint`` (credentials default to the AWS_* environment)."""
    import boto3

    credentials = credentials or os.environ
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        region_name=credentials.get("AWS_S3_REGION_NAME", "us-east-1"),
    )


@contextlib.contextmanager
def real_servers() -> Iterator[Servers]:
    """Start PostgreSQL, Redis and an S3 server; stop them and remove their data at the end."""
    lacks = missing()
    if lacks:
        raise ServersUnavailable("missing: " + "; ".join(lacks))
    root = Path(tempfile.mkdtemp(prefix="novisurf-servers-"))
    os.chmod(root, 0o755)  # the postgres user reaches its data folder inside
    servers = Servers(root=root, run_id=secrets.token_hex(6))
    try:
        _start_postgres(servers)
        _start_redis(servers)
        _start_s3(servers)
        servers.env["NOVISURF_REAL_SERVERS"] = "1"
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(root, ignore_errors=True)


def _loud(message: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n{message}\n{bar}\n", file=sys.stderr, flush=True)


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    on_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    try:
        with real_servers() as servers:
            print(
                "Real servers for this run: "
                + ", ".join(
                    f"{key}={servers.env[key]}"
                    for key in ("DATABASE_URL", "CACHE_URL", "AWS_S3_ENDPOINT_URL")
                ),
                flush=True,
            )
            # A Ctrl-C or a kill of make reaches the command; the finally above still stops the
            # servers once it has gone.
            process = subprocess.Popen(argv, env={**os.environ, **servers.env})
            try:
                return process.wait()
            except KeyboardInterrupt:
                process.send_signal(signal.SIGINT)
                process.wait()
                return 130
    except ServersUnavailable as exc:
        if on_ci:
            _loud(f"The real-server run cannot start on CI: {exc}")
            return 1
        _loud(
            "SKIPPED: the second run against PostgreSQL, Redis and S3 did not run.\n"
            f"{exc}\n"
            "Install them (`make servers`, as root or with sudo) to run it."
        )
        return 0


if __name__ == "__main__":
    # SIGTERM (make killed, CI timing out) unwinds like Ctrl-C, so the servers stop too.
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main(sys.argv[1:]))
