"""The providers file: a right one routes, a wrong one stops startup naming the file and line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from api.renderers.base import ProviderConfigError
from api.renderers.config import providers_file_load

ROOT = Path(__file__).resolve().parents[2]

# The README's example, as an operator would copy it (the ComfyUI entry needs its adapter).
EXAMPLE = """\
[[providers]]
name = "cloud"
kind = "openai"
base_url = "https://api.openai.com/v1"
api_key = "env:OPENAI_API_KEY"
models = ["gpt-image-2"]
price_per_image = 0.04
timeout = 90
max_concurrency = 2

[[providers]]
name = "azure-east"
kind = "azure"
base_url = "https://my-resource.openai.azure.com"
api_key = "env:AZURE_OPENAI_KEY"
models = ["gpt-image-1.5"]
api_version = "2025-04-01-preview"
deployments = { "gpt-image-1.5" = "images-prod" }

[[aliases]]
name = "fast"
models = ["gpt-image-2", "gpt-image-1.5"]
"""
ENV = {"OPENAI_API_KEY": "sk-1", "AZURE_OPENAI_KEY": "az-2"}


def load(tmp_path, text: str, environ=ENV, **files):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    path = tmp_path / "providers.toml"
    path.write_text(text)
    return providers_file_load(path, environ=environ)


def refused(tmp_path, text: str, environ=ENV, **files) -> str:
    with pytest.raises(ProviderConfigError) as info:
        load(tmp_path, text, environ, **files)
    message = str(info.value)
    assert str(tmp_path / "providers.toml") in message
    return message


def test_a_good_file(tmp_path):
    loaded = load(tmp_path, EXAMPLE)
    cloud, azure = loaded.providers
    assert cloud.name == "cloud" and cloud.kind == "openai"
    assert cloud.api_key == "sk-1"
    assert cloud.models == ("gpt-image-2",)
    assert cloud.price_per_image == Decimal("0.04")
    assert cloud.timeout == 90 and cloud.max_concurrency == 2
    assert azure.api_key == "az-2"
    assert azure.options == {
        "api_version": "2025-04-01-preview",
        "deployments": {"gpt-image-1.5": "images-prod"},
    }
    (alias,) = loaded.aliases
    assert alias.name == "fast" and alias.models == ("gpt-image-2", "gpt-image-1.5")


def test_unknown_kind_names_its_line(tmp_path):
    message = refused(tmp_path, EXAMPLE.replace('kind = "azure"', 'kind = "dalle-farm"'))
    assert "line 13" in message
    assert "unknown kind 'dalle-farm'" in message
    assert "openai" in message and "azure" in message


def test_a_duplicate_model_names_its_line(tmp_path):
    message = refused(tmp_path, EXAMPLE.replace('["gpt-image-1.5"]', '["gpt-image-2"]'))
    assert "line 16" in message
    assert "'gpt-image-2' is already served by provider 'cloud'" in message


def test_a_duplicate_name(tmp_path):
    message = refused(tmp_path, EXAMPLE.replace('"azure-east"', '"cloud"'))
    assert "line 12" in message and "'cloud' is already taken" in message


def test_bad_toml_names_the_line(tmp_path):
    message = refused(tmp_path, EXAMPLE.replace("timeout = 90", "timeout = = 90"))
    assert "not valid TOML" in message and "line 8" in message


def test_an_alias_of_a_model_nobody_serves(tmp_path):
    message = refused(
        tmp_path, EXAMPLE.replace('"gpt-image-2", "gpt-image-1.5"', '"gpt-image-2", "flux-dev"')
    )
    assert "line 22" in message and "'flux-dev'" in message


def test_a_missing_environment_variable(tmp_path):
    message = refused(tmp_path, EXAMPLE, environ={"OPENAI_API_KEY": "x"})
    assert "line 15" in message and "AZURE_OPENAI_KEY" in message


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("timeout = 90", "timeout = -1"), 8, "timeout"),
        (("max_concurrency = 2", "max_concurrency = 0"), 9, "max_concurrency"),
        (("price_per_image = 0.04", 'price_per_image = "cheap"'), 7, "price_per_image"),
        (('base_url = "https://api.openai.com/v1"', 'base_url = "ftp://x"'), 4, "base_url"),
        (('models = ["gpt-image-2"]', "models = []"), 6, "models"),
        (('models = ["gpt-image-2"]', 'models = ["novisurf-procedural"]'), 6, "built-in"),
    ],
)
def test_bad_values_name_their_line(tmp_path, change, line, words):
    message = refused(tmp_path, EXAMPLE.replace(*change))
    assert f"line {line}" in message and words in message


def comfy(workflow: str = "workflows/sdxl.json") -> str:
    return f"""
[[providers]]
name = "home-comfy"
kind = "comfyui"
base_url = "http://127.0.0.1:8188"
models = ["sdxl-comfy"]
workflow = "{workflow}"
"""


def test_comfyui_needs_its_workflow_with_the_prompt_placeholder(tmp_path):
    from api.renderers.base import KINDS
    from api.renderers.registry import load_kinds

    load_kinds()
    if "comfyui" not in KINDS:
        pytest.skip("the comfyui kind is not in this build")
    (tmp_path / "workflows").mkdir()
    message = refused(tmp_path, comfy())
    assert "line 7" in message and "cannot read the workflow" in message
    (tmp_path / "workflows" / "sdxl.json").write_text(json.dumps({"3": {"inputs": {"seed": 1}}}))
    message = refused(tmp_path, comfy())
    assert "line 7" in message and "{{prompt}}" in message
    (tmp_path / "workflows" / "sdxl.json").write_text("{not json")
    assert "not JSON" in refused(tmp_path, comfy())


def test_a_wrong_file_stops_manage_py_check(tmp_path):
    path = tmp_path / "providers.toml"
    path.write_text(EXAMPLE.replace('kind = "azure"', 'kind = "nope"'))
    env = {**os.environ, **ENV, "NOVISURF_PROVIDERS_FILE": str(path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"{path}, line 13: provider 'azure-east': unknown kind 'nope'" in result.stderr
    path.write_text(EXAMPLE)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
