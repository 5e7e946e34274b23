"""The baseline of the endpoint's web layer: a minimal Starlette app calling the same renderer.

``uvicorn bench.minimal_app:app``. What any web layer must do for one request: read and parse
the JSON, check a key, validate, render, base64 and answer JSON. Nothing else: no database, no
middleware, no rate limit.
"""

from __future__ import annotations

import base64
import os
import time

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.renderers import procedural
from novisurf.protocol import ProtocolError, validate_generation

KEY = os.environ.get("BENCH_MINIMAL_KEY", "")


async def generations(request: Request) -> JSONResponse:
    if request.headers.get("authorization", "") != f"Bearer {KEY}":
        return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
    try:
        generation = validate_generation(await request.json())
    except ProtocolError as error:
        return JSONResponse(error.envelope(), status_code=error.status)
    result = await run_in_threadpool(procedural.render, generation)
    data = [{"b64_json": base64.b64encode(image.data).decode("ascii")} for image in result.images]
    return JSONResponse({"created": int(time.time()), "data": data})


app = Starlette(routes=[Route("/v1/images/generations", generations, methods=["POST"])])
