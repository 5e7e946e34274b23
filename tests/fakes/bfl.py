"""A fake Black Forest Labs API, from its public documentation (docs.bfl.ai: "Quick start",
"Errors", the API reference of ``/v1/flux-pro-1.1``, ``/v1/flux-kontext-pro`` and
``/v1/get_result``).

- ``POST /v1/<endpoint>`` with ``x-key`` -> ``{"id", "polling_url"}``; 403 ``{"detail": "Not
  authenticated"}`` without a good key; 422 FastAPI ``{"detail": [{"loc", "msg", "type"}]}``
  for a width or height that is not a multiple of 32 or outside 256..1440; 402 for no credits;
  429 for too many active tasks.
- ``GET <polling_url>`` (``/v1/get_result?id=``) -> ``{"id", "status", "result", "progress",
  "details"}``: ``Pending`` a few times, then ``Ready`` with ``result.sample``, a signed URL on
  a delivery host of its own (another origin: the key must not go there).
- Statuses of the "Errors" page: ``Request Moderated``, ``Content Moderated``, ``Error``,
  ``Task not found``.
"""

from __future__ import annotations

import threading
import uuid

from tests.fakes import FakeServer, Recorded, Reply, picture

KEY = "bfl-test-key"


class FakeDelivery(FakeServer):
    """BFL's delivery host: the samples, by signed URL, without any key."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: dict[str, bytes] = {}

    def route(self, request: Recorded) -> Reply:
        data = self.samples.get(request.path)
        if data is None or "sig" not in request.query:
            return Reply(403, b"<Error><Code>AccessDenied</Code></Error>", {})
        return Reply(200, data, {"Content-Type": "image/png"})


class FakeBFL(FakeServer):
    def __init__(self, delivery: FakeDelivery, *, key: str = KEY) -> None:
        super().__init__()
        self.delivery = delivery
        self.key = key
        self.pending_polls = 2
        # Where polling URLs point: this server unless a test says otherwise.
        self.polling_base: str | None = None
        # Faults
        self.refuse: tuple[int, dict] | None = None
        self.status_faults: list[tuple[int, dict]] = []
        self.poll_faults: list[tuple[int, dict]] = []  # answered to polls first
        self.final_status = "Ready"
        self.final_details: dict | None = None
        self.not_an_image = False
        # State
        self.tasks: dict[str, dict] = {}
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()

    def route(self, request: Recorded) -> Reply:
        if request.headers.get("x-key") != self.key:
            return Reply(403, {"detail": "Not authenticated"})
        if request.path == "/v1/get_result" and request.method == "GET":
            if self.poll_faults:
                status, headers = self.poll_faults.pop(0)
                return Reply(status, {"detail": "Too many requests."}, headers)
            return self._result(request.query.get("id", ""))
        if request.path.startswith("/v1/") and request.method == "POST":
            if self.status_faults:
                status, headers = self.status_faults.pop(0)
                detail = (
                    "You have exceeded the number of active tasks."
                    if status == 429
                    else "Internal Server Error"
                )
                return Reply(status, {"detail": detail}, headers)
            if self.refuse is not None:
                return Reply(*self.refuse)
            return self._submit(request)
        return Reply(404, {"detail": "Not Found"})

    def _submit(self, request: Recorded) -> Reply:
        body = request.json or {}
        if not isinstance(body.get("prompt"), str):
            return Reply(422, _invalid("prompt", "Field required", "missing"))
        for name in ("width", "height"):
            value = body.get(name, 1024)
            if not isinstance(value, int) or value % 32 or not 256 <= value <= 1440:
                return Reply(
                    422,
                    _invalid(name, "Input should be a multiple of 32 in 256..1440", "value_error"),
                )
        task_id = str(uuid.uuid4())
        with self._lock:
            self.tasks[task_id] = body
            self._polls[task_id] = 0
        base = self.polling_base or self.url
        return Reply(200, {"id": task_id, "polling_url": f"{base}/v1/get_result?id={task_id}"})

    def _result(self, task_id: str) -> Reply:
        with self._lock:
            body = self.tasks.get(task_id)
            if body is None:
                return Reply(200, {"id": task_id, "status": "Task not found", "result": None})
            self._polls[task_id] += 1
            polls = self._polls[task_id]
        if self.final_status is None or polls <= self.pending_polls:
            progress = min(0.9, polls / (self.pending_polls + 1))
            return Reply(
                200, {"id": task_id, "status": "Pending", "result": None, "progress": progress}
            )
        if self.final_status != "Ready":
            return Reply(
                200,
                {
                    "id": task_id,
                    "status": self.final_status,
                    "result": None,
                    "details": self.final_details,
                },
            )
        path = f"/samples/{task_id}/sample.png"
        width, height = body.get("width", 1024), body.get("height", 768)
        self.delivery.samples[path] = (
            b"<html>expired</html>" if self.not_an_image else picture(width, height, 7)
        )
        return Reply(
            200,
            {
                "id": task_id,
                "status": "Ready",
                "result": {
                    "sample": f"{self.delivery.url}{path}?sig=abc123&se=2026-01-01",
                    "prompt": body["prompt"],
                    "seed": body.get("seed", 42),
                    "start_time": 1767225600.0,
                    "end_time": 1767225604.2,
                    "duration": 4.2,
                },
                "progress": None,
                "details": None,
            },
        )


def _invalid(name: str, msg: str, kind: str) -> dict:
    return {"detail": [{"loc": ["body", name], "msg": msg, "type": kind}]}
