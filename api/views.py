"""The OpenAI-compatible endpoint: thin views that parse, call a service and answer JSON.

Whatever a client sends, the answer is the OpenAI error envelope with a status it can act on,
never an HTML error page.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import math
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from novisurf.pricing import usd_text
from novisurf.protocol import (
    MAX_BODY_BYTES,
    MODELS,
    GenerationRequest,
    InputFile,
    ProtocolError,
    body_too_large,
    error_envelope,
    form_fields,
    validate_edit,
    validate_generation,
)

from . import renderers, services
from .models import IssuedImage
from .renderers import StreamEvent

logger = logging.getLogger(__name__)
# The same as gallery.delivery.SVG_POLICY (the apps share no code): no script, nothing loaded.
ISSUED_FILE_POLICY = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# Which provider served an answer (the built-in renderer is "novisurf").
PROVIDER_HEADER = "x-novisurf-provider"
# What an answer cost, USD as a decimal string; an answer that made no image cost nothing.
COST_HEADER = "x-novisurf-cost"


def error_response(error: ProtocolError) -> JsonResponse:
    response = JsonResponse(error.envelope(), status=error.status)
    if error.retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if getattr(error, "provider", None):
        response[PROVIDER_HEADER] = error.provider
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="novisurf"'
    if error.code == "insufficient_quota":
        # A spent budget is not a rate: the OpenAI SDK would retry a 429 unless told not to.
        response["x-should-retry"] = "false"
    return response


def api_view(methods: tuple[str, ...]):
    """CSRF-exempt JSON view: wrong method is a 405, any crash a JSON 500, never an HTML page."""

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                response = error_response(
                    ProtocolError(
                        f"Method {request.method} is not allowed here; use {' or '.join(methods)}.",
                        status=405,
                        code="method_not_allowed",
                    )
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return rate_limit_headers(request, view(request, *args, **kwargs))
            except ProtocolError as error:
                return rate_limit_headers(request, error_response(error))
            except OSError:
                # Storage that cannot be written (a full disk, a bucket down): a fault of ours
                # that passes, so a 503 the client retries, not a 500.
                logger.exception("Storage failed in %s", request.path)
                error = ProtocolError(
                    "The server cannot store images right now; try again shortly.",
                    status=503,
                    type="server_error",
                    code="storage_unavailable",
                )
                error.retry_after = 30
                return error_response(error)
            except Exception:
                logger.exception("Unexpected error in %s", request.path)
                return error_response(
                    ProtocolError(
                        "The server had an error while processing your request.",
                        status=500,
                        type="server_error",
                        code="internal_error",
                    )
                )

        return wrapper

    return decorator


def authenticate(request: HttpRequest):
    """The key from ``X-API-Key`` or ``Authorization: Bearer``, or a 401."""
    raw_key = request.headers.get("X-API-Key", "").strip()
    if not raw_key:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            raw_key = credentials.strip()
    if not raw_key:
        raise ProtocolError(
            "You didn't provide an API key. Send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'.",
            status=401,
            type="invalid_request_error",
            code="invalid_api_key",
        )
    api_key = services.apikey_authenticate(raw_key=raw_key)
    if api_key is None:
        shown = raw_key[:8] + "…" if len(raw_key) > 8 else "…"
        raise ProtocolError(
            f"Incorrect API key provided: {shown}",
            status=401,
            type="invalid_request_error",
            code="invalid_api_key",
        )
    return api_key


def read_multipart_body(request: HttpRequest) -> tuple[dict, dict[str, list[InputFile]]]:
    """An edit's form fields (as :func:`form_fields` reads them) and its files by field name.

    The body is capped like a JSON one, by its declared length before it is read and by what
    actually arrived after.
    """
    limit = settings.NOVISURF_MAX_EDIT_BODY_BYTES
    if request.content_type != "multipart/form-data":
        raise ProtocolError(
            "Send an edit as multipart/form-data, as the OpenAI SDK does, or as JSON "
            f"(this request is {request.content_type or 'without a Content-Type'}).",
            code="invalid_content_type",
        )
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    try:
        items = [(name, value) for name, values in request.POST.lists() for value in values]
        uploads = [(name, upload) for name, ups in request.FILES.lists() for upload in ups]
    except RequestDataTooBig:
        raise body_too_large(limit) from None
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent) as exc:
        raise ProtocolError(
            f"The multipart body could not be read: {exc}", code="invalid_multipart"
        ) from None
    if sum(upload.size or 0 for _, upload in uploads) > limit:
        raise body_too_large(limit)
    files: dict[str, list[InputFile]] = {}
    for name, upload in uploads:
        field = name[:-2] if name.endswith("[]") else name
        files.setdefault(field, []).append(
            InputFile(
                field=field,
                filename=upload.name or field,
                content_type=upload.content_type or "application/octet-stream",
                data=upload.read(),
            )
        )
    return form_fields(items), files


def read_json_body(request: HttpRequest, *, limit: int = MAX_BODY_BYTES):
    """The decoded JSON body, at most ``limit`` bytes (a 413 past it)."""
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    try:
        # request.body stops at DATA_UPLOAD_MAX_MEMORY_SIZE; an edit's images in JSON go past
        # it, under a cap of their own.
        raw = request.body if limit <= MAX_BODY_BYTES else request.read(limit + 1)
    except RequestDataTooBig:
        raise body_too_large(limit) from None
    if len(raw) > limit:
        raise body_too_large(limit)
    if not raw.strip():
        raise ProtocolError(
            "The request body is empty; send a JSON object with a 'prompt'.", code="invalid_json"
        )
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: a body of deeply nested arrays, such as 100,000 "[", is not a crash.
        raise ProtocolError(
            f"We could not parse the JSON body of your request: {exc}", code="invalid_json"
        ) from None


def read_json_edit(request: HttpRequest) -> tuple[dict, dict[str, list[InputFile]]]:
    """A JSON edit, as OpenAI defines it: ``images: [{"image_url": "data:..."}]`` and ``mask:
    {"image_url": "data:..."}`` beside the fields; read as a multipart edit's fields and files.
    Only data URLs are taken: this server fetches no URL a client names."""
    body = read_json_body(request, limit=settings.NOVISURF_MAX_EDIT_BODY_BYTES)
    if not isinstance(body, dict):
        raise ProtocolError("The request body must be a JSON object.", code="invalid_type")
    fields = {k: v for k, v in body.items() if k not in ("images", "mask")}
    images = body.get("images")
    if images is None:
        raise ProtocolError(
            "Missing required parameter: 'images'.",
            param="images",
            code="missing_required_parameter",
        )
    if not isinstance(images, list) or not images:
        raise ProtocolError(
            '\'images\' must be a list of {"image_url": "data:..."} objects.',
            param="images",
            code="invalid_type",
        )
    files = {
        "image": [
            _data_url_file(item, "image", f"images[{number}]") for number, item in enumerate(images)
        ]
    }
    if body.get("mask") is not None:
        files["mask"] = [_data_url_file(body["mask"], "mask", "mask")]
    return fields, files


def _data_url_file(item, field: str, param: str) -> InputFile:
    url = item.get("image_url") if isinstance(item, dict) else None
    if isinstance(item, dict) and "file_id" in item:
        raise ProtocolError(
            f"'{param}.file_id' is not supported here: send the image as an image_url data URL.",
            param=param,
            code="unsupported_parameter",
        )
    if not isinstance(url, str) or not url.startswith("data:"):
        raise ProtocolError(
            f"'{param}.image_url' must be a data URL (data:image/png;base64,...).",
            param=param,
            code="invalid_image_url",
        )
    header, _, payload = url[5:].partition(",")
    content_type, *params = header.split(";")
    if "base64" not in params:
        raise ProtocolError(
            f"'{param}.image_url' must be base64 encoded (data:image/png;base64,...).",
            param=param,
            code="invalid_image_url",
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(
            f"'{param}.image_url' is not valid base64.", param=param, code="invalid_image_url"
        ) from None
    extension = (content_type.split("/")[-1] or "png") if content_type else "png"
    return InputFile(
        field=field,
        filename=f"{field}.{extension}",
        content_type=content_type or "application/octet-stream",
        data=data,
    )


def _count_request(request: HttpRequest, api_key) -> None:
    # The gallery's own key is not an outside client: its work is already paced per person
    # by the fair queue, and throttling it here would fail everyone's generations at once.
    state = None if api_key.is_service else services.rate_limit_take(api_key=api_key)
    # Kept for the answer's x-ratelimit-* headers, whatever it turns out to be.
    request.novisurf_rate_limit = state
    if state is not None and state.wait is not None:
        raise ProtocolError(
            f"Rate limit reached for this API key; try again in {state.wait} s.",
            status=429,
            type="requests",
            code="rate_limit_exceeded",
            retry_after=state.wait,
        )


def rate_limit_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """OpenAI's ``x-ratelimit-*-requests`` headers, for clients that pace themselves by them."""
    state = getattr(request, "novisurf_rate_limit", None)
    if state is not None:
        response["x-ratelimit-limit-requests"] = str(state.limit)
        response["x-ratelimit-remaining-requests"] = str(state.remaining)
        response["x-ratelimit-reset-requests"] = f"{state.reset_seconds}s"
    return response


