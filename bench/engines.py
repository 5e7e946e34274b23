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
import statistics
import time
import uuid

import requests

from bench.timing import Report, compare, format_seconds
from novisurf.protocol import GenerationRequest

TITLE = "Engine adapters: one 512x512 image through the adapter vs the fake engine called directly"
SIZE = (512, 512)


def _request(model: str, **fields) -> GenerationRequest:
    values = {"prompt": "a bench", "model": model, "n": 1, "size": "512x512"}
    return GenerationRequest(response_format="b64_json", **{**values, **fields})


def _config(kind: str, url: str, **fields):
    from api.renderers.base import ProviderConfig

    return ProviderConfig(name=f"bench-{kind}", kind=kind, base_url=url, **fields)


def run(report: Report) -> None:
    from tests.fakes import FakeCDN
    from tests.fakes import bfl as fake_bfl
    from tests.fakes import fal as fake_fal
    from tests.fakes import gemini as fake_gemini
    from tests.fakes import replicate as fake_replicate
    from tests.fakes import stability as fake_stability
    from tests.fakes.a1111 import FakeA1111
    from tests.fakes.comfyui import WORKFLOW, FakeComfyUI

    session = requests.Session()
    with contextlib.ExitStack() as stack:
        enter = stack.enter_context

        comfy = enter(FakeComfyUI())
        comfy.steps = 0
        _row(
            report,
            "comfyui",
            _config("comfyui", comfy.url, workflow=WORKFLOW),
            "sdxl",
            lambda: _comfy_direct(session, comfy.url),
        )

        webui = enter(FakeA1111())
        webui.steps = 0
        _row(
            report,
            "a1111",
            _config("a1111", webui.url),
            "sd",
            lambda: _a1111_direct(session, webui.url),
        )

        delivery = enter(fake_bfl.FakeDelivery())
        bfl = enter(fake_bfl.FakeBFL(delivery))
        bfl.pending_polls = 0
        _row(
            report,
            "bfl",
            _config("bfl", bfl.url, api_key=fake_bfl.KEY),
            "flux-pro-1.1",
            lambda: _bfl_direct(session, bfl.url),
        )

        cdn = enter(FakeCDN())
        fal = enter(fake_fal.FakeFal(cdn))
        fal.pending_polls = 0
        _row(
            report,
            "fal",
            _config("fal", fal.url, api_key=fake_fal.KEY),
            "fal-ai/flux/dev",
            lambda: _fal_direct(session, fal.url),
        )

        replicate = enter(fake_replicate.FakeReplicate(cdn))
        replicate.pending_polls = 0
        _row(
            report,
            "replicate",
            _config(
                "replicate",
                replicate.url,
                api_key=fake_replicate.TOKEN,
                options={"size_param": "width_height"},
            ),
            "owner/model",
            lambda: _replicate_direct(session, replicate.url),
        )

        gemini = enter(fake_gemini.FakeGemini())
        _row(
            report,
            "gemini",
            _config("gemini", gemini.url, api_key=fake_gemini.KEY),
            "gemini-2.5-flash-image",
            lambda: _gemini_direct(session, gemini.url),
        )

        stability = enter(fake_stability.FakeStability())
        _row(
            report,
            "stability",
            _config("stability", stability.url, api_key=fake_stability.KEY),
            "core",
            lambda: _stability_direct(session, stability.url),
        )

        _first_partial(report, comfy)


def _row(report: Report, kind: str, config, model: str, direct) -> None:
    import importlib

    from api.renderers.base import KINDS

    importlib.import_module(f"api.renderers.{kind}")  # a kind's module registers it
    renderer = KINDS[kind](config)
    request = _request(model)

    def through() -> None:
        if not renderer.render(request).images:
            raise RuntimeError(f"{kind}: no image")

    adapted, called = compare(through, direct, repeats=9, warmup=1)
    report.row(f"{kind}: adapter render", adapted, "fake engine called directly", called)


def _first_partial(report: Report, comfy) -> None:
    """Time from the request to the first partial image out of the ComfyUI adapter's stream,
    against the time from the request to the fake sending its first preview frame."""
    from api.renderers.comfyui import ComfyUIRenderer
    from tests.fakes.comfyui import WORKFLOW

    comfy.steps = 3
    comfy.step_delay = 0.05
    renderer = ComfyUIRenderer(_config("comfyui", comfy.url, workflow=WORKFLOW))
    ours, theirs = [], []
    for _ in range(7):
        start = time.perf_counter()
        before = set(comfy.first_preview_sent)
        events = renderer.stream(_request("sdxl", stream=True, partial_images=2))
        first = None
        for event in events:
            if first is None and event.event.endswith("partial_image"):
                first = time.perf_counter() - start
        (prompt_id,) = set(comfy.first_preview_sent) - before
        if first is None:
            raise RuntimeError("comfyui: the stream had no partial image")
        ours.append(first)
        theirs.append(comfy.first_preview_sent[prompt_id] - start)
    report.row(
        "comfyui: first partial_image (stream)",
        statistics.median(ours),
        "fake's first preview sent",
        statistics.median(theirs),
    )
    report.note(
        f"the fake waits {format_seconds(comfy.step_delay)} a step; the difference is the "
        "websocket, the queueing and the event"
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
