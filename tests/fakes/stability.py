"""A fake Stability AI v2beta Stable Image API, from its public reference
(platform.stability.ai/docs/api-reference: "Stable Image Core", "Ultra", "SD3", "Inpaint").

- ``POST /v2beta/stable-image/generate/{core,ultra,sd3}`` and ``/v2beta/stable-image/edit/
  inpaint``, multipart/form-data (``prompt``, ``aspect_ratio``, ``output_format``, ``seed``,
  ``image``, ``mask``, ``strength``, ``mode``, ``model``), ``Authorization: Bearer``.
  ``accept: application/json`` -> ``{"image": base64, "finish_reason": "SUCCESS" |
  "CONTENT_FILTERED", "seed"}``; ``accept: image/*`` -> the bytes, with ``finish-reason`` and
  ``seed`` headers.
- Errors: ``{"id", "name", "errors": [...]}``: 400 bad_request, 401 unauthorized, 403
  content_moderation, 429 rate_limit_exceeded (150 requests in 10 s), 500.
"""

from __future__ import annotations

import uuid

from tests.fakes import FakeServer, Recorded, Reply, b64, picture

KEY = "sk-stability-test"
RATIOS = {
    "21:9": (1536, 640),
    "16:9": (1344, 768),
    "3:2": (1216, 832),
    "5:4": (1152, 896),
    "1:1": (1024, 1024),
    "4:5": (896, 1152),
    "2:3": (832, 1216),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}
PATHS = (
    "/v2beta/stable-image/generate/core",
    "/v2beta/stable-image/generate/ultra",
    "/v2beta/stable-image/generate/sd3",
    "/v2beta/stable-image/edit/inpaint",
)


def stability_error(status: int, name: str, *errors: str) -> Reply:
    return Reply(status, {"id": uuid.uuid4().hex, "name": name, "errors": list(errors)})


class FakeStability(FakeServer):
    def __init__(self, *, key: str = KEY) -> None:
        super().__init__()
        self.key = key
        self.status_faults: list[tuple[int, dict]] = []
        self.moderate = False
        self.filtered = False
        self.not_an_image = False

    def route(self, request: Recorded) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return stability_error(
                401, "unauthorized", "authorization: invalid or missing header value"
            )
        if request.path not in PATHS or request.method != "POST":
            return Reply(404, {"id": "x", "name": "not_found", "errors": ["Not Found"]})
        if self.status_faults:
            status, headers = self.status_faults.pop(0)
            reply = (
                stability_error(
                    429,
                    "rate_limit_exceeded",
                    "You have exceeded the rate limit of 150 requests within a 10 second period, and have been timed out for 60 seconds.",
                )
                if status == 429
                else stability_error(
                    status,
                    "internal_error",
                    "An unexpected server error has occurred, please try again later.",
                )
            )
            reply.headers.update(headers)
            return reply
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return stability_error(400, "bad_request", "content-type: must be multipart/form-data")
        form = request.form
        if not form.get("prompt"):
            return stability_error(400, "bad_request", "prompt: cannot be empty")
        ratio = form.get("aspect_ratio", "1:1")
        if ratio not in RATIOS:
            return stability_error(
                400, "bad_request", f"aspect_ratio: must be one of {', '.join(RATIOS)}"
            )
        if request.path.endswith("inpaint") and "image" not in request.files:
            return stability_error(400, "bad_request", "image: required")
        if self.moderate:
            return stability_error(
                403,
                "content_moderation",
                "Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.",
            )
        width, height = RATIOS[ratio]
        data = b"\x00\x01 not an image" if self.not_an_image else picture(width, height, 5)
        seed = int(form.get("seed", "0"))
        reason = "CONTENT_FILTERED" if self.filtered else "SUCCESS"
        if request.headers.get("accept", "").startswith("image/"):
            return Reply(
                200, data, {"Content-Type": "image/png", "finish-reason": reason, "seed": str(seed)}
            )
        return Reply(200, {"image": b64(data), "finish_reason": reason, "seed": seed})
