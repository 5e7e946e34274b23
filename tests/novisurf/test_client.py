"""novisurf.client.ImageClient against real HTTP servers on loopback (pytest-httpserver).

Waits between retries are recorded by a fake ``sleep`` instead of being slept.
"""

from __future__ import annotations

import email.utils
import socket
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from novisurf.client import (
    RETRY_STATUSES,
    Cancelled,
    ClientConfig,
    EndpointError,
    EndpointTimeout,
    EndpointUnavailable,
    ImageClient,
    RateLimited,
    decode_b64_strict,
)
from tests.utils import b64, png_bytes, settle

KEY = "dkai_client-test-key"
GENERATIONS = "/v1/images/generations"


class Sleeps(list):
    """A fake ``sleep``: records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(httpserver, sleeps):
    def make(**overrides) -> ImageClient:
        config = {"base_url": httpserver.url_for("/v1"), "api_key": KEY, **overrides}
        return ImageClient(ClientConfig(**config), sleep=sleeps)

    return make


@pytest.fixture
def client(make_client) -> ImageClient:
    return make_client()


@pytest.fixture(scope="module")
def _elsewhere_server():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def elsewhere(_elsewhere_server):
    """A second server: another origin (another host name and port) than the endpoint's."""
    _elsewhere_server.clear()
    yield _elsewhere_server
    _elsewhere_server.clear()


def calls(server, path: str = GENERATIONS) -> list:
    return [request for request, _ in server.log if request.path == path]


def ok_answer(*images: bytes) -> dict:
    return {"created": 1700000000, "data": [{"b64_json": b64(image)} for image in images]}


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a plain success ------------------------------------------------------------------------------


def test_generate_sends_the_request_and_decodes_the_answer(httpserver, client):
    image = png_bytes()
    httpserver.expect_request(GENERATIONS, method="POST").respond_with_json(
        {"created": 1700000000, "data": [{"b64_json": b64(image), "revised_prompt": "better"}]}
    )
    result = client.generate(prompt="a red fox", n=1, size="256x256", quality="high")
    assert result.created == 1700000000
    (item,) = result.items
    assert (item.index, item.data, item.error) == (0, image, None)
    assert item.revised_prompt == "better"
    assert item.source == "b64_json"

    (request,) = calls(httpserver)
    # None fields are left out; extra options go along.
    assert request.get_json() == {
        "prompt": "a red fox",
        "n": 1,
        "size": "256x256",
        "quality": "high",
    }
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["User-Agent"].startswith("novisurf-client/")


def test_x_api_key_header(httpserver, make_client):
    httpserver.expect_request(GENERATIONS).respond_with_json(ok_answer(png_bytes()))
    make_client(auth_header="x-api-key").generate(prompt="x")
    (request,) = calls(httpserver)
    assert request.headers["X-API-Key"] == KEY
    assert "Authorization" not in request.headers


def test_no_key_sends_no_auth_header(httpserver, make_client):
    httpserver.expect_request(GENERATIONS).respond_with_json(ok_answer(png_bytes()))
    make_client(api_key="").generate(prompt="x")
    (request,) = calls(httpserver)
    assert "Authorization" not in request.headers
    assert "X-API-Key" not in request.headers


def test_list_models(httpserver, client):
    httpserver.expect_request("/v1/models", method="GET").respond_with_json(
        {"object": "list", "data": [{"id": "a", "object": "model"}, {"object": "model"}, "junk"]}
    )
    assert client.list_models() == [{"id": "a", "object": "model"}]


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="auth_header"):
        ImageClient(ClientConfig(base_url="http://127.0.0.1/v1", auth_header="digest"))
    with pytest.raises(ValueError, match="base_url"):
        ImageClient(ClientConfig(base_url="ftp://127.0.0.1/v1"))


