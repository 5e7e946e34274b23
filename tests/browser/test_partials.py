"""In Chromium: a streaming model's partial images refine in place on the generation page."""

from __future__ import annotations

import base64
import io

import pytest
from playwright.sync_api import expect

from api.renderers.procedural import compose_scaled
from gallery import services
from gallery.models import Generation
from novisurf.protocol import PROCEDURAL_MODEL
from tests.browser.test_gallery import browser, log_in, new_context  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PROMPT = "a neon city skyline at night with stars over the waves"


def preview(scale: float) -> str:
    """A partial image as the worker sends it: a small WebP data URL of a coarse render."""
    buffer = io.BytesIO()
    compose_scaled(PROMPT, 0, 256, 256, scale=scale).save(buffer, "WEBP")
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def test_partial_images_refine_in_place(new_context, live_server, user):  # noqa: F811
    generation = Generation.objects.create(
        owner=user,
        prompt=PROMPT,
        model=PROCEDURAL_MODEL,
        n=1,
        size="256x256",
        status=Generation.Status.RUNNING,
    )
    page = new_context().new_page()
    log_in(page, live_server.url, "alice", "alice-password-123")
    page.goto(f"{live_server.url}/generations/{generation.pk}/")
    figure = page.locator("#partial-preview")
    expect(figure).to_be_hidden()

    first, second = preview(1 / 9), preview(4 / 9)
    for number, data_url in enumerate((first, second)):
        services.event_emit(
            owner_id=user.pk,
            kind="partial",
            generation_id=generation.pk,
            payload={
                "index": 0,
                "partial_image_index": number,
                "width": 256,
                "height": 256,
                "data_url": data_url,
            },
        )
        image = page.locator("#partial-image")
        expect(image).to_have_attribute("src", data_url)
        expect(figure).to_be_visible()
        expect(page.get_by_text(f"partial {number + 1}")).to_be_visible()
        if number == 0:
            page.evaluate("window.firstPartial = document.getElementById('partial-image')")
    # One picture sharpening in place, not a growing list of them.
    assert page.evaluate("document.getElementById('partial-image') === window.firstPartial")
    assert page.locator("#partial-preview img").count() == 1
    assert page.evaluate("document.getElementById('partial-image').naturalWidth") == 256

    Generation.objects.filter(pk=generation.pk).update(status=Generation.Status.DONE)
    expect(figure).to_be_hidden()
