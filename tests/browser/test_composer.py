"""In real Chromium: with the form's Options folded, the chosen model and tags stay in view, so
that Generate never sends a model the person cannot see."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gallery.models import Generation
from novisurf.protocol import MODELS, PROCEDURAL_MODEL
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import log_in

# The main browser tests' fixtures (Chromium, contexts), shared by name.
browser, new_context = journey.browser, journey.new_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_folded_options_still_show_the_model_and_tags(new_context, live_server, user):
    Generation.objects.create(
        owner=user,
        prompt="earlier",
        model=PROCEDURAL_MODEL,
        n=1,
        size="512x512",
        response_format="url",
        tag_names=["harbour", "dawn"],
    )
    page = new_context().new_page()
    log_in(page, live_server.url, "alice", "alice-password-123")
    options = page.get_by_role("button", name="Options", exact=True)
    expect(options).to_have_attribute("aria-expanded", "false")
    summary = page.locator("#options-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text(f"Model: {MODELS[PROCEDURAL_MODEL].label}")
    expect(summary).to_contain_text("Tags: harbour, dawn")

    options.click()
    expect(summary).to_be_hidden()
    page.get_by_label("Tags", exact=True).fill("fog")
    options.click()
    expect(summary).to_contain_text("Tags: fog")
    page.close()