# -- retries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", sorted(RETRY_STATUSES))
def test_retries_on(httpserver, client, sleeps, status):
    image = png_bytes()
    httpserver.expect_oneshot_request(GENERATIONS).respond_with_json(
        {"error": {"message": "try again"}}, status=status
    )
    httpserver.expect_oneshot_request(GENERATIONS).respond_with_json(ok_answer(image))
    result = client.generate(prompt="x")
    assert result.items[0].data == image
    assert len(calls(httpserver)) == 2
    # One wait, a backoff with jitter around the first step.
    assert len(sleeps) == 1
    assert 0.25 <= sleeps[0] <= 0.5


def test_gives_up_after_max_retries(httpserver, make_client, sleeps):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "The service is overloaded"}}, status=503
    )
    with pytest.raises(EndpointUnavailable) as info:
        make_client(max_retries=3).generate(prompt="x")
    assert info.value.status == 503
    assert "The service is overloaded" in str(info.value)
    assert len(calls(httpserver)) == 4
    assert len(sleeps) == 3
    # Backoff grows: each wait is within its doubling step.
    for attempt, wait in enumerate(sleeps, start=1):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        assert ceiling / 2 <= wait <= ceiling


def test_stop_is_asked_before_each_retry_and_each_download(httpserver, sleeps):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "The service is overloaded"}}, status=503
    )
    answers = iter([False, True])
    client = ImageClient(
        ClientConfig(base_url=httpserver.url_for("/v1"), max_retries=3),
        sleep=sleeps,
        stop=lambda: next(answers),
    )
    with pytest.raises(Cancelled):
        client.generate(prompt="x")
    assert len(calls(httpserver)) == 2  # asked once more, then stopped: not four times

    httpserver.clear()
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"created": 1, "data": [{"url": httpserver.url_for("/files/1.png")}]}
    )
    stopped = ImageClient(
        ClientConfig(base_url=httpserver.url_for("/v1")), sleep=sleeps, stop=lambda: True
    )
    with pytest.raises(Cancelled):
        stopped.generate(prompt="x")
    assert [r.path for r, _ in httpserver.log] == [GENERATIONS]  # the image was not fetched


def test_retries_when_the_connection_is_refused(make_client, sleeps):
    client = make_client(base_url=f"http://127.0.0.1:{unused_port()}/v1", max_retries=2)
    with pytest.raises(EndpointUnavailable) as info:
        client.generate(prompt="x")
    assert not isinstance(info.value, EndpointTimeout)
    assert info.value.code == "connection_error"
    assert "Could not reach the image endpoint" in str(info.value)
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "headers, wait",
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # OpenAI's ms header wins
    ],
)
def test_honours_retry_after(httpserver, client, sleeps, headers, wait):
    httpserver.expect_oneshot_request(GENERATIONS).respond_with_json(
        {"error": {"message": "slow down"}}, status=429, headers=headers
    )
    httpserver.expect_oneshot_request(GENERATIONS).respond_with_json(ok_answer(png_bytes()))
    client.generate(prompt="x")
    assert sleeps == [wait]


def test_honours_retry_after_as_a_date(httpserver, client, sleeps):
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    httpserver.expect_oneshot_request(GENERATIONS).respond_with_json(
        {"error": {"message": "slow down"}}, status=503, headers={"Retry-After": when}
    )
    httpserver.expect_oneshot_request(GENERATIONS).respond_with_json(ok_answer(png_bytes()))
    client.generate(prompt="x")
    (wait,) = sleeps
    assert 15 <= wait <= 21


def test_a_long_retry_after_is_not_waited_for(httpserver, client, sleeps):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "Daily quota used up"}}, status=429, headers={"Retry-After": "3600"}
    )
    with pytest.raises(RateLimited) as info:
        client.generate(prompt="x")
    assert info.value.retry_after == 3600
    assert info.value.status == 429
    assert "Daily quota used up" in str(info.value)
    assert sleeps == []
    assert len(calls(httpserver)) == 1


