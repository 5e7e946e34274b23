"""README's "Deploying" section, the Dockerfile and compose.yaml say what the scale scenario
runs (tests/deployment.py): the same commands, and only settings the site documents and reads.

No container daemon runs where the tests run, so the container files are checked as text:
they parse, run these commands, and copy files that exist.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import yaml

from tests.deployment import (
    SETUP_COMMANDS,
    TEST_ONLY_SETTINGS,
    WEB_COMMAND,
    WORKER_COMMAND,
    WORKER_ID_ARGS,
    deploy_settings,
)
from tests.servers import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DEPLOYING = README[
    README.index("## Deploying") : README.index("\n## ", README.index("## Deploying") + 5)
]
# Read by the libraries rather than by settings.py.
READ_ELSEWHERE = {"WEB_CONCURRENCY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


def _env_block() -> dict[str, str]:
    block = re.search(r"```sh\n(\s*SECRET_KEY=.*?)```", DEPLOYING, re.S)
    assert block, "the Deploying section has no settings block"
    pairs = [line.strip().split("=", 1) for line in block.group(1).splitlines() if "=" in line]
    return dict(pairs)


def _web(address: str) -> list[str]:
    return [arg.format(address=address) for arg in WEB_COMMAND]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_the_documented_settings_are_the_ones_the_scale_run_sets():
    documented = set(_env_block())
    scale_run = set(
        deploy_settings(servers_env=dict.fromkeys(SETTINGS, ""), api_base="", api_key="")
    )
    assert documented == scale_run - TEST_ONLY_SETTINGS


def test_every_documented_setting_is_read_and_in_the_table():
    settings_source = (ROOT / "novisurf_site" / "settings.py").read_text()
    table = README[README.index("## Configuration") : README.index("## Testing")]
    for key in _env_block():
        assert key in READ_ELSEWHERE or f'"{key}"' in settings_source, key
        assert f"`{key}`" in table, f"{key} is missing from the Configuration table"


def test_the_units_run_the_scale_runs_commands():
    starts = [shlex.split(line) for line in re.findall(r"ExecStart=(.*)", DEPLOYING)]
    assert len(starts) == 2
    web, worker = starts
    assert web[0].endswith("/.venv/bin/gunicorn")
    assert web[1:] == _web("127.0.0.1:%i")[1:]
    assert worker[0].endswith("/.venv/bin/python")
    assert worker[1:] == WORKER_COMMAND + [a.format(worker_id="%H-%i") for a in WORKER_ID_ARGS]
    for command in SETUP_COMMANDS:
        assert " ".join(command) in DEPLOYING
    assert "pip install -r requirements-deploy.txt" in DEPLOYING


def test_compose_runs_the_same_commands_with_documented_settings():
    compose = _compose()
    services = compose["services"]
    assert {"web", "worker", "migrate", "db", "cache", "minio"} <= set(services)
    assert services["web"]["command"] == _web("0.0.0.0:8000")
    assert services["worker"]["command"] == ["python", *WORKER_COMMAND]
    assert services["migrate"]["command"] == ["python", *SETUP_COMMANDS[0]]
    documented = set(_env_block())
    for name, service in services.items():
        for dependency in service.get("depends_on", []):
            assert dependency in services, (name, dependency)
        if service.get("build") == ".":
            assert set(service["environment"]) <= documented, name
            assert service["environment"]["DATABASE_URL"].startswith("postgres://")
            assert service["environment"]["CACHE_URL"].startswith("redis://")
            assert service["environment"]["STORAGE_BACKEND"] == "s3"
    # Every named volume is declared.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in compose["volumes"], volume


def test_the_dockerfile_builds_from_the_requirements_and_runs_the_web_command():
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    instructions = [line.split(None, 1) for line in lines]
    assert instructions[0][0] == "FROM"
    assert re.match(r"python:3\.11(-|$)", instructions[0][1])
    for keyword, argument in instructions:
        if keyword == "COPY":
            for source in shlex.split(argument)[:-1]:
                assert source == "." or (ROOT / source).exists(), source
    runs = " ".join(argument for keyword, argument in instructions if keyword == "RUN")
    assert "pip install --no-cache-dir -r requirements-deploy.txt" in runs
    assert "manage.py collectstatic --noinput" in runs
    [cmd] = [json.loads(argument) for keyword, argument in instructions if keyword == "CMD"]
    assert cmd == _web("0.0.0.0:8000")
    assert any(keyword == "USER" for keyword, _ in instructions)  # not root
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)


def test_deploy_requirements_pin_what_the_settings_need():
    pins = {}
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    lines += (ROOT / "requirements-deploy.txt").read_text().splitlines()
    for line in lines:
        if "==" in line:
            name, version = line.split("==")
            pins[name.split("[")[0].lower()] = (name, version)
    for package in ("psycopg", "redis", "django-storages", "boto3", "uvicorn", "uvicorn-worker"):
        assert package in pins, package
    assert "pool" in pins["psycopg"][0] and "binary" in pins["psycopg"][0]
    assert "s3" in pins["django-storages"][0]
