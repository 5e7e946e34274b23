"""A fake AUTOMATIC1111 / Forge web UI API, from its public API (``modules/api/api.py`` and
``modules/api/models.py``, the wiki's "API" page).

- ``POST /sdapi/v1/txt2img`` and ``/sdapi/v1/img2img`` -> ``{"images": [base64 PNG...],
  "parameters": {...}, "info": "<JSON text>"}``; FastAPI's 422 ``{"detail": [{"loc", "msg",
  "type"}]}`` for a body of the wrong types; an exception as 500 ``{"error", "detail", "body",
  "errors"}``. ``override_settings`` apply to that request only; with ``batch_size`` > 1 the
  grid comes first unless ``return_grid`` is off.
- ``GET /sdapi/v1/progress?skip_current_image=false`` -> ``{"progress", "eta_relative",
  "state": {...}, "current_image": base64 PNG or null, "textinfo"}``.
- ``POST /sdapi/v1/interrupt`` -> ``{}``; ``GET/POST /sdapi/v1/options`` (the global settings).

One job at a time, as the web UI's queue lock has it.
"""

from __future__ import annotations

import base64
import json
import threading
import time

from tests.fakes import MAX_WAIT, FakeServer, Recorded, Reply, b64, picture

_INTS = ("width", "height", "batch_size", "n_iter", "seed", "steps")


class FakeA1111(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.steps = 3
        self.step_delay = 0.0
        self.options = {"sd_model_checkpoint": "v1-5-pruned-emaonly.safetensors [6ce0161689]"}
        # Faults
        self.refuse: tuple[int, dict] | None = None
        self.status_faults: list[tuple[int, dict]] = []
        self.never_finish = False
        self.not_an_image = False
        # State
        self.progress = 0.0
        self.current_image: str | None = None
        self.interrupted = threading.Event()
        self.job_lock = threading.Lock()
        self.checkpoints_used: list[str] = []
        self.previews_ready = threading.Event()
        # job number (1, 2...) -> when its first preview was ready (perf_counter)
        self.first_preview_at: dict[int, float] = {}

    def route(self, request: Recorded) -> Reply:
        path = request.path
        if path in ("/sdapi/v1/txt2img", "/sdapi/v1/img2img") and request.method == "POST":
            if self.status_faults:
                status, headers = self.status_faults.pop(0)
                return Reply(status, {"detail": f"HTTP {status}"}, headers)
            if self.refuse is not None:
                return Reply(*self.refuse)
            return self._generate(request, img2img=path.endswith("img2img"))
        if path == "/sdapi/v1/progress":
            with self.lock:
                state = {
                    "progress": self.progress,
                    "eta_relative": 0.0,
                    "state": {
                        "skipped": False,
                        "interrupted": self.interrupted.is_set(),
                        "job": "",
                        "job_count": 1 if self.job_lock.locked() else 0,
                        "job_timestamp": "20260101000000",
                        "job_no": 0,
                        "sampling_step": int(self.progress * self.steps),
                        "sampling_steps": self.steps,
                    },
                    "current_image": None
                    if request.query.get("skip_current_image") == "true"
                    else self.current_image,
                    "textinfo": None,
                }
            return Reply(200, state)
        if path == "/sdapi/v1/interrupt" and request.method == "POST":
            self.interrupted.set()
            return Reply(200, {})
        if path == "/sdapi/v1/options":
            if request.method == "POST":
                self.options.update(request.json or {})
                return Reply(200, None)
            return Reply(200, self.options)
        return Reply(404, {"detail": "Not Found"})

    def _generate(self, request: Recorded, *, img2img: bool) -> Reply:
        body = request.json
        if not isinstance(body, dict):
            return Reply(422, _invalid(["body"], "value is not a valid dict", "type_error.dict"))
        for name in _INTS:
            if name in body and not isinstance(body[name], int):
                return Reply(
                    422,
                    _invalid(["body", name], "value is not a valid integer", "type_error.integer"),
                )
        if img2img and not body.get("init_images"):
            return Reply(
                500,
                {
                    "error": "IndexError",
                    "detail": "",
                    "body": "",
                    "errors": "list index out of range",
                },
            )
        width, height = body.get("width", 512), body.get("height", 512)
        batch = body.get("batch_size", 1) * body.get("n_iter", 1)
        override = body.get("override_settings") or {}
        seed = body.get("seed", -1)
        seed = seed if seed >= 0 else 1234
        deadline = time.monotonic() + MAX_WAIT
        with self.job_lock:
            self.interrupted.clear()
            checkpoint = override.get("sd_model_checkpoint", self.options["sd_model_checkpoint"])
            self.checkpoints_used.append(checkpoint)
            step = 0
            while (step < self.steps or self.never_finish) and not self.interrupted.is_set():
                if self.stopping or time.monotonic() > deadline:
                    break
                time.sleep(self.step_delay if not self.never_finish else 0.05)
                step += 1
                if self.never_finish:
                    continue
                preview = b64(picture(max(8, width // 4), max(8, height // 4), seed + step))
                with self.lock:
                    self.progress = step / self.steps
                    self.current_image = preview
                    self.first_preview_at.setdefault(
                        len(self.checkpoints_used), time.perf_counter()
                    )
                self.previews_ready.set()
            with self.lock:
                self.progress, self.current_image = 0.0, None
        images = [
            base64.b64encode(b"<html>oops</html>").decode()
            if self.not_an_image
            else b64(picture(width, height, seed + index))
            for index in range(batch)
        ]
        if batch > 1 and override.get("return_grid", True):
            images.insert(0, b64(picture(width * 2, height, 0)))
        info = {"prompt": body.get("prompt"), "seed": seed, "sd_model_name": checkpoint}
        return Reply(200, {"images": images, "parameters": body, "info": json.dumps(info)})


def _invalid(loc: list[str], msg: str, kind: str) -> dict:
    return {"detail": [{"loc": loc, "msg": msg, "type": kind}]}