def test_rate_limited_after_the_retries(httpserver, make_client, sleeps):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "Too many requests", "code": "rate_limit_exceeded"}},
        status=429,
        headers={"Retry-After": "1"},
    )
    with pytest.raises(RateLimited) as info:
        make_client(max_retries=2).generate(prompt="x")
    assert info.value.retry_after == 1.0
    assert info.value.code == "rate_limit_exceeded"
    assert sleeps == [1.0, 1.0]
    assert len(calls(httpserver)) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_no_retry_on_client_errors(httpserver, client, sleeps, status):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": f"Refused with {status}", "param": "prompt", "code": "nope"}},
        status=status,
    )
    with pytest.raises(EndpointError) as info:
        client.generate(prompt="x")
    assert not isinstance(info.value, RateLimited)
    assert info.value.status == status
    assert f"Refused with {status}" in str(info.value)
    assert len(calls(httpserver)) == 1
    assert sleeps == []


def test_read_timeout_fails_at_once(httpserver, make_client, sleeps):
    """Not retried: the endpoint may still be making (and billing) the images."""
    released = threading.Event()

    def slow(request):
        released.wait(2.0)
        return Response("{}", content_type="application/json")

    httpserver.expect_request(GENERATIONS).respond_with_handler(slow)
    try:
        with pytest.raises(EndpointTimeout) as info:
            make_client(read_timeout=0.3, max_retries=3).generate(prompt="x")
    finally:
        released.set()
        settle(httpserver, 1)
    assert info.value.code == "timeout"
    assert "did not answer within 0.3 s" in str(info.value)
    assert len(calls(httpserver)) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [408, 504])
def test_timeout_statuses_are_endpoint_timeouts(httpserver, make_client, status):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "Gateway gave up"}}, status=status
    )
    with pytest.raises(EndpointTimeout) as info:
        make_client(max_retries=0).generate(prompt="x")
    assert "Gateway gave up" in str(info.value)


# -- the endpoint's own message ---------------------------------------------------------------


def test_the_endpoints_message_code_and_param_reach_the_exception(httpserver, client):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {
            "error": {
                "message": "Invalid size '999x999' for model 'novisurf-procedural'.",
                "type": "invalid_request_error",
                "param": "size",
                "code": "invalid_value",
            }
        },
        status=400,
    )
    with pytest.raises(EndpointError) as info:
        client.generate(prompt="x", size="999x999")
    assert str(info.value) == "Invalid size '999x999' for model 'novisurf-procedural'."
    assert (info.value.status, info.value.param, info.value.code) == (400, "size", "invalid_value")


def test_a_refused_key_says_so(httpserver, client):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"error": {"message": "Incorrect API key provided: dkai_cli…", "code": "invalid_api_key"}},
        status=401,
    )
    with pytest.raises(EndpointError) as info:
        client.generate(prompt="x")
    assert "refused our API key" in str(info.value)
    assert "Incorrect API key provided" in str(info.value)
    assert info.value.code == "invalid_api_key"


def test_a_plain_text_error_is_shown(httpserver, make_client):
    httpserver.expect_request(GENERATIONS).respond_with_data(
        "upstream connect error or disconnect/reset before headers", status=502
    )
    with pytest.raises(EndpointUnavailable) as info:
        make_client(max_retries=0).generate(prompt="x")
    assert "upstream connect error" in str(info.value)
    assert info.value.status == 502


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"error": "Model is loading"}, "Model is loading"),
        ({"message": "Bad things"}, "Bad things"),
        ({"detail": "Not found"}, "Not found"),
    ],
)
def test_other_error_shapes_are_shown(httpserver, client, body, expected):
    httpserver.expect_request(GENERATIONS).respond_with_json(body, status=400)
    with pytest.raises(EndpointError, match=expected):
        client.generate(prompt="x")


# -- unusable answers -----------------------------------------------------------------------------


def test_empty_data_is_endpoint_unavailable(httpserver, client):
    httpserver.expect_request(GENERATIONS).respond_with_json({"created": 1, "data": []})
    with pytest.raises(EndpointUnavailable) as info:
        client.generate(prompt="x")
    assert info.value.code == "empty_response"
    assert "no images" in str(info.value)


@pytest.mark.parametrize("answer", [{"created": 1}, {"data": "nope"}, [1, 2]])
def test_no_data_list_is_endpoint_unavailable(httpserver, client, answer):
    httpserver.expect_request(GENERATIONS).respond_with_json(answer)
    with pytest.raises(EndpointUnavailable) as info:
        client.generate(prompt="x")
    assert info.value.code == "invalid_response"


