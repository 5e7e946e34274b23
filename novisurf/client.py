"""The client for any OpenAI-compatible image endpoint: the only code that sends it HTTP.

It takes its settings as arguments (no Django), always passes a timeout, retries what is worth
retrying, downloads ``url`` results at once, decodes ``b64_json`` strictly, and turns every
failure into one of the exceptions below, carrying a message a person can read (the endpoint's
own where it sent one).

A broken *item* does not fail the whole call: :class:`ResultItem` carries either the bytes or the
reason that one item could not be had, so that of n=4 with one bad, three are still kept.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import ipaddress
import json
import random
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import requests.certs
import urllib3

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
AUTH_HEADERS = ("bearer", "x-api-key")
# How each engine's own API takes its key: header name and the text before the key. The first two
# are what an OpenAI-compatible endpoint takes (and what an operator may choose); the others are
# engines' (BFL's x-key, fal's "Key ...", Google's x-goog-api-key).
ENGINE_AUTH_HEADERS = {
    "bearer": ("Authorization", "Bearer "),
    "x-api-key": ("X-API-Key", ""),
    "x-key": ("x-key", ""),
    "key": ("Authorization", "Key "),
    "x-goog-api-key": ("x-goog-api-key", ""),
    "basic": ("Authorization", "Basic "),  # the key already base64("user:password") (A1111)
    "api-key": ("api-key", ""),  # Azure OpenAI
}
# The default of ClientConfig.private_hosts: set once by the application that uses this client
# (from its settings). Empty: ``url`` results from other origins must be public addresses.
PRIVATE_DOWNLOAD_HOSTS: tuple[str, ...] = ()
USER_AGENT = "novisurf-client/1.0"
MAX_REDIRECTS = 5
# Most images one answer may carry, whatever ``n`` was: an answer listing more is cut here.
MAX_ITEMS = 10
# The longest provider message passed on (errors are shown and stored).
MAX_MESSAGE_CHARS = 1000
# An error answer is read this far (its message is shown, not kept whole).
MAX_ERROR_BODY_BYTES = 64 * 1024
# Bytes asked of the socket per read: small, so that a compressed answer unpacks in small
# steps that the size cap checks (deflate unpacks at most about 1,000 times larger).
READ_CHUNK = 16 * 1024


class ClientError(Exception):
    """Base of every failure this client reports. ``str(error)`` is meant for a person."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.param = param
        # Seconds the endpoint asked us to wait (Retry-After on a 429 or 503), if it said.
        self.retry_after = retry_after


class EndpointError(ClientError):
    """The endpoint answered with an error it means (a 4xx): bad input, a refused prompt, a bad key."""


class RateLimited(EndpointError):
    """The endpoint kept answering 429 after our retries. ``retry_after`` is in seconds."""


class EndpointUnavailable(ClientError):
    """The endpoint could not be reached, or kept failing (5xx), or answered something unreadable."""


class EndpointTimeout(EndpointUnavailable):
    """The endpoint did not answer within the timeouts."""


class Cancelled(ClientError):
    """The caller's ``stop`` said to stop: no further request or download was sent."""


@dataclass
class ResultItem:
    """One image of a result: its bytes, or why they could not be had."""

    index: int
    data: bytes | None = None
    error: str | None = None
    revised_prompt: str | None = None
    source: str = ""  # "b64_json" or "url"
    url: str | None = None


@dataclass
class GenerationResult:
    created: int | None
    items: list[ResultItem] = field(default_factory=list)
    # The answer's other top-level fields (usage, background, output_format, quality, size...),
    # exactly as the endpoint sent them.
    fields: dict[str, Any] = field(default_factory=dict)
    # What a Novisurf endpoint says of its answer: x-novisurf-provider and x-novisurf-cost
    # (USD as a decimal string); empty from an endpoint that does not say.
    provider: str = ""
    cost: str = ""


@dataclass(frozen=True)
class ServerSentEvent:
    """One event of a ``text/event-stream`` answer: its ``event`` name and its ``data`` text."""

    event: str | None
    data: str

    def json(self) -> Any:
        """The data as JSON; :class:`EndpointUnavailable` if it is not."""
        try:
            return json.loads(self.data)
        except ValueError:
            raise EndpointUnavailable(
                f"The image endpoint streamed an event that is not JSON: {self.data[:200]}",
                code="invalid_json",
            ) from None


