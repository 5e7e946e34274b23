"""A fake fal queue API, from its public documentation (docs.fal.ai "Queue", the model pages of
``fal-ai/flux/dev``).

- ``POST /<model id>`` with ``Authorization: Key ...`` -> ``{"request_id", "response_url",
  "status_url", "cancel_url", "queue_position"}``; 401 ``{"detail": ...}`` for a bad key.
- ``GET .../requests/<id>/status`` -> 202 ``{"status": "IN_QUEUE", "queue_position"}``, 202
  ``IN_PROGRESS``, then 200 ``COMPLETED``.
- ``GET .../requests/<id>`` -> the model's output, ``{"images": [{"url", "width", "height",
  "content_type"}], "seed", "has_nsfw_concepts", "prompt", "timings"}``; a run that failed
  answers its error here (422 ``{"detail": [...]}``).
- ``PUT .../requests/<id>/cancel`` -> 202 ``{"status": "CANCELLATION_REQUESTED"}``.

The status lives on the app (``fal-ai/flux``), not the sub-path of the model (``/dev``).
"""

from __future__ import annotations

import threading
import uuid

from tests.fakes import FakeCDN, FakeServer, Recorded, Reply, picture

__all__ = ["KEY", "FakeCDN", "FakeFal"]

KEY = "fal-key-id:fal-key-secret"


class FakeFal(FakeServer):
    def __init__(self, cdn: FakeCDN, *, key: str = KEY) -> None:
        super().__init__()
        self.cdn = cdn
        self.key = key
        self.pending_polls = 2
        # Faults
        self.status_faults: list[tuple[int, dict]] = []
        self.never_completes = False
        self.run_error: tuple[int, dict] | None = None
        self.nsfw = False
        self.not_an_image = False
        # State
        self.requests: dict[str, dict] = {}
        self.cancelled: list[str] = []
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()

    def route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Key {self.key}":
            return Reply(401, {"detail": "No user found for Key ID and Secret"})
        parts = request.path.strip("/").split("/")
        if "requests" in parts:
            at = parts.index("requests")
            request_id, rest = parts[at + 1], parts[at + 2 :]
            if request_id not in self.requests:
                return Reply(404, {"detail": "Request not found"})
            if rest == ["status"] and request.method == "GET":
                return self._status(request_id)
            if rest == ["cancel"] and request.method == "PUT":
                self.cancelled.append(request_id)
                return Reply(202, {"status": "CANCELLATION_REQUESTED"})
            if rest == [] and request.method == "GET":
                return self._response(request_id)
            return Reply(405, {"detail": "Method Not Allowed"})
        if request.method == "POST" and len(parts) >= 2:
            if self.status_faults:
                status, headers = self.status_faults.pop(0)
                return Reply(status, {"detail": f"HTTP {status}"}, headers)
            return self._submit("/".join(parts[:2]), request)
        return Reply(404, {"detail": "Not Found"})

    def _submit(self, app: str, request: Recorded) -> Reply:
        request_id = str(uuid.uuid4())
        with self._lock:
            self.requests[request_id] = {"app": app, "input": request.json or {}}
            self._polls[request_id] = 0
        base = f"{self.url}/{app}/requests/{request_id}"
        return Reply(
            200,
            {
                "request_id": request_id,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "queue_position": 0,
            },
        )

    def _status(self, request_id: str) -> Reply:
        with self._lock:
            self._polls[request_id] += 1
            polls = self._polls[request_id]
        if self.never_completes or polls <= self.pending_polls:
            state = "IN_QUEUE" if polls == 1 else "IN_PROGRESS"
            return Reply(202, {"status": state, "queue_position": 0, "logs": None})
        return Reply(200, {"status": "COMPLETED", "logs": None, "metrics": {"inference_time": 1.2}})

    def _response(self, request_id: str) -> Reply:
        if self.run_error is not None:
            return Reply(*self.run_error)
        entry = self.requests[request_id]["input"]
        size = entry.get("image_size") or {"width": 1024, "height": 768}
        images = []
        for index in range(entry.get("num_images", 1)):
            path = f"/files/{request_id}/{index}.png"
            self.cdn.files[path] = (
                b"not an image"
                if self.not_an_image
                else picture(size["width"], size["height"], index)
            )
            images.append(
                {
                    "url": f"{self.cdn.url}{path}",
                    "width": size["width"],
                    "height": size["height"],
                    "content_type": "image/png",
                }
            )
        return Reply(
            200,
            {
                "images": images,
                "timings": {"inference": 1.2},
                "seed": entry.get("seed", 7),
                "has_nsfw_concepts": [self.nsfw] * len(images),
                "prompt": entry.get("prompt"),
            },
        )