def test_non_json_200_is_endpoint_unavailable(httpserver, client, sleeps):
    httpserver.expect_request(GENERATIONS).respond_with_data(
        "<html>Welcome to nginx!</html>", content_type="text/html"
    )
    with pytest.raises(EndpointUnavailable) as info:
        client.generate(prompt="x")
    assert info.value.code == "invalid_json"
    assert "Welcome to nginx!" in str(info.value)
    assert sleeps == []


# -- items: base64 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["aGVsbG8$d29ybGQ=", "aGVs bG8=", "not base64 at all!", "aGVsbG8=\n"],
    ids=["dollar", "space", "words", "newline"],
)
def test_invalid_base64_is_an_item_error(httpserver, client, text):
    good = png_bytes()
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"b64_json": text}, {"b64_json": b64(good)}]}
    )
    bad_item, good_item = client.generate(prompt="x", n=2).items
    assert bad_item.data is None
    assert "not valid base64" in bad_item.error
    assert good_item.data == good


def test_b64_helper():
    assert decode_b64_strict("data:image/png;base64," + b64(b"abc"), 100) == b"abc"
    with pytest.raises(ValueError, match="empty"):
        decode_b64_strict("", 100)
    with pytest.raises(ValueError, match="larger"):
        decode_b64_strict(b64(b"x" * 200), 100)


def test_an_item_with_neither_is_an_item_error(httpserver, client):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"revised_prompt": "only this"}, "a string", {"b64_json": b64(png_bytes())}]}
    )
    first, second, third = client.generate(prompt="x").items
    assert "neither" in first.error
    assert second.error
    assert third.data == png_bytes()


# -- items: url downloads ---------------------------------------------------------------------------


def test_url_on_the_endpoints_origin_gets_the_key(httpserver, client):
    image = png_bytes()
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": httpserver.url_for("/v1/files/abc")}]}
    )
    httpserver.expect_request("/v1/files/abc").respond_with_data(image, content_type="image/png")
    (item,) = client.generate(prompt="x").items
    assert (item.data, item.source, item.url) == (image, "url", httpserver.url_for("/v1/files/abc"))
    (download,) = calls(httpserver, "/v1/files/abc")
    assert download.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("auth_header", ["bearer", "x-api-key"])
def test_url_on_another_origin_does_not_get_the_key(
    httpserver, elsewhere, make_client, auth_header
):
    image = png_bytes()
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": elsewhere.url_for("/cdn/image.png")}]}
    )
    elsewhere.expect_request("/cdn/image.png").respond_with_data(image, content_type="image/png")
    (item,) = make_client(auth_header=auth_header).generate(prompt="x").items
    assert item.data == image
    (download,) = calls(elsewhere, "/cdn/image.png")
    assert "Authorization" not in download.headers
    assert "X-API-Key" not in download.headers
    assert KEY not in str(download.headers)


@pytest.mark.parametrize("auth_header", ["bearer", "x-api-key"])
def test_a_redirect_to_another_origin_does_not_get_the_key(
    httpserver, elsewhere, make_client, auth_header
):
    image = png_bytes()
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": httpserver.url_for("/v1/files/abc")}]}
    )
    httpserver.expect_request("/v1/files/abc").respond_with_data(
        "", status=302, headers={"Location": elsewhere.url_for("/cdn/image.png")}
    )
    elsewhere.expect_request("/cdn/image.png").respond_with_data(image, content_type="image/png")
    (item,) = make_client(auth_header=auth_header).generate(prompt="x").items
    assert item.data == image, item.error
    (download,) = calls(elsewhere, "/cdn/image.png")
    assert KEY not in str(download.headers)


