"""POST /v1/images/generations through Django's test client against the renderer alone."""

from __future__ import annotations

import json

from django.test import Client

from api.renderers import procedural
from api.services import apikey_create
from bench.fixtures import BODY, SIZE, bench_user, generation_request
from bench.timing import Report, compare

TITLE = f"Endpoint: POST /v1/images/generations, n=1, {SIZE}"
PATH = "/v1/images/generations"


def run(report: Report) -> None:
    _, raw_key = apikey_create(owner=bench_user(), name="bench")
    client = Client()
    headers = {"Authorization": f"Bearer {raw_key}"}
    request = generation_request()

    for response_format in ("b64_json", "url"):
        body = json.dumps({**BODY, "response_format": response_format})

        def post(body: str = body, response_format: str = response_format) -> None:
            response = client.post(
                PATH, data=body, content_type="application/json", headers=headers
            )
            if response.status_code != 200:
                raise RuntimeError(
                    f"{PATH} answered {response.status_code}: {response.content[:300]!r}"
                )
            if response_format not in response.json()["data"][0]:
                raise RuntimeError(f"{PATH} answered without {response_format}")

        posted, rendered = compare(post, lambda: procedural.render(request))
        report.row(f"POST, response_format={response_format}", posted, "renderer alone", rendered)
