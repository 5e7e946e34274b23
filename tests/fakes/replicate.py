"""A fake Replicate API, from its public HTTP API reference (replicate.com/docs/reference/http:
"Create a prediction using an official model", "Create a prediction", "Get a prediction",
"Cancel a prediction").

- ``POST /v1/models/<owner>/<name>/predictions`` ``{"input"}`` or ``POST /v1/predictions``
  ``{"version", "input"}`` with ``Authorization: Bearer`` -> 201 the prediction: ``{"id",
  "model", "version", "input", "logs", "output": null, "error": null, "status": "starting",
  "created_at", "urls": {"get", "cancel", "stream"}}``.
- ``GET /v1/predictions/<id>`` -> the prediction, ``starting`` -> ``processing`` ->
  ``succeeded`` with ``output`` a list of URLs (on replicate.delivery) or ``failed`` with
  ``error``. ``POST /v1/predictions/<id>/cancel`` -> ``canceled``.
- Errors as problem details: ``{"title", "detail", "status"}`` (401 for a bad token, 422 for
  bad input, 429 "Request was throttled." with Retry-After).
"""

from __future__ import annotations

import threading
import uuid

from tests.fakes import FakeCDN, FakeServer, Recorded, Reply, picture

TOKEN = "r8_test_token"


class FakeReplicate(FakeServer):
    def __init__(self, cdn: FakeCDN, *, token: str = TOKEN) -> None:
        super().__init__()
        self.cdn = cdn
        self.token = token
        self.pending_polls = 2
        # Faults
        self.status_faults: list[tuple[int, dict]] = []
        self.refuse: tuple[int, dict] | None = None
        self.never_succeeds = False
        self.fails_with: str | None = None
        self.single_output = False
        self.not_an_image = False
        # State
        self.predictions: dict[str, dict] = {}
        self._polls: dict[str, int] = {}
        self._lock = threading.Lock()

    def route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(
                401,
                {
                    "title": "Unauthenticated",
                    "detail": "You did not pass a valid authentication token",
                    "status": 401,
                },
            )
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and (
            parts == ["v1", "predictions"]
            or (len(parts) == 5 and parts[:2] == ["v1", "models"] and parts[4] == "predictions")
        ):
            if self.status_faults:
                status, headers = self.status_faults.pop(0)
                return Reply(
                    status,
                    {
                        "title": "Request was throttled.",
                        "detail": "Request was throttled. Expected available in 1 second.",
                        "status": status,
                    }
                    if status == 429
                    else {"title": "Internal Server Error", "detail": "", "status": status},
                    headers,
                )
            if self.refuse is not None:
                return Reply(*self.refuse)
            model = "/".join(parts[2:4]) if parts[1] == "models" else None
            return self._create(request, model)
        if len(parts) >= 3 and parts[:2] == ["v1", "predictions"]:
            prediction_id = parts[2]
            if prediction_id not in self.predictions:
                return Reply(404, {"title": "Not found", "detail": "Not found.", "status": 404})
            if len(parts) == 4 and parts[3] == "cancel" and request.method == "POST":
                with self._lock:
                    self.predictions[prediction_id]["status"] = "canceled"
                return Reply(200, self.predictions[prediction_id])
            if len(parts) == 3 and request.method == "GET":
                return Reply(200, self._advance(prediction_id))
        return Reply(404, {"title": "Not found", "detail": "Not found.", "status": 404})

    def _create(self, request: Recorded, model: str | None) -> Reply:
        body = request.json or {}
        values = body.get("input")
        if not isinstance(values, dict):
            return Reply(
                422,
                {"title": "Input validation failed", "detail": "- input: Required", "status": 422},
            )
        prediction_id = uuid.uuid4().hex[:26]
        base = f"{self.url}/v1/predictions/{prediction_id}"
        prediction = {
            "id": prediction_id,
            "model": model or "owner/model",
            "version": body.get("version", "dp-" + prediction_id[:8]),
            "input": values,
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": "starting",
            "created_at": "2026-01-01T00:00:00.000Z",
            "urls": {
                "get": base,
                "cancel": f"{base}/cancel",
                "stream": f"{self.url}/stream/{prediction_id}",
            },
        }
        with self._lock:
            self.predictions[prediction_id] = prediction
            self._polls[prediction_id] = 0
        return Reply(201, prediction)

    def _advance(self, prediction_id: str) -> dict:
        with self._lock:
            prediction = self.predictions[prediction_id]
            if prediction["status"] in ("succeeded", "failed", "canceled"):
                return prediction
            self._polls[prediction_id] += 1
            if self.never_succeeds or self._polls[prediction_id] <= self.pending_polls:
                prediction["status"] = "processing"
                return prediction
            if self.fails_with:
                prediction.update(status="failed", error=self.fails_with)
                return prediction
            values = prediction["input"]
            outputs = []
            for index in range(values.get("num_outputs", 1)):
                path = f"/{prediction_id}/out-{index}.png"
                width, height = values.get("width", 1024), values.get("height", 1024)
                self.cdn.files[path] = (
                    b"nope" if self.not_an_image else picture(width, height, index)
                )
                outputs.append(f"{self.cdn.url}{path}")
            prediction.update(
                status="succeeded",
                output=outputs[0] if self.single_output else outputs,
                metrics={"predict_time": 1.5},
            )
            return prediction
