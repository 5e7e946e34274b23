"""A fake Gemini API, from its public documentation (ai.google.dev "Image generation with
Gemini", "Imagen", the ``generateContent`` and ``predict`` references).

- ``POST /v1beta/models/<model>:generateContent`` with ``x-goog-api-key`` -> ``{"candidates":
  [{"content": {"role": "model", "parts": [{"text"}, {"inlineData": {"mimeType", "data"}}]},
  "finishReason"}], "usageMetadata", "modelVersion"}``; a blocked prompt ->
  ``{"promptFeedback": {"blockReason"}}``; a blocked image -> ``finishReason: "IMAGE_SAFETY"``
  and no image part.
- ``POST /v1beta/models/<imagen model>:predict`` ``{"instances": [{"prompt"}], "parameters":
  {"sampleCount", "aspectRatio"}}`` -> ``{"predictions": [{"bytesBase64Encoded", "mimeType"}]}``.
- Errors: ``{"error": {"code", "message", "status"}}`` (400 INVALID_ARGUMENT, 403
  PERMISSION_DENIED for a bad key, 429 RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

from tests.fakes import FakeServer, Recorded, Reply, b64, picture

KEY = "AIza-test-key"
RATIO_SIZES = {"1:1": (1024, 1024), "3:2": (1248, 832), "16:9": (1344, 768), "4:3": (1184, 864)}


def google_error(code: int, status: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


class FakeGemini(FakeServer):
    def __init__(self, *, key: str = KEY) -> None:
        super().__init__()
        self.key = key
        self.status_faults: list[tuple[int, dict]] = []
        self.block_prompt: str | None = None
        self.finish_reason = "STOP"
        self.not_an_image = False

    def route(self, request: Recorded) -> Reply:
        if request.headers.get("x-goog-api-key") != self.key:
            return Reply(
                400,
                google_error(
                    400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
                ),
            )
        if self.status_faults:
            status, headers = self.status_faults.pop(0)
            kind = "RESOURCE_EXHAUSTED" if status == 429 else "INTERNAL"
            return Reply(
                status,
                google_error(
                    status,
                    kind,
                    "Resource has been exhausted (e.g. check quota)."
                    if status == 429
                    else "Internal error encountered.",
                ),
                headers,
            )
        path = request.path
        if not path.startswith("/v1beta/models/") or ":" not in path:
            return Reply(404, google_error(404, "NOT_FOUND", "Not found"))
        model, _, method = path.removeprefix("/v1beta/models/").partition(":")
        if method == "generateContent":
            return self._generate(model, request.json or {})
        if method == "predict" and model.startswith("imagen"):
            return self._predict(request.json or {})
        return Reply(
            404,
            google_error(
                404,
                "NOT_FOUND",
                f"models/{model} is not found for API version v1beta, or is not supported for {method}.",
            ),
        )

    def _generate(self, model: str, body: dict) -> Reply:
        config = body.get("generationConfig") or {}
        if "IMAGE" not in (config.get("responseModalities") or []):
            return Reply(
                200,
                {
                    "candidates": [
                        {
                            "content": {
                                "role": "model",
                                "parts": [{"text": "I can only describe it."}],
                            },
                            "finishReason": "STOP",
                        }
                    ]
                },
            )
        ratio = (config.get("imageConfig") or {}).get("aspectRatio", "1:1")
        if ratio not in RATIO_SIZES and ratio not in ("2:3", "3:4", "4:5", "5:4", "9:16", "21:9"):
            return Reply(
                400, google_error(400, "INVALID_ARGUMENT", f"Unsupported aspect ratio: {ratio}")
            )
        if self.block_prompt:
            return Reply(
                200,
                {
                    "promptFeedback": {"blockReason": self.block_prompt},
                    "usageMetadata": {"promptTokenCount": 8},
                },
            )
        if self.finish_reason != "STOP":
            return Reply(
                200,
                {
                    "candidates": [
                        {
                            "content": {"role": "model", "parts": []},
                            "finishReason": self.finish_reason,
                        }
                    ]
                },
            )
        width, height = RATIO_SIZES.get(ratio, (1024, 1024))
        data = b"GIF-not-really" if self.not_an_image else picture(width, height, 3)
        return Reply(
            200,
            {
                "candidates": [
                    {
                        "content": {
                            "role": "model",
                            "parts": [
                                {"text": "Here is your image."},
                                {"inlineData": {"mimeType": "image/png", "data": b64(data)}},
                            ],
                        },
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 8,
                    "candidatesTokenCount": 1290,
                    "totalTokenCount": 1298,
                },
                "modelVersion": model,
            },
        )

    def _predict(self, body: dict) -> Reply:
        parameters = body.get("parameters") or {}
        count = parameters.get("sampleCount", 4)
        if not 1 <= count <= 4:
            return Reply(
                400, google_error(400, "INVALID_ARGUMENT", "sampleCount must be between 1 and 4.")
            )
        ratio = parameters.get("aspectRatio", "1:1")
        width, height = RATIO_SIZES.get(ratio, (1024, 1024))
        if self.block_prompt:
            return Reply(
                200,
                {
                    "predictions": [
                        {
                            "raiFilteredReason": "Your current safety filter threshold filtered out the generated image."
                        }
                    ]
                },
            )
        return Reply(
            200,
            {
                "predictions": [
                    {"bytesBase64Encoded": b64(picture(width, height, i)), "mimeType": "image/png"}
                    for i in range(count)
                ]
            },
        )
