"""Built-in renders in helper processes (NOVISURF_RENDER_PROCESSES): the same pictures, made
outside the web process; small ones, edits and streams stay in it."""

from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path

import openai
import pytest

from api.renderers import pool, procedural
from novisurf.protocol import PROCEDURAL_MODEL, validate_generation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_pool():
    pool._reset()
    yield
    pool._reset()


def request(size: str = "1024x1024", n: int = 1):
    return validate_generation(
        {"prompt": "a neon city skyline at night", "model": PROCEDURAL_MODEL, "size": size, "n": n}
    )


def test_a_render_in_a_helper_is_the_same_picture(fresh_pool):
    wanted = request(n=2)
    made = pool.render(wanted, processes=1, min_pixels=1)
    assert pool._executor is not None  # a helper made it
    assert [i.data for i in made.images] == [i.data for i in procedural.render(wanted).images]
    assert made.fields == procedural.render(wanted).fields


def test_small_renders_stay_in_the_web_process(fresh_pool):
    pool.render(request("256x256"), processes=2, min_pixels=512 * 512)
    pool.render(request("1024x1024"), processes=0, min_pixels=1)
    assert pool._executor is None


def test_a_helper_that_dies_does_not_fail_the_render(fresh_pool):
    wanted = request()
    pool.render(wanted, processes=1, min_pixels=1)
    for process in list(pool._executor._processes.values()):
        process.kill()
        process.join(10)
    made = pool.render(wanted, processes=1, min_pixels=1)
    assert made.images[0].data == procedural.render(wanted).images[0].data
    pool.render(wanted, processes=1, min_pixels=1)  # and the next one gets fresh helpers
    assert pool._executor is not None


@pytest.mark.django_db(transaction=True)
def test_the_endpoint_answers_from_the_helpers(settings, fresh_pool, endpoint_url, api_key):
    settings.NOVISURF_RENDER_PROCESSES = 2
    settings.NOVISURF_RENDER_POOL_MIN_PIXELS = 512 * 512
    client = openai.OpenAI(base_url=endpoint_url, api_key=api_key, max_retries=0)
    answer = client.images.generate(
        prompt="a neon city skyline at night",
        model=PROCEDURAL_MODEL,
        size="1024x1024",
        response_format="b64_json",
    )
    assert pool._executor is not None
    wanted = request()
    assert base64.b64decode(answer.data[0].b64_json) == procedural.render(wanted).images[0].data


def _supervise():
    spec = importlib.util.spec_from_file_location("supervise", ROOT / "scripts" / "supervise.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["supervise"] = module
    spec.loader.exec_module(module)
    return module


def test_make_run_asks_for_one_helper_per_core_unless_told(monkeypatch, tmp_path):
    supervise = _supervise()
    monkeypatch.setattr(supervise, "ROOT", tmp_path)
    monkeypatch.delenv("NOVISURF_RENDER_PROCESSES", raising=False)
    web = next(kid for kid in supervise.children() if kid.name == "web")
    assert int(web.env["NOVISURF_RENDER_PROCESSES"]) >= 1

    (tmp_path / ".env").write_text("SECRET_KEY=x\nNOVISURF_RENDER_PROCESSES=0\n")
    assert next(kid for kid in supervise.children() if kid.name == "web").env == {}

    (tmp_path / ".env").unlink()
    monkeypatch.setenv("NOVISURF_RENDER_PROCESSES", "3")
    assert next(kid for kid in supervise.children() if kid.name == "web").env == {}
