"""In real Chromium, as a person who lives in the gallery: cancel a generation, make and revoke
a key, reach the images by keyboard and on a phone, generate without leaving, keep one's place,
compare and zoom, and see every parameter. Screenshots light, dark and phone-sized go to the
folder NOVISURF_SCREENSHOTS names (else the test's own)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from gallery.models import Generation
from novisurf.protocol import PROCEDURAL_MODEL
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import log_in

# The main browser tests' fixtures (Chromium, contexts, a page), shared rather than copied.
browser, new_context, page = journey.browser, journey.new_context, journey.page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "alice-password-123"
SCREENS = {
    "desktop": {"viewport": {"width": 1440, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@pytest.fixture
def shots(tmp_path) -> Path:
    out = Path(os.environ.get("NOVISURF_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def queued(owner, prompt: str, *, n: int = 4) -> Generation:
    """A generation waiting for a worker (none runs in these tests unless started)."""
    return Generation.objects.create(
        owner=owner,
        prompt=prompt,
        model=PROCEDURAL_MODEL,
        n=n,
        size="512x512",
        response_format="b64_json",
    )


def test_a_queued_generation_is_cancelled_from_the_gallery_and_its_page(
    new_context, live_server, user, shots
):
    first = queued(user, "Ten paid images of a lighthouse in a storm")
    second = queued(user, "A slow river under the northern lights")
    for scheme in ("light", "dark"):
        for screen, options in SCREENS.items():
            page = new_context(color_scheme=scheme, **options).new_page()
            log_in(page, live_server.url, "alice", PASSWORD)
            page.screenshot(path=str(shots / f"cancel-recent-{screen}-{scheme}.png"))
            page.goto(f"{live_server.url}/generations/{second.pk}/")
            page.screenshot(path=str(shots / f"cancel-page-{screen}-{scheme}.png"))
            page.close()

    page = new_context().new_page()
    log_in(page, live_server.url, "alice", PASSWORD)
    entry = page.locator(f'[data-generation-id="{first.pk}"]')
    expect(entry.locator(".status")).to_have_text("Queued")
    entry.get_by_role("button", name="Cancel: Ten paid images").click()
    expect(entry.locator(".status")).to_have_text("Cancelled")
    expect(entry.get_by_role("button", name="Cancel: Ten paid images")).to_have_count(0)
    expect(page).to_have_url(f"{live_server.url}/")  # still in the gallery
    first.refresh_from_db()
    assert first.status == Generation.Status.CANCELLED

    page.goto(f"{live_server.url}/generations/{second.pk}/")
    expect(page.locator("#generation-status")).to_have_text("Queued")
    page.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.locator("#generation-status")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Retry", exact=True)).to_be_visible()
    expect(page.locator("#progress-note")).to_be_hidden()
    page.screenshot(path=str(shots / "cancel-page-cancelled-desktop-light.png"))
    page.reload()
    expect(page.locator("#generation-status")).to_have_text("Cancelled")
