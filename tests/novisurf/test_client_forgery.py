"""novisurf.client refuses request forgery: a provider's ``url`` results (and redirects) reach
only the provider's own origin or public addresses, in whatever spelling, and every refusal
reads the same (no open-or-closed-port oracle)."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer

from novisurf.client import ClientConfig, ImageClient
from tests.utils import png_bytes

REFUSED = "Downloading the image failed: its address cannot be reached from here."


@pytest.fixture
def internal():
    """A service on loopback that a provider must not make us read (another port)."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    server.expect_request("/secret.png").respond_with_data(png_bytes(), content_type="image/png")
    yield server
    server.stop()


def forgery_client(httpserver) -> ImageClient:
    config = ClientConfig(
        base_url=httpserver.url_for("/v1"), max_retries=0, read_timeout=5, private_hosts=()
    )
    return ImageClient(config, sleep=lambda s: None)


def answer_urls(httpserver, urls: list[str]) -> None:
    httpserver.expect_request("/v1/images/generations").respond_with_data(
        json.dumps({"data": [{"url": url} for url in urls]}), content_type="application/json"
    )


def spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/secret.png",
        f"http://2130706433:{port}/secret.png",
        f"http://0x7f.1:{port}/secret.png",
        f"http://localhost:{port}/secret.png",
        f"http://[::1]:{port}/secret.png",
        f"http://[::ffff:127.0.0.1]:{port}/secret.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/secret.png",
        "http://[fd00::1]/secret.png",
    ]


def test_loopback_private_and_metadata_addresses_are_refused_in_every_spelling(
    httpserver, internal
):
    urls = spellings(internal.port)
    answer_urls(httpserver, urls)
    items = forgery_client(httpserver).generate(prompt="x", n=len(urls)).items
    assert [item.error for item in items] == [REFUSED] * len(urls)
    assert internal.log == []  # nothing reached the internal service


def test_a_redirect_from_the_provider_to_an_internal_address_is_refused(httpserver, internal):
    answer_urls(httpserver, [httpserver.url_for("/result.png")])
    httpserver.expect_request("/result.png").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.1:{internal.port}/secret.png"}
    )
    [item] = forgery_client(httpserver).generate(prompt="x", n=1).items
    assert item.error == REFUSED
    assert internal.log == []


def test_an_open_port_and_a_closed_one_read_alike(httpserver, internal):
    from tests.utils import free_port

    closed = free_port()
    answer_urls(
        httpserver,
        [f"http://127.0.0.1:{internal.port}/secret.png", f"http://127.0.0.1:{closed}/x.png"],
    )
    opened, shut = forgery_client(httpserver).generate(prompt="x", n=2).items
    assert opened.error == shut.error == REFUSED


def test_the_providers_own_origin_is_allowed_where_it_lives(httpserver):
    image = png_bytes()
    answer_urls(httpserver, [httpserver.url_for("/own.png")])
    httpserver.expect_request("/own.png").respond_with_data(image, content_type="image/png")
    [item] = forgery_client(httpserver).generate(prompt="x", n=1).items
    assert item.data == image


def test_an_allowed_private_host_is_reached_at_the_address_checked(httpserver, internal):
    answer_urls(httpserver, [f"http://127.0.0.1:{internal.port}/secret.png"])
    config = ClientConfig(
        base_url=httpserver.url_for("/v1"), max_retries=0, private_hosts=("127.0.0.1",)
    )
    [item] = ImageClient(config).generate(prompt="x", n=1).items
    assert item.data == png_bytes()
