"""The middleware chain under ASGI (uvicorn, as `make run` and the deployment serve the site)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient, Client
from django.utils.module_loading import import_string


def test_no_middleware_forces_the_chain_out_of_the_event_loop():
    # One sync-only middleware makes Django hop from the event loop to a thread and back
    # around it, on every request.
    sync_only = [
        path
        for path in settings.MIDDLEWARE
        if not getattr(import_string(path), "async_capable", False)
    ]
    assert sync_only == []


@async_to_sync
async def _asgi_get(path: str):
    response = await AsyncClient().get(path)
    body = b"".join([part async for part in response]) if response.streaming else response.content
    return response, body


def _wsgi_get(path: str):
    response = Client().get(path)
    return response, b"".join(response) if response.streaming else response.content


@pytest.mark.parametrize("get", [_asgi_get, _wsgi_get], ids=["asgi", "wsgi"])
def test_static_files_are_served(get):
    response, body = get("/static/css/site.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert b"{" in body
    assert response["X-Request-ID"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("get", [_asgi_get, _wsgi_get], ids=["asgi", "wsgi"])
def test_a_page_still_passes_every_layer(get):
    response, body = get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in" in body
    assert response["X-Request-ID"] and response["X-Frame-Options"] == "DENY"
    assert "csrftoken" in response.cookies