# One multipart file part: (field name, (file name, bytes, content type)).
FilePart = tuple[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str = ""
    auth_header: str = "bearer"
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    # A Retry-After longer than this is not waited for: the call fails with RateLimited instead.
    max_retry_after: float = 30.0
    max_download_bytes: int = 50 * 1024 * 1024
    download_timeout: float = 30.0
    # Wall clock for one whole answer (headers and body), however slowly it trickles; the read
    # timeout restarts at every byte, this does not. None: the read timeout.
    answer_timeout: float | None = None
    # Wall clock for a whole streamed answer; between two events at most ``read_timeout``
    # (keep-alive comments do not count as events). None: four times the answer timeout.
    stream_timeout: float | None = None
    # Largest answer, counted before and after decompression; None: what ``n`` images of
    # ``max_download_bytes`` in base64 take (every image of an answer, downloads included).
    max_answer_bytes: int | None = None
    # Hosts other than the endpoint's own whose non-public addresses ``url`` results may come
    # from (a CDN on the local network). None: :data:`PRIVATE_DOWNLOAD_HOSTS`.
    private_hosts: tuple[str, ...] | None = None
    # Query parameters sent with every call (Azure OpenAI's ``api-version``).
    query: tuple[tuple[str, str], ...] = ()


class ImageClient:
    """``ImageClient(ClientConfig(base_url="http://127.0.0.1:8000/v1", api_key=...)).generate(...)``."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        if config.auth_header not in ENGINE_AUTH_HEADERS:
            raise ValueError(
                f"auth_header must be one of {AUTH_HEADERS}, not {config.auth_header!r}"
            )
        if urlsplit(config.base_url).scheme not in ("http", "https"):
            raise ValueError(f"base_url must be an http or https URL, not {config.base_url!r}")
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._sleep = sleep
        # The headers of the last answer under 400 (x-request-id, x-novisurf-provider...).
        self.last_headers: Mapping[str, str] = {}
        # Asked before every retry and every url download: a caller whose work was cancelled
        # stops asking the endpoint (and paying for what it would make) at the next step.
        self._stop = stop or (lambda: False)

    def _check_stop(self) -> None:
        if self._stop():
            raise Cancelled("Cancelled: nothing more was asked of the image endpoint.")

    # -- public calls ---------------------------------------------------------------------

    def generate(
        self,
        *,
        prompt: str,
        model: str | None = None,
        n: int | None = None,
        size: str | None = None,
        response_format: str | None = None,
        **options: Any,
    ) -> GenerationResult:
        """``POST {base}/images/generations``; every item downloaded or decoded."""
        body: dict[str, Any] = {"prompt": prompt}
        for name, value in (
            ("model", model),
            ("n", n),
            ("size", size),
            ("response_format", response_format),
            *options.items(),
        ):
            if value is not None:
                body[name] = value
        count = _wanted(n)
        response = self._send(
            "POST", "/images/generations", json_body=body, max_bytes=self._answer_cap(count)
        )
        return self._answer_of(response, count=count)

    def edit(self, *, fields: dict[str, Any], files: list[FilePart]) -> GenerationResult:
        """``POST {base}/images/edits`` as multipart: ``fields`` (prompt, model, n...) and the
        image, mask and markup ``files``; every item downloaded or decoded."""
        count = _wanted(fields.get("n"))
        response = self._send(
            "POST",
            "/images/edits",
            form=_form_items(fields),
            files=files,
            max_bytes=self._answer_cap(count),
        )
        return self._answer_of(response, count=count)

    def generate_stream(self, **body: Any) -> Iterator[ServerSentEvent]:
        """``POST {base}/images/generations`` with ``stream: true``: its events as they arrive.

        The request is sent (and retried) now, so that a refusal raises here; the events are
        read as the caller iterates. An endpoint that answers plain JSON instead is turned
        into one ``image_generation.completed`` event per image.
        """
        body = {name: value for name, value in body.items() if value is not None}
        response = self._send(
            "POST", "/images/generations", json_body={**body, "stream": True}, streamed=True
        )
        return self._events(response, "image_generation")

    def edit_stream(
        self, *, fields: dict[str, Any], files: list[FilePart]
    ) -> Iterator[ServerSentEvent]:
        """``POST {base}/images/edits`` with ``stream: true``; as :meth:`generate_stream`."""
        response = self._send(
            "POST",
            "/images/edits",
            form=_form_items({**fields, "stream": True}),
            files=files,
            streamed=True,
        )
        return self._events(response, "image_edit")

    def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: list[tuple[str, str]] | None = None,
        files: list[FilePart] | None = None,
    ) -> Any:
        """Any JSON call of an engine's own API (``path`` after the base URL, query included):
        its decoded answer, with the same timeouts, retries and errors as every other call."""
        return self._request_json(
            method, path, json_body=json_body, form=form, files=files, max_bytes=self._answer_cap(1)
        )

    def call_budget_seconds(self, *, downloads: int = 0) -> float:
        """The longest one call can take with every retry, wait and download (its worst case):
        past it, whoever waits on this client may stop waiting."""
        config = self.config
        attempts = config.max_retries + 1
        waits = config.max_retries * max(config.max_backoff, config.max_retry_after)
        stream = config.stream_timeout or 4 * self._answer_timeout()
        answer = config.connect_timeout + max(self._answer_timeout(), stream)
        return attempts * answer + waits + downloads * (config.download_timeout + 1)

    def list_models(self) -> list[dict[str, Any]]:
        """``GET {base}/models``: the ``data`` list of the OpenAI shape."""
        payload = self._request_json("GET", "/models", max_bytes=self._answer_cap(1))
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise EndpointUnavailable("The endpoint's model list has no 'data' array.")
        return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    # -- HTTP ----------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if not self.config.api_key:
            return {}
        header, prefix = ENGINE_AUTH_HEADERS[self.config.auth_header]
        return {header: prefix + self.config.api_key}

    def _request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: list[tuple[str, str]] | None = None,
        files: list[FilePart] | None = None,
        max_bytes: int,
    ) -> Any:
        response = self._send(
            method, path, json_body=json_body, form=form, files=files, max_bytes=max_bytes
        )
        return self._json_of(response)

    def _answer_of(
        self, response: requests.Response, *, count: int = MAX_ITEMS
    ) -> GenerationResult:
        result = self._parse_generation(self._json_of(response), count=count)
        result.provider = response.headers.get("x-novisurf-provider", "")[:100]
        result.cost = response.headers.get("x-novisurf-cost", "")[:40]
        return result

    def _json_of(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except RecursionError:
            raise EndpointUnavailable(
                "The image endpoint answered JSON nested too deeply to read.",
                status=response.status_code,
                code="invalid_json",
            ) from None
        except ValueError:
            raise EndpointUnavailable(
                f"The image endpoint answered HTTP {response.status_code} with "
                f"something that is not JSON: {_snippet(response)}",
                status=response.status_code,
                code="invalid_json",
            ) from None

    def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: list[tuple[str, str]] | None = None,
        files: list[FilePart] | None = None,
        streamed: bool = False,
        max_bytes: int | None = None,
    ) -> requests.Response:
        """Send with retries; the first answer under 400, or the error it amounts to.

        A streamed answer (``stream`` in the body) is returned unread, for the caller to read.
        Any other is read here whole, within the answer's wall-clock deadline and size cap.
        """
        url = self.base_url + path
        accept = "text/event-stream" if streamed else "application/json"
        attempt = 0
        while True:
            attempt += 1
            deadline = time.monotonic() + self._answer_timeout()
            try:
                response = self.session.request(
                    method,
                    url,
                    params=self.config.query or None,
                    json=json_body if form is None and files is None else None,
                    data=form,
                    files=files,
                    stream=True,  # the body is read below, against the deadline and the cap
                    headers={"Accept": accept, **self._auth_headers()},
                    timeout=(self.config.connect_timeout, self.config.read_timeout),
                )
                if response.status_code >= 400:
                    _load_body(response, deadline=deadline, cap=MAX_ERROR_BODY_BYTES, truncate=True)
                elif not streamed:
                    _load_body(response, deadline=deadline, cap=max_bytes or self._answer_cap(1))
            except _AnswerTooLarge as exc:
                raise EndpointUnavailable(
                    f"The image endpoint's answer is larger than {_bytes_text(exc.cap)}.",
                    code="too_large",
                ) from None
            except (requests.ReadTimeout, _DeadlinePassed, TimeoutError) as exc:
                # Not retried: the endpoint took the request and may still be making (and
                # charging for) those images; asking again would pay for them twice.
                raise EndpointTimeout(
                    f"The image endpoint did not answer within {self._answer_timeout():g} s.",
                    code="timeout",
                ) from exc
            except requests.Timeout as exc:
                error: ClientError = EndpointTimeout(
                    f"Could not connect to the image endpoint within "
                    f"{self.config.connect_timeout:g} s.",
                    code="timeout",
                )
                error.__cause__ = exc
                wait = None
            except requests.RequestException as exc:
                error = EndpointUnavailable(
                    f"Could not reach the image endpoint at {self.base_url}: {_short(exc)}",
                    code="connection_error",
                )
                error.__cause__ = exc
                wait = None
            else:
                if response.status_code < 400:
                    self.last_headers = response.headers
                    return response
                error = self._status_error(response)
                response.close()
                if response.status_code not in RETRY_STATUSES:
                    raise error
                wait = _retry_after_seconds(response.headers)
                if wait is not None and wait > self.config.max_retry_after:
                    raise error  # not worth holding a worker for; say so now
            if attempt > self.config.max_retries:
                raise error
            self._sleep(wait if wait is not None else self._backoff(attempt))
            self._check_stop()

    def _answer_timeout(self) -> float:
        return self.config.answer_timeout or self.config.read_timeout

    def _answer_cap(self, count: int) -> int:
        if self.config.max_answer_bytes is not None:
            return self.config.max_answer_bytes
        return count * self._max_event_bytes() + 1024 * 1024

    def _backoff(self, attempt: int) -> float:
        # Exponential backoff with full jitter, so that many clients do not retry in step.
        ceiling = min(self.config.max_backoff, self.config.backoff * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def _status_error(self, response: requests.Response) -> ClientError:
        status = response.status_code
        message, code, param = _error_fields(response)
        text = message or f"HTTP {status} {response.reason or ''}".strip()
        # A provider's message is shown to people and stored: a sentence, not two megabytes.
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[:MAX_MESSAGE_CHARS] + "…"
        if status == 429:
            return RateLimited(
                f"The image endpoint is rate limiting us: {text}",
                retry_after=_retry_after_seconds(response.headers),
                status=status,
                code=code or "rate_limit_exceeded",
                param=param,
            )
        if status == 408 or status == 504:
            return EndpointTimeout(
                f"The image endpoint timed out: {text}",
                status=status,
                code=code or "timeout",
                param=param,
            )
        if status >= 500:
            return EndpointUnavailable(
                f"The image endpoint failed: {text}",
                status=status,
                code=code,
                param=param,
                retry_after=_retry_after_seconds(response.headers),
            )
        if status in (401, 403):
            return EndpointError(
                f"The image endpoint refused our API key: {text}",
                status=status,
                code=code or "invalid_api_key",
                param=param,
            )
        return EndpointError(text, status=status, code=code, param=param)

    def _events(self, response: requests.Response, prefix: str) -> Iterator[ServerSentEvent]:
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "text/event-stream":
            try:
                payload = response.json()
            except ValueError:
                raise EndpointUnavailable(
                    f"The image endpoint was asked to stream and answered HTTP "
                    f"{response.status_code} {content_type or 'without a type'}: "
                    f"{_snippet(response)}",
                    code="invalid_response",
                ) from None
            return iter(_json_as_events(payload, prefix))
        return self._read_events(response)

    def _read_events(self, response: requests.Response) -> Iterator[ServerSentEvent]:
        started = time.monotonic()
        stream_deadline = started + (self.config.stream_timeout or 4 * self._answer_timeout())
        # Only an event moves this on: a keep-alive comment every few seconds does not.
        idle_deadline = [started + self.config.read_timeout]

        def chunks() -> Iterator[bytes]:
            while True:
                deadline = min(stream_deadline, idle_deadline[0])
                _limit_next_read(response, deadline)
                # read1: whatever has arrived, at once. (iter_content(None) waits for the end
                # of a stream that is not chunked, and an event must be passed on as it comes.)
                chunk = response.raw.read1(READ_CHUNK, decode_content=True)
                if not chunk:
                    return
                yield chunk

        try:
            for event in parse_sse(chunks(), max_event_bytes=self._max_event_bytes()):
                idle_deadline[0] = time.monotonic() + self.config.read_timeout
                yield event
        except (
            requests.Timeout,
            urllib3.exceptions.TimeoutError,
            TimeoutError,
            _DeadlinePassed,
        ):
            raise EndpointTimeout(
                f"The image endpoint's stream sent no image event for "
                f"{self.config.read_timeout:g} s, or ran past its deadline.",
                code="timeout",
            ) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise EndpointUnavailable(
                f"The image endpoint's stream broke off: {_short(exc)}", code="stream_broken"
            ) from None
        finally:
            response.close()

    def _max_event_bytes(self) -> int:
        # An event carries one base64 image: 4/3 of the image cap, and a little JSON around it.
        return self.config.max_download_bytes * 4 // 3 + 64 * 1024

    # -- results -------------------------------------------------------------------------

    def _parse_generation(self, payload: Any, *, count: int = MAX_ITEMS) -> GenerationResult:
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise EndpointUnavailable(
                "The image endpoint's answer has no 'data' list of images.", code="invalid_response"
            )
        data = payload["data"]
        if not data:
            raise EndpointUnavailable(
                "The image endpoint answered with no images at all.", code="empty_response"
            )
        created = payload.get("created")
        result = GenerationResult(
            created=created if isinstance(created, int) else None,
            fields={k: v for k, v in payload.items() if k not in ("created", "data")},
        )
        # Items beyond what was asked are not read: 10,000 ``url`` items for n=1 are one
        # download. What all items hold together is capped like the answer.
        budget = [self._answer_cap(count)]
        for index, entry in enumerate(data[:count]):
            result.items.append(self._parse_item(index, entry, budget))
        return result

    def _parse_item(self, index: int, entry: Any, budget: list[int] | None = None) -> ResultItem:
        item = ResultItem(index=index)
        if not isinstance(entry, dict):
            item.error = "The endpoint sent something that is not an image object."
            return item
        revised = entry.get("revised_prompt")
        item.revised_prompt = revised if isinstance(revised, str) and revised else None
        if isinstance(entry.get("b64_json"), str):
            item.source = "b64_json"
            try:
                item.data = decode_b64_strict(entry["b64_json"], self.config.max_download_bytes)
            except ValueError as exc:
                item.error = str(exc)
        elif isinstance(entry.get("url"), str):
            item.source = "url"
            item.url = entry["url"]
            self._check_stop()
            # Downloads run one after another, each capped by what the answer has left.
            left = self.config.max_download_bytes if budget is None else budget[0]
            try:
                item.data = self._download(
                    entry["url"], cap=max(0, min(self.config.max_download_bytes, left))
                )
            except ClientError as exc:
                item.error = exc.message
                if exc.code == "too_large" and left < self.config.max_download_bytes:
                    item.error = _OVER_BUDGET
        else:
            item.error = "The endpoint sent an image with neither 'b64_json' nor 'url'."
        if budget is not None and item.data is not None:
            budget[0] -= len(item.data)
            if budget[0] < 0:
                item.data = None
                item.error = _OVER_BUDGET
        return item

    def download(self, url: str) -> bytes:
        """Fetch a result URL now, before it expires: http(s) only, at most the byte cap."""
        return self._download(url, cap=self.config.max_download_bytes)

    def _download(self, url: str, *, cap: int) -> bytes:
        # One wall-clock deadline for the whole download, every redirect and read included.
        deadline = time.monotonic() + self.config.download_timeout
        try:
            # Redirects are followed here, one hop at a time, so that the key's origin check
            # below holds for every hop: requests itself would carry X-API-Key across them.
            for _hop in range(MAX_REDIRECTS + 1):
                parts = urlsplit(url)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise EndpointError(
                        f"Refusing to download an image from a non-http(s) URL: {url[:100]}",
                        code="invalid_url",
                    )
                # The key goes only to the endpoint's own origin: a result URL on a CDN or
                # anyone else's host must not learn it. Another origin is reached only at a
                # public address (or one the operator allowed), checked and connected to.
                remaining = max(0.01, deadline - time.monotonic())
                timeout = (
                    min(self.config.connect_timeout, remaining),
                    min(self.config.download_timeout, remaining),
                )
                if _origin(url) == _origin(self.base_url):
                    answer = self.session.get(
                        url,
                        headers=self._auth_headers(),
                        stream=True,
                        allow_redirects=False,
                        timeout=timeout,
                    )
                else:
                    answer = self._foreign_get(url, timeout=timeout)
                with answer as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status_code >= 400:
                        raise EndpointError(
                            f"Downloading the image failed with HTTP {response.status_code} "
                            f"(the link may have expired).",
                            status=response.status_code,
                            code="download_failed",
                        )
                    try:
                        return _read_capped(response, deadline=deadline, cap=cap)
                    except _AnswerTooLarge as exc:
                        raise EndpointError(_too_big(exc.size, cap), code="too_large") from None
            raise EndpointError(
                f"Downloading the image failed: more than {MAX_REDIRECTS} redirects.",
                code="download_failed",
            )
        except (requests.Timeout, _DeadlinePassed, TimeoutError, urllib3.exceptions.TimeoutError):
            raise EndpointTimeout(
                f"Downloading the image took longer than {self.config.download_timeout:g} s.",
                code="timeout",
            ) from None
        except _Unreachable:
            raise EndpointError(_UNREACHABLE, code="download_failed") from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise EndpointUnavailable(
                f"Downloading the image failed: {_short(exc)}", code="download_failed"
            ) from None

    @contextlib.contextmanager
    def _foreign_get(self, url: str, *, timeout: tuple[float, float]) -> Iterator[Any]:
        """GET ``url`` of another origin: its host name resolved once, every address checked,
        and the connection made to the checked one (a second lookup could answer otherwise).
        Whatever fails before an answer is :class:`_Unreachable`, one message for all, so that
        a refused address, a closed port and an unknown name look alike."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        allowed = self.config.private_hosts
        if allowed is None:
            allowed = PRIVATE_DOWNLOAD_HOSTS
        address = _checked_address(host, port, private_ok=host.lower() in allowed)
        pool_class = (
            urllib3.HTTPSConnectionPool if parts.scheme == "https" else urllib3.HTTPConnectionPool
        )
        options: dict[str, Any] = {}
        if parts.scheme == "https":
            # The certificates requests itself trusts (certifi), checked against the host name.
            options = {"cert_reqs": "CERT_REQUIRED", "ca_certs": requests.certs.where()}
        pool = pool_class(host, port, maxsize=1, retries=False, block=False, **options)
        base = pool.ConnectionCls

        class PinnedConnection(base):  # type: ignore[misc, valid-type]
            def _new_conn(self):  # the checked address, whatever the name resolves to now
                return urllib3.util.connection.create_connection(
                    (address, self.port), self.timeout, source_address=self.source_address
                )

        pool.ConnectionCls = PinnedConnection
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        try:
            raw = pool.urlopen(
                "GET",
                target,
                headers={"User-Agent": USER_AGENT, "Accept": "image/*"},
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=True,
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            )
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            pool.close()
            raise
        except (urllib3.exceptions.HTTPError, OSError):
            pool.close()
            raise _Unreachable() from None
        try:
            yield _ForeignResponse(raw)
        finally:
            raw.release_conn()
            pool.close()


class _ForeignResponse:
    """The little of a ``requests.Response`` that a download reads, over urllib3's."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.status_code = raw.status
        self.headers = raw.headers
        self.is_redirect = raw.status in (301, 302, 303, 307, 308) and "location" in raw.headers


class _Unreachable(Exception):
    """A download address refused, or not reached: said the same way whatever the cause."""


_UNREACHABLE = "Downloading the image failed: its address cannot be reached from here."


def _checked_address(host: str, port: int, *, private_ok: bool) -> str:
    """The one address a download connects to: the host name resolved once (every spelling of
    an address, ``2130706433``, ``0x7f.1``, ``[::1]``, ``::ffff:127.0.0.1``, resolves to what it
    means), each result checked to be public unless ``private_ok``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _Unreachable() from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        mapped = getattr(address, "ipv4_mapped", None) or getattr(address, "sixtofour", None)
        for candidate in (address, mapped):
            if candidate is not None and not candidate.is_global and not private_ok:
                raise _Unreachable()
        addresses.append(str(address))
    if not addresses:
        raise _Unreachable()
    return addresses[0]


_OVER_BUDGET = "The answer's images together pass its size limit; this one is dropped."


class _DeadlinePassed(Exception):
    """An answer's wall-clock deadline passed while it was still arriving."""


class _AnswerTooLarge(Exception):
    def __init__(self, size: int, cap: int) -> None:
        super().__init__(size, cap)
        self.size, self.cap = size, cap


def _wanted(n: Any) -> int:
    """How many items of an answer are read: ``n`` when it is a sane count, else the most."""
    if isinstance(n, bool) or not isinstance(n, int | str):
        return MAX_ITEMS
    try:
        return max(1, min(int(n), MAX_ITEMS))
    except ValueError:
        return MAX_ITEMS


def _limit_next_read(response: requests.Response, deadline: float) -> None:
    """The next socket read waits no longer than the deadline leaves (the read timeout would
    restart at every byte); past the deadline, stop."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _DeadlinePassed()
    fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if sock is not None:
        try:
            current = sock.gettimeout()
            sock.settimeout(remaining if current is None else min(current, remaining))
        except OSError:
            pass


def _read_capped(response: requests.Response, *, deadline: float, cap: int) -> bytes:
    """The body, decompressed, within ``deadline``; :class:`_AnswerTooLarge` past ``cap``
    bytes, counted as sent (Content-Length, bytes on the wire) and as unpacked."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _AnswerTooLarge(int(declared), cap)
    chunks: list[bytes] = []
    received = 0
    raw = response.raw
    while True:
        _limit_next_read(response, deadline)
        chunk = raw.read1(READ_CHUNK, decode_content=True)
        if not chunk:
            break
        received += len(chunk)
        if received > cap or getattr(raw, "_fp_bytes_read", 0) > cap:
            raise _AnswerTooLarge(received, cap)
        chunks.append(chunk)
    return b"".join(chunks)


def _load_body(
    response: requests.Response, *, deadline: float, cap: int, truncate: bool = False
) -> None:
    """Read the body now (see :func:`_read_capped`) and leave it where ``response.json()`` and
    ``response.text`` find it; ``truncate`` keeps the first ``cap`` bytes of a longer one."""
    try:
        if truncate:
            chunks, received = [], 0
            while received <= cap:
                _limit_next_read(response, deadline)
                chunk = response.raw.read1(READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
            content = b"".join(chunks)[:cap]
        else:
            content = _read_capped(response, deadline=deadline, cap=cap)
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        response.close()
        raise _DeadlinePassed() from None
    except urllib3.exceptions.HTTPError as exc:
        response.close()
        raise requests.ConnectionError(str(exc)) from None
    except BaseException:
        response.close()
        raise
    response._content = content
    response._content_consumed = True
    response.close()


def parse_sse(chunks: Iterable[bytes], *, max_event_bytes: int) -> Iterator[ServerSentEvent]:
    """Server-sent events from a byte stream, each yielded as soon as its blank line arrives.

    As the HTML standard parses them: ``event:`` and ``data:`` fields (several data lines
    joined by newlines), comments and other fields ignored, CRLF, LF or CR line ends.
    """
    # Linear in the stream's length: the buffer is appended to and trimmed in place, and each
    # byte is searched for a line end once (an image's base64 line arrives in many reads).
    buffer = bytearray()
    scan = 0  # the bytes before this offset hold no line end
    event: str | None = None
    data: list[str] = []
    size = 0
    for chunk in chunks:
        buffer += chunk
        start = 0  # the first byte not yet taken as part of a line
        while True:
            match = _LINE_END.search(buffer, scan)
            if match is None:
                scan = len(buffer)
                break
            if match.end() == len(buffer) and match.group() == b"\r":
                scan = match.start()  # a lone CR at the end may be the first half of a CRLF
                break
            line = bytes(buffer[start : match.start()])
            start = scan = match.end()
            if not line:
                if data:
                    yield ServerSentEvent(event=event, data="\n".join(data))
                event, data, size = None, [], 0
                continue
            name, _, value = line.decode("utf-8", "replace").partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                size += len(value)
                if size > max_event_bytes:
                    raise EndpointUnavailable(
                        "The image endpoint streamed an event larger than "
                        f"{_bytes_text(max_event_bytes)}.",
                        code="too_large",
                    )
                data.append(value)
        del buffer[:start]
        scan -= start
        if len(buffer) > max_event_bytes:
            raise EndpointUnavailable(
                f"The image endpoint streamed a line longer than {_bytes_text(max_event_bytes)}.",
                code="too_large",
            )
    # An event not ended by its blank line when the stream ends is dropped, as the standard
    # says: it may be cut short.


_LINE_END = re.compile(rb"\r\n|\n|\r")


def _json_as_events(payload: Any, prefix: str) -> list[ServerSentEvent]:
    """A plain JSON answer to a streamed request, as the events a stream would have carried."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise EndpointUnavailable(
            "The image endpoint's answer has no 'data' list of images.", code="invalid_response"
        )
    shared = {k: v for k, v in payload.items() if k not in ("created", "data")}
    events = []
    for item in payload["data"]:
        if isinstance(item, dict):
            event = {"type": f"{prefix}.completed", **shared, **item}
            event.setdefault("created_at", payload.get("created"))
            events.append(ServerSentEvent(event=event["type"], data=json.dumps(event)))
    return events


def _form_items(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """Form fields as the OpenAI SDK writes them: booleans as true/false, objects as
    ``name[key]``, None left out."""
    items: list[tuple[str, str]] = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, dict):
            items += _form_items({f"{name}[{key}]": inner for key, inner in value.items()})
        elif isinstance(value, bool):
            items.append((name, "true" if value else "false"))
        else:
            items.append((name, str(value)))
    return items


def decode_b64_strict(text: str, max_bytes: int) -> bytes:
    """Base64 with no stray characters; a ``data:`` URL prefix is tolerated."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    if len(text) * 3 // 4 > max_bytes:
        raise ValueError(_too_big(len(text) * 3 // 4, max_bytes))
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("The endpoint sent image data that is not valid base64.") from None
    if not data:
        raise ValueError("The endpoint sent an empty image.")
    return data


def _too_big(size: int, cap: int) -> str:
    return f"The image is larger than the {_bytes_text(cap)} limit ({size:,} bytes or more)."


def _bytes_text(count: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


# The longest wait a Retry-After may ask for: 1e400 (infinity) or a date in ten years is read
# as this, so that a caller can compare it and give up rather than overflow.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


def _retry_after_seconds(headers: Any) -> float | None:
    """``retry-after-ms`` (OpenAI's) or ``Retry-After`` in seconds or as an HTTP date; clamped
    to 0 .. :data:`MAX_RETRY_AFTER_SECONDS` (nan is 0: "soon", as a caller's floor decides)."""
    seconds = _retry_after_raw(headers)
    if seconds is None:
        return None
    if seconds != seconds:  # nan
        return 0.0
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


def _retry_after_raw(headers: Any) -> float | None:
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_fields(response: requests.Response) -> tuple[str, str | None, str | None]:
    """The endpoint's own message, code and param, from the OpenAI envelope or plain text."""
    try:
        body = response.json()
    except ValueError:
        return _snippet(response), None, None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        param = error.get("param")
        message = _with_details(str(message) if message else "", error, body)
        return (
            message,
            str(code) if code else None,
            str(param) if param else None,
        )
    if isinstance(error, str):
        # A1111 answers an exception as {"error": "RuntimeError", "errors": "what went wrong"}.
        errors = body.get("errors")
        return (f"{error}: {errors}" if isinstance(errors, str) and errors else error), None, None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"], None, None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors):
        return "; ".join(errors)[:500], None, None  # Stability's {"name", "errors": [...]}
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str) and detail:
        return detail, None, None  # FastAPI's HTTPException (A1111, BFL, fal)
    if isinstance(detail, list) and detail and all(isinstance(d, dict) for d in detail):
        # FastAPI's validation errors: [{"loc": [...], "msg": ..., "type": ...}]
        parts = [
            f"{'.'.join(str(p) for p in d.get('loc', [])[1:]) or 'body'}: {d.get('msg', '')}"
            for d in detail
        ]
        return "; ".join(parts)[:500], None, None
    return json.dumps(body)[:300], None, None


def _with_details(message: str, error: dict, body: dict) -> str:
    """ComfyUI says what is wrong in ``details`` and, per node, in ``node_errors``."""
    parts = [message] if message else []
    details = error.get("details")
    if isinstance(details, str) and details.strip():
        parts.append(details.strip())
    node_errors = body.get("node_errors")
    if isinstance(node_errors, dict):
        for node_id, node in list(node_errors.items())[:5]:
            errors = node.get("errors") if isinstance(node, dict) else None
            for item in (errors if isinstance(errors, list) else [])[:3]:
                text = item.get("message") if isinstance(item, dict) else None
                if text:
                    kind = node.get("class_type") or "?"
                    parts.append(f"node {node_id} ({kind}): {text}")
    return ": ".join(parts[:2]) + "".join(f"; {part}" for part in parts[2:])


def _snippet(response: requests.Response) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return (text[:200] + "…") if len(text) > 200 else (text or "(empty body)")


def _short(exc: Exception) -> str:
    text = str(exc)
    for needle, plain in (
        ("Connection refused", "connection refused (is it running?)"),
        ("Name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("Temporary failure in name resolution", "host name not found"),
        ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate could not be verified"),
        ("Connection reset", "the connection was reset"),
        ("RemoteDisconnected", "it closed the connection without answering"),
    ):
        if needle in text:
            return plain
    return (text[:200] + "…") if len(text) > 200 else text