def costed(view):
    """Every answer of an image endpoint says what it cost, refusals ("0.00") included."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if COST_HEADER not in response:
            response[COST_HEADER] = usd_text(Decimal(0))
        return response

    return wrapper


@costed
@api_view(("POST",))
def images_generations(request: HttpRequest) -> HttpResponse:
    api_key = authenticate(request)
    _count_request(request, api_key)
    generation = validate_generation(
        read_json_body(request), serves=renderers.serves_for(api_key), spec_of=renderers.spec_of
    )
    return _answer(request, generation, api_key)


@costed
@api_view(("POST",))
def images_edits(request: HttpRequest) -> HttpResponse:
    api_key = authenticate(request)
    _count_request(request, api_key)
    if request.content_type == "application/json":
        fields, files = read_json_edit(request)
    else:
        fields, files = read_multipart_body(request)
    edit = validate_edit(
        fields, files, serves=renderers.serves_for(api_key), spec_of=renderers.spec_of
    )
    services.edit_images_check(request=edit)
    return _answer(request, edit, api_key)


def _answer(request: HttpRequest, generation: GenerationRequest, api_key) -> HttpResponse:
    if generation.stream:
        streamed = services.generation_stream(request=generation, api_key=api_key)
        response = event_stream_response(request, streamed.events)
        return _priced(response, provider=streamed.provider, cost=streamed.cost)
    answer = services.generation_answer(
        request=generation, api_key=api_key, absolute_url=request.build_absolute_uri
    )
    return _priced(JsonResponse(answer.body()), provider=answer.provider, cost=answer.cost)


def _priced(response: HttpResponse, *, provider: str, cost: Decimal) -> HttpResponse:
    response[PROVIDER_HEADER] = provider
    response[COST_HEADER] = usd_text(cost)
    return response


def event_stream_response(
    request: HttpRequest, events: Iterator[StreamEvent]
) -> StreamingHttpResponse:
    """``text/event-stream``, each event sent as soon as it is made.

    Under WSGI a plain generator streams. Under ASGI Django would read a plain generator to
    its end before sending anything, so there each event is pulled in a worker thread.
    """
    chunks = _guarded(events)
    content = _pulled_in_threads(chunks) if isinstance(request, ASGIRequest) else chunks
    response = StreamingHttpResponse(content, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and friends: do not hold events back
    return response


def _guarded(events: Iterator[StreamEvent]) -> Iterator[bytes]:
    """The events as bytes; a crash half-way becomes an error event, never a cut-off stream."""
    try:
        for event in events:
            yield event.encode()
    except ProtocolError as error:
        yield StreamEvent.of({"type": "error", **error.envelope()}).encode()
    except Exception:
        logger.exception("A stream of images stopped on an unexpected error")
        envelope = error_envelope(
            "The server had an error while making this image.",
            type="server_error",
            code="internal_error",
        )
        yield StreamEvent.of({"type": "error", **envelope}).encode()


async def _pulled_in_threads(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    done = object()
    pull = sync_to_async(next, thread_sensitive=False)
    try:
        while (chunk := await pull(chunks, done)) is not done:
            yield chunk
    finally:
        chunks.close()  # the client went away: let the renderer or the upstream stop


@api_view(("GET",))
def models_list(request: HttpRequest) -> JsonResponse:
    api_key = authenticate(request)
    listed = [model for model in renderers.listed() if api_key.allows(model.id)]
    return JsonResponse({"object": "list", "data": [_model_object(model) for model in listed]})


@api_view(("GET",))
def model_detail(request: HttpRequest, model: str) -> JsonResponse:
    api_key = authenticate(request)
    found = next((m for m in renderers.listed() if m.id == model and api_key.allows(m.id)), None)
    if found is None:
        raise ProtocolError(
            f"The model '{model}' does not exist", status=404, param="model", code="model_not_found"
        )
    return JsonResponse(_model_object(found))


def _model_object(model: renderers.ListedModel) -> dict:
    """An OpenAI model object, ``owned_by`` the provider that serves it, and what it can do
    (the gallery asks to stream only where ``streams`` is true: it sends partial images)."""
    spec = model.spec
    return {
        "id": model.id,
        "object": "model",
        "created": 1735689600,
        "owned_by": model.provider,
        "name": spec.title if spec.id in MODELS else model.id,
        "description": spec.description,
        "sizes": list(spec.sizes),
        "free_sizes": spec.free_sizes or spec.any_size,
        "max_n": spec.max_n,
        "response_formats": list(spec.response_formats),
        "retired": spec.retired or None,
        "streams": model.streams,
        "edits": model.edits,
        "aliases": list(model.alias_of) or None,
    }


@api_view(("GET", "HEAD"))
def issued_image(request: HttpRequest, token: str) -> FileResponse:
    """An image answered as a ``url``: no credentials, just the signed, hour-long token."""
    try:
        issued = services.issued_image_get(token=token)
        handle = issued.file.open("rb")
    except (IssuedImage.DoesNotExist, FileNotFoundError):
        raise ProtocolError(
            "This image link has expired or does not exist.", status=404, code="not_found"
        ) from None
    response = FileResponse(handle, content_type=issued.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    # Inert whatever it is (an SVG from a provider may carry script): the policy the gallery
    # gives its originals.
    response["Content-Security-Policy"] = ISSUED_FILE_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    return response


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    return JsonResponse(
        error_envelope(f"Unknown endpoint: {request.method} /v1/{path}", code="unknown_url"),
        status=404,
    )
