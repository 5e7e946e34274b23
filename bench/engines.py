"""The engine adapters: an answer through Novisurf's adapter against the same fake engine
called directly, per kind, and ComfyUI's first partial image against the fake's first preview.

The fakes (``tests/fakes``) answer at once (no steps, the job ready at the first poll), so the
figure is what the adapter adds: its client, its polls, checking and decoding the image. The
baseline is the least a client of that engine must do: the engine's own calls with a bare
``requests.Session``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench.timing import Report, compare, format_seconds
from novisurf.protocol import GenerationRequest

TITLE = "Engine adapters: one 512x512 image through Novisurf vs the fake engine called directly"
SIZE = (512, 512)


def _request(model: str, **fields) -> GenerationRequest:
    values = {"prompt": "a bench", "model": model, "n": 1, "size": "512x512"}
    return GenerationRequest(response_format="b64_json", **{**values, **fields})


def run(report: Report) -> None:
    from novisurf import client
    from tests.fakes import FakeCDN
    from tests.fakes import bfl as fake_bfl
    from tests.fakes import fal as fake_fal
    from tests.fakes import gemini as fake_gemini
    from tests.fakes import replicate as fake_replicate
    from tests.fakes import stability as fake_stability
    from tests.fakes.a1111 import FakeA1111
    from tests.fakes.comfyui import FakeComfyUI
    from tests.fakes.openai_plain import KEY as PLAIN_KEY
    from tests.fakes.openai_plain import FakePlainOpenAI

    # The fakes' image hosts live on other loopback ports than the engines themselves: allow
    # loopback downloads for this run, as the test suite does.
    client.PRIVATE_DOWNLOAD_HOSTS = ("127.0.0.1", "localhost", "::1")
    os.environ.setdefault("NOVISURF_PRIVATE_DOWNLOAD_HOSTS", "127.0.0.1,localhost,::1")

    session = requests.Session()
    with contextlib.ExitStack() as stack:
        enter = stack.enter_context
        comfy = enter(FakeComfyUI())
        comfy.steps = 0
        webui = enter(FakeA1111())
        webui.steps = 0
        delivery = enter(fake_bfl.FakeDelivery())
        bfl = enter(fake_bfl.FakeBFL(delivery))
        bfl.pending_polls = 0
        cdn = enter(FakeCDN())
        fal = enter(fake_fal.FakeFal(cdn))
        fal.pending_polls = 0
        replicate = enter(fake_replicate.FakeReplicate(cdn))
        replicate.pending_polls = 0
        gemini = enter(fake_gemini.FakeGemini())
        stability = enter(fake_stability.FakeStability())
        plain = enter(FakePlainOpenAI())
        # kind, the fake's URL, its key, the model (the engine's own name), options, direct call
        engines = [
            (
                "openai",
                f"{plain.url}/v1",
                PLAIN_KEY,
                "plain-image",
                {},
                lambda: _openai_direct(session, plain.url),
            ),
            ("comfyui", comfy.url, "", "sdxl", {}, lambda: _comfy_direct(session, comfy.url)),
            ("a1111", webui.url, "", "sd", {}, lambda: _a1111_direct(session, webui.url)),
            (
                "bfl",
                bfl.url,
                fake_bfl.KEY,
                "flux-pro-1.1",
                {},
                lambda: _bfl_direct(session, bfl.url),
            ),
            (
                "fal",
                fal.url,
                fake_fal.KEY,
                "fal-ai/flux/dev",
                {},
                lambda: _fal_direct(session, fal.url),
            ),
            (
                "replicate",
                replicate.url,
                fake_replicate.TOKEN,
                "owner/model",
                {"size_param": "width_height"},
                lambda: _replicate_direct(session, replicate.url),
            ),
            (
                "gemini",
                gemini.url,
                fake_gemini.KEY,
                "gemini-2.5-flash-image",
                {},
                lambda: _gemini_direct(session, gemini.url),
            ),
            (
                "stability",
                stability.url,
                fake_stability.KEY,
                "core",
                {},
                lambda: _stability_direct(session, stability.url),
            ),
        ]
        for kind, url, key, model, options, direct in engines:
            _row(report, kind, _config(kind, url, key, options), model, direct)
        with tempfile.TemporaryDirectory() as folder, _providers_file(folder, engines):
            post = _endpoint_client()
            for kind, _url, _key, model, _options, direct in engines:
                adapted, called = compare(lambda m=model: post(m), direct, repeats=15, warmup=2)
                report.row(
                    f"{kind}: through the endpoint", adapted, "fake engine called directly", called
                )
            report.note(
                "through the endpoint: POST /v1/images/generations (b64_json) with a real key; it "
                "includes keeping the image in the key owner's gallery"
            )
            _first_partial(report, comfy, post)
            _first_partial_a1111(report, webui)


def _config(kind: str, url: str, key: str, options: dict):
    from api.renderers.base import ProviderConfig
    from tests.fakes.comfyui import WORKFLOW

    return ProviderConfig(
        name=f"bench-{kind}",
        kind=kind,
        base_url=url,
        api_key=key,
        workflow=WORKFLOW if kind == "comfyui" else None,
        options=options,
    )


@contextlib.contextmanager
def _providers_file(folder: str, engines):
    """A providers file naming every fake, each model ``bench-<kind>``, for the endpoint."""
    from django.test import override_settings

    from tests.fakes.comfyui import WORKFLOW

    path = Path(folder)
    (path / "workflow.json").write_text(json.dumps(WORKFLOW))
    entries = []
    for kind, url, key, model, options, _direct in engines:
        lines = [
            "[[providers]]",
            f'name = "bench-{kind}"',
            f'kind = "{kind}"',
            f'base_url = "{url}"',
            f'models = ["bench-{kind}"]',
        ]
        if key:
            os.environ[f"BENCH_{kind.upper()}_KEY"] = key
            lines.append(f'api_key = "env:BENCH_{kind.upper()}_KEY"')
        if kind == "comfyui":
            lines.append('workflow = "workflow.json"')
        if kind in ("bfl", "fal", "replicate", "gemini", "stability"):
            lines.append(f'endpoints = {{ "bench-{kind}" = "{model}" }}')
        lines += [f'{name} = "{value}"' for name, value in options.items()]
        entries.append("\n".join(lines))
    (path / "providers.toml").write_text("\n\n".join(entries) + "\n")
    with override_settings(NOVISURF_PROVIDERS_FILE=str(path / "providers.toml")):
        yield


def _endpoint_client():
    """``post(model)``: one image through ``POST /v1/images/generations``."""
    from django.test import Client

    from api.services import apikey_create
    from bench.fixtures import bench_user

    _, raw_key = apikey_create(owner=bench_user(), name="bench-engines")
    client = Client()
    headers = {"Authorization": f"Bearer {raw_key}"}

    def post(model: str, *, stream: bool = False):
        body = {
            "prompt": "a bench",
            "model": _bench_model(model),
            "n": 1,
            "size": "512x512",
            "response_format": "b64_json",
        }
        if stream:
            body.update(stream=True, partial_images=2)
        response = client.post(
            "/v1/images/generations",
            data=json.dumps(body),
            content_type="application/json",
            headers=headers,
        )
        if response.status_code != 200:
            content = b"".join(response.streaming_content) if stream else response.content
            raise RuntimeError(f"{body['model']}: HTTP {response.status_code}: {content[:300]!r}")
        return response

    return post


_MODEL_KINDS = {
    "plain-image": "openai",
    "sdxl": "comfyui",
    "sd": "a1111",
    "flux-pro-1.1": "bfl",
    "fal-ai/flux/dev": "fal",
    "owner/model": "replicate",
    "gemini-2.5-flash-image": "gemini",
    "core": "stability",
}


def _bench_model(model: str) -> str:
    return f"bench-{_MODEL_KINDS[model]}"


def _row(report: Report, kind: str, config, model: str, direct) -> None:
    """The adapter alone, against the engine called directly."""
    import importlib

    from api.renderers.base import KINDS

    importlib.import_module(f"api.renderers.{kind}")  # a kind's module registers it
    renderer = KINDS[kind](config)
    request = _request(model)

    def through() -> None:
        if not renderer.render(request).images:
            raise RuntimeError(f"{kind}: no image")

    adapted, called = compare(through, direct, repeats=15, warmup=2)
    report.row(f"{kind}: adapter alone", adapted, "fake engine called directly", called)


def _first_partial(report: Report, comfy, post) -> None:
    """Time from the request to the first partial image, out of the ComfyUI adapter's stream and
    out of the endpoint's event stream, against the time from the request to the fake sending
    its first preview frame."""
    from api.renderers.comfyui import ComfyUIRenderer

    comfy.steps = 3
    comfy.step_delay = 0.05
    renderer = ComfyUIRenderer(_config("comfyui", comfy.url, "", {}))

    def adapter_events():
        for event in renderer.stream(_request("sdxl", stream=True, partial_images=2)):
            yield event.event or ""

    def endpoint_events():
        for chunk in post("sdxl", stream=True).streaming_content:
            yield "partial_image" if b"partial_image" in chunk else "other"

    for name, events in (("adapter stream", adapter_events), ("endpoint stream", endpoint_events)):
        ours, theirs = [], []
        for _ in range(7):
            start = time.perf_counter()
            before = set(comfy.first_preview_sent)
            first = None
            for kind in events():
                if first is None and kind.endswith("partial_image"):
                    first = time.perf_counter() - start
            (prompt_id,) = set(comfy.first_preview_sent) - before
            if first is None:
                raise RuntimeError(f"comfyui: the {name} had no partial image")
            ours.append(first)
            theirs.append(comfy.first_preview_sent[prompt_id] - start)
        report.row(
            f"comfyui: first partial_image, {name}",
            statistics.median(ours),
            "fake's first preview sent",
            statistics.median(theirs),
        )
    report.note(
        f"the fake waits {format_seconds(comfy.step_delay)} a step; the difference is the "
        "websocket, the queueing and the event"
    )


def _first_partial_a1111(report: Report, webui) -> None:
    """A1111 shows its work through /sdapi/v1/progress, which the adapter asks while the
    request runs: the first partial image against the moment the fake had its first preview."""
    from api.renderers.a1111 import A1111Renderer

    webui.steps = 6
    webui.step_delay = 0.1
    renderer = A1111Renderer(_config("a1111", webui.url, "", {}))
    ours, theirs = [], []
    for _ in range(7):
        start = time.perf_counter()
        job = len(webui.checkpoints_used) + 1
        first = None
        for event in renderer.stream(_request("sd", stream=True, partial_images=2)):
            if first is None and (event.event or "").endswith("partial_image"):
                first = time.perf_counter() - start
        if first is None or job not in webui.first_preview_at:
            raise RuntimeError("a1111: the stream had no partial image")
        ours.append(first)
        theirs.append(webui.first_preview_at[job] - start)
    report.row(
        "a1111: first partial_image, adapter",
        statistics.median(ours),
        "fake's first preview ready",
        statistics.median(theirs),
    )
    report.note(
        "A1111 has no push: its preview is asked for every 0.05 s at first, then more slowly "
        "(the fake has one every 0.1 s)"
    )


# -- each engine called directly: the least its own client does -------------------------------


def _require_image(data: bytes) -> None:
    if not data.startswith(b"\x89PNG"):
        raise RuntimeError("the fake sent no PNG")


def _comfy_direct(session: requests.Session, url: str) -> None:
    import websocket

    from api.renderers.comfyui import fill_workflow
    from tests.fakes.comfyui import WORKFLOW

    client_id = uuid.uuid4().hex
    ws = websocket.create_connection(
        f"ws://{url.split('://')[1]}/ws?clientId={client_id}", timeout=10
    )
    try:
        ws.recv()  # the server's "status" greeting: the client id is registered
        values = {
            "prompt": "a bench",
            "negative_prompt": "",
            "width": 512,
            "height": 512,
            "seed": 1,
            "batch_size": 1,
        }
        prompt_id = session.post(
            f"{url}/prompt",
            json={"prompt": fill_workflow(WORKFLOW, values), "client_id": client_id},
            timeout=10,
        ).json()["prompt_id"]
        while True:
            message = ws.recv()
            if isinstance(message, str):
                data = json.loads(message)
                if data["type"] == "executing" and data["data"]["node"] is None:
                    break
    finally:
        ws.close()
    entry = session.get(f"{url}/history/{prompt_id}", timeout=10).json()[prompt_id]
    for node in entry["outputs"].values():
        for image in node["images"]:
            _require_image(session.get(f"{url}/view", params=image, timeout=10).content)


def _a1111_direct(session: requests.Session, url: str) -> None:
    answer = session.post(
        f"{url}/sdapi/v1/txt2img",
        json={"prompt": "a bench", "width": 512, "height": 512, "batch_size": 1},
        timeout=10,
    ).json()
    base64.b64decode(answer["images"][0])


def _openai_direct(session: requests.Session, url: str) -> None:
    """A plain OpenAI-compatible server: the JSON answer, then its image by URL."""
    from tests.fakes.openai_plain import KEY

    answer = session.post(
        f"{url}/v1/images/generations",
        json={"prompt": "a bench", "model": "plain-image", "n": 1, "size": "512x512"},
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=10,
    ).json()
    _require_image(session.get(answer["data"][0]["url"], timeout=10).content)


def _bfl_direct(session: requests.Session, url: str) -> None:
    from tests.fakes.bfl import KEY

    headers = {"x-key": KEY}
    task = session.post(
        f"{url}/v1/flux-pro-1.1",
        json={"prompt": "a bench", "width": 512, "height": 512},
        headers=headers,
        timeout=10,
    ).json()
    while True:
        answer = session.get(task["polling_url"], headers=headers, timeout=10).json()
        if answer["status"] == "Ready":
            break
        time.sleep(0.01)
    _require_image(session.get(answer["result"]["sample"], timeout=10).content)


def _fal_direct(session: requests.Session, url: str) -> None:
    from tests.fakes.fal import KEY

    headers = {"Authorization": f"Key {KEY}"}
    queued = session.post(
        f"{url}/fal-ai/flux/dev",
        json={"prompt": "a bench", "image_size": {"width": 512, "height": 512}},
        headers=headers,
        timeout=10,
    ).json()
    while (
        session.get(queued["status_url"], headers=headers, timeout=10).json()["status"]
        != "COMPLETED"
    ):
        time.sleep(0.01)
    result = session.get(queued["response_url"], headers=headers, timeout=10).json()
    _require_image(session.get(result["images"][0]["url"], timeout=10).content)


def _replicate_direct(session: requests.Session, url: str) -> None:
    from tests.fakes.replicate import TOKEN

    headers = {"Authorization": f"Bearer {TOKEN}"}
    prediction = session.post(
        f"{url}/v1/models/owner/model/predictions",
        json={"input": {"prompt": "a bench", "width": 512, "height": 512}},
        headers=headers,
        timeout=10,
    ).json()
    while prediction["status"] != "succeeded":
        prediction = session.get(prediction["urls"]["get"], headers=headers, timeout=10).json()
    _require_image(session.get(prediction["output"][0], timeout=10).content)


def _gemini_direct(session: requests.Session, url: str) -> None:
    from tests.fakes.gemini import KEY

    answer = session.post(
        f"{url}/v1beta/models/gemini-2.5-flash-image:generateContent",
        json={
            "contents": [{"parts": [{"text": "a bench"}]}],
            "generationConfig": {"responseModalities": ["TEXT", "IMAGE"]},
        },
        headers={"x-goog-api-key": KEY},
        timeout=10,
    ).json()
    base64.b64decode(answer["candidates"][0]["content"]["parts"][1]["inlineData"]["data"])


def _stability_direct(session: requests.Session, url: str) -> None:
    from tests.fakes.stability import KEY

    answer = session.post(
        f"{url}/v2beta/stable-image/generate/core",
        files={"prompt": (None, "a bench"), "output_format": (None, "png")},
        headers={"Authorization": f"Bearer {KEY}", "accept": "application/json"},
        timeout=10,
    ).json()
    base64.b64decode(answer["image"])