def test_a_redirect_within_the_origin_is_followed_with_the_key(httpserver, client):
    image = png_bytes()
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": httpserver.url_for("/v1/files/abc")}]}
    )
    httpserver.expect_request("/v1/files/abc").respond_with_data(
        "", status=307, headers={"Location": "/v1/files/abc/real"}
    )
    httpserver.expect_request("/v1/files/abc/real").respond_with_data(
        image, content_type="image/png"
    )
    (item,) = client.generate(prompt="x").items
    assert item.data == image, item.error
    (download,) = calls(httpserver, "/v1/files/abc/real")
    assert download.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    "location, message",
    [("/v1/files/loop", "redirects"), ("file:///etc/passwd", "non-http(s)")],
    ids=["loop", "to a file url"],
)
def test_bad_redirects_are_item_errors(httpserver, client, location, message):
    good = png_bytes()
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": httpserver.url_for("/v1/files/loop")}, {"b64_json": b64(good)}]}
    )
    httpserver.expect_request("/v1/files/loop").respond_with_data(
        "", status=302, headers={"Location": location}
    )
    bad_item, good_item = client.generate(prompt="x", n=2).items
    assert bad_item.data is None
    assert message in bad_item.error
    assert good_item.data == good


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/image.png",
        "javascript:alert(1)",
        "http:///no-host",
        "image.png",
    ],
)
def test_non_http_urls_are_refused(httpserver, client, url):
    good = png_bytes()
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": url}, {"b64_json": b64(good)}]}
    )
    bad_item, good_item = client.generate(prompt="x", n=2).items
    assert bad_item.data is None
    assert "non-http(s)" in bad_item.error
    assert good_item.data == good


def test_download_byte_cap_with_content_length(httpserver, make_client):
    big = png_bytes((64, 64), noise=True)
    assert len(big) > 10_000
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": httpserver.url_for("/big.png")}]}
    )
    httpserver.expect_request("/big.png").respond_with_data(big, content_type="image/png")
    (item,) = make_client(max_download_bytes=2000).generate(prompt="x").items
    assert item.data is None
    assert "larger than" in item.error


def test_download_byte_cap_without_content_length(httpserver, make_client):
    big = png_bytes((64, 64), noise=True)

    def streamed(request):
        def chunks():
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]

        return Response(chunks(), content_type="image/png")  # no Content-Length

    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": httpserver.url_for("/big.png")}]}
    )
    httpserver.expect_request("/big.png").respond_with_handler(streamed)
    (item,) = make_client(max_download_bytes=2000).generate(prompt="x").items
    assert item.data is None
    assert "larger than" in item.error


def test_b64_byte_cap(httpserver, make_client):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        ok_answer(png_bytes((64, 64), noise=True))
    )
    (item,) = make_client(max_download_bytes=2000).generate(prompt="x").items
    assert item.data is None
    assert "larger than" in item.error


def test_an_expired_url_is_an_item_error_and_the_rest_are_kept(httpserver, elsewhere, client):
    first, third = png_bytes(colour=(1, 1, 1)), png_bytes(colour=(3, 3, 3))
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {
            "data": [
                {"url": httpserver.url_for("/v1/files/first")},
                {"url": httpserver.url_for("/v1/files/expired")},
                {"b64_json": b64(third)},
                {"url": elsewhere.url_for("/gone")},
            ]
        }
    )
    httpserver.expect_request("/v1/files/first").respond_with_data(first, content_type="image/png")
    httpserver.expect_request("/v1/files/expired").respond_with_json(
        {"error": {"message": "This image link has expired or does not exist."}}, status=404
    )
    elsewhere.expect_request("/gone").respond_with_data("", status=410)
    items = client.generate(prompt="x", n=4).items
    assert [item.index for item in items] == [0, 1, 2, 3]
    assert items[0].data == first and items[0].error is None
    assert items[1].data is None and "404" in items[1].error and "expired" in items[1].error
    assert items[2].data == third
    assert items[3].data is None and "410" in items[3].error


def test_an_unreachable_download_is_an_item_error(httpserver, client):
    httpserver.expect_request(GENERATIONS).respond_with_json(
        {"data": [{"url": f"http://127.0.0.1:{unused_port()}/image.png"}]}
    )
    (item,) = client.generate(prompt="x").items
    assert item.data is None
    assert "Downloading the image failed" in item.error
