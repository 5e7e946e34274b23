"""In real Chromium: an image made through the API by the official SDK appears by itself in its
owner's open gallery, names its key on its page, and never in anyone else's."""

from __future__ import annotations

import openai
import pytest
from playwright.sync_api import expect

from novisurf.protocol import PROCEDURAL_MODEL
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import log_in

# The main browser tests' fixtures (Chromium, contexts, the task worker), shared by name.
browser, new_context, task_worker = journey.browser, journey.new_context, journey.task_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_api_image_appears_live_in_the_owners_gallery_only(
    new_context, live_server, user, other_user, api_key, task_worker
):
    prompt = "a harbour at dusk, made by a script"
    mine = new_context().new_page()
    log_in(mine, live_server.url, "alice", "alice-password-123")
    theirs = new_context().new_page()
    log_in(theirs, live_server.url, "bob", "bob-password-123")
    mine.evaluate("window.__novisurfMarker = 1")
    task_worker.start()

    sdk = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=api_key, max_retries=0)
    sdk.images.generate(prompt=prompt, model=PROCEDURAL_MODEL, size="256x256")

    tile = mine.get_by_role("link").filter(has=mine.get_by_alt_text(prompt))
    expect(tile.first).to_be_visible()
    assert mine.evaluate("window.__novisurfMarker") == 1  # no reload
    tile.first.click()
    expect(mine.get_by_text("API key: tests")).to_be_visible()

    theirs.reload()
    expect(theirs.get_by_alt_text(prompt)).to_have_count(0)
