"""The plainest OpenAI-compatible server that still meets the Images API: LocalAI, Together or
a proxy, as many are met in the wild.

- ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart) answer plain
  JSON ``{"created", "data": [{"url"}, ...]}``, whatever ``stream``, ``partial_images`` or
  ``response_format`` said (it ignores them);
- the URLs point at ``GET /files/<name>.png`` on the same server, without a key;
- there is no ``GET /v1/models`` (404), and errors are OpenAI's envelope.

Faults, by attribute: ``fault = "500" | "429" | "broken_json" | "not_an_image" | "no_data"``.
"""

from __future__ import annotations

import itertools
import threading
import time

from tests.fakes import FakeServer, Recorded, Reply, picture

KEY = "sk-plain-test"


class FakePlainOpenAI(FakeServer):
    def __init__(self, *, key: str = KEY) -> None:
        super().__init__()
        self.key = key
        self.fault: str | None = None
        self.files: dict[str, bytes] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def route(self, request: Recorded) -> Reply:
        if request.path.startswith("/files/"):
            data = self.files.get(request.path)
            if data is None:
                return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
            return Reply(200, data, {"Content-Type": "image/png"})
        if request.path not in ("/v1/images/generations", "/v1/images/edits"):
            return Reply(404, {"detail": "Not Found"})
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return Reply(
                401,
                {"error": {"message": "Invalid API key", "type": "invalid_request_error"}},
            )
        if self.fault == "500":
            return Reply(500, {"error": {"message": "The model crashed", "type": "server_error"}})
        if self.fault == "429":
            return Reply(
                429,
                {"error": {"message": "Too many requests", "type": "requests"}},
                {"Retry-After": "120"},
            )
        if self.fault == "broken_json":
            return Reply(
                200, b'{"created": 1, "data": [{"url": ', {"Content-Type": "application/json"}
            )
        if self.fault == "no_data":
            return Reply(200, {"created": int(time.time()), "data": []})
        fields = request.json if request.json is not None else request.form
        n = int(fields.get("n") or 1)
        width, height = (int(v) for v in str(fields.get("size") or "256x256").split("x"))
        data = []
        for _ in range(n):
            with self._lock:
                number = next(self._numbers)
            name = f"/files/{number}.png"
            self.files[name] = (
                b"<html>not an image</html>"
                if self.fault == "not_an_image"
                else picture(width, height, seed=number)
            )
            data.append({"url": f"{self.url}{name}"})
        return Reply(200, {"created": int(time.time()), "data": data})
