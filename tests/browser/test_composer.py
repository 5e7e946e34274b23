"""In real Chromium: with the form's Options folded, the chosen model and tags stay in view, so
that Generate never sends a model the person cannot see."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gallery.models import Generation
from novisurf.protocol import MODELS, PROCEDURAL_MODEL
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import log_in

# The main browser tests' fixtures (Chromium, contexts, the task worker), shared by name.
browser, new_context, task_worker = journey.browser, journey.new_context, journey.task_worker

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


def test_a_plain_provider_from_the_form_in_a_browser(
    new_context, live_server, user, settings, task_worker
):
    """The gallery pointed at the plainest OpenAI-compatible server (no streaming, no model
    list, URL answers): the form offers its models, and Generate makes images."""
    from tests.fakes.openai_plain import KEY, FakePlainOpenAI

    with FakePlainOpenAI() as plain:
        settings.NOVISURF_API_BASE = f"{plain.url}/v1"
        settings.NOVISURF_API_KEY = KEY
        task_worker.start()  # it fills the model list the first page asks for
        page = new_context().new_page()
        log_in(page, live_server.url, "alice", "alice-password-123")
        model = page.get_by_label("Model", exact=True)
        for _ in range(50):  # the list arrives from the task: reload until it has
            if model.locator("option[value='gpt-image-1.5']").count():
                break
            page.wait_for_timeout(200)
            page.reload()
        page.get_by_label("Prompt", exact=True).fill("A lighthouse at dawn")
        page.get_by_role("button", name="Options", exact=True).click()
        model.select_option("gpt-image-1.5")
        page.get_by_label("Number of images", exact=True).fill("2")
        page.get_by_role("button", name="Generate", exact=True).click()
        # The images appear in the gallery by themselves.
        expect(page.get_by_alt_text("A lighthouse at dawn")).to_have_count(2, timeout=30_000)
        page.close()
    sent = plain.requests_to("/v1/images/generations")
    assert sent and all("stream" not in request.json for request in sent)
