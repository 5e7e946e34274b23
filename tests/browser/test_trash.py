"""The trash in real Chromium, as a person uses it: "Undo" that waits for them across pages,
tiles selected and restored or deleted forever, "Restore all" and "Empty trash" that say how
many before they act. Screenshots light, dark and phone-sized."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from gallery import services
from gallery.models import Image
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import (
    ALL_IMAGES_LOADED,
    DECODE_ALL_IMAGES,
    TIMEOUT_MS,
    log_in,
    seed_generation,
)

browser, new_context, page = journey.browser, journey.new_context, journey.page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SELECT = re.compile(r"^Select")


def tiles(page: Page):
    return page.locator("main .tile")


def test_a_trash_you_can_trust(page, live_server, user):
    base = live_server.url
    seed_generation(user, "Seven sails at dusk", n=7)
    log_in(page, base, "alice", "alice-password-123")

    # Move five to the trash; "Undo" follows to other pages and to the Trash page.
    page.goto(f"{base}/")
    checks = page.get_by_role("checkbox", name=SELECT)
    for index in range(5):
        checks.nth(index).check()
    page.get_by_role("button", name="Move to trash").click()
    expect(page.get_by_text("Moved 5 images to the trash.")).to_be_visible()
    expect(tiles(page)).to_have_count(2)
    page.get_by_role("link", name="Boards", exact=True).click()
    expect(page.get_by_role("button", name="Undo", exact=True)).to_be_visible()
    page.get_by_role("link", name="Trash", exact=True).click()
    expect(page.get_by_text("Moved 5 images to the trash.")).to_be_visible()
    expect(tiles(page)).to_have_count(5)

    # The gallery's tiles: whole images in rows, not a stretched list.
    first = tiles(page).first.bounding_box()
    second = tiles(page).nth(1).bounding_box()
    assert first["y"] == second["y"] and first["width"] < 700
    assert (
        page.locator("main ul.tiles").first.evaluate("e => getComputedStyle(e).listStyleType")
        == "none"
    )

    # Select two: "Restore" in the toolbar brings exactly those back.
    checks = page.get_by_role("checkbox", name=SELECT)
    checks.nth(0).check()
    checks.nth(1).check()
    expect(page.get_by_text("2 images selected")).to_be_visible()
    page.locator("#selection-bar").get_by_role("button", name="Restore", exact=True).click()
    expect(page.get_by_text("Restored 2 images.")).to_be_visible()
    expect(tiles(page)).to_have_count(3)

    # "Delete forever" on the selection asks, naming how many; Cancel keeps them.
    page.get_by_role("checkbox", name=SELECT).nth(0).check()
    bar = page.locator("#selection-bar")
    bar.get_by_role("button", name="Delete forever", exact=True).click()
    expect(
        page.get_by_role("heading", name="Delete 1 image forever? This cannot be undone.")
    ).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(tiles(page)).to_have_count(3)
    page.get_by_role("checkbox", name=SELECT).nth(0).check()
    bar.get_by_role("button", name="Delete forever", exact=True).click()
    page.get_by_role("button", name="Delete forever", exact=True).click()
    expect(page.get_by_text("Deleted 1 image forever.")).to_be_visible()
    expect(tiles(page)).to_have_count(2)
    assert Image.objects.filter(owner=user).count() == 6

    # "Restore all" asks, naming how many, then restores every one.
    page.get_by_role("button", name="Restore all").click()
    expect(page.get_by_role("heading", name="Restore all 2 images in the trash?")).to_be_visible()
    page.get_by_role("button", name="Restore", exact=True).click()
    expect(page.get_by_text("Restored 2 images.")).to_be_visible()
    expect(page.get_by_text("The trash is empty.")).to_be_visible()

    # "Empty trash" asks too.
    services.images_trash(owner=user, images=Image.objects.filter(owner=user)[:3])
    page.goto(f"{base}/trash/")
    page.get_by_role("button", name="Empty trash").click()
    expect(
        page.get_by_role(
            "heading", name="Empty the trash: delete all 3 images forever? This cannot be undone."
        )
    ).to_be_visible()
    page.get_by_role("button", name="Empty trash").click()
    expect(page.get_by_text("Emptied the trash: 3 images deleted forever.")).to_be_visible()
    assert Image.objects.filter(owner=user).count() == 3


def test_trash_screenshots(new_context, live_server, user, tmp_path):
    out = Path(os.environ.get("NOVISURF_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    seed_generation(user, "Lighthouse in a storm, long exposure", n=4)
    seed_generation(user, "A bowl of lemons on blue linen", n=3)
    services.images_trash(owner=user, images=Image.objects.filter(owner=user)[:6])

    def shoot(page: Page, name: str, *, select: int = 0) -> None:
        page.goto(f"{base}/trash/")
        page.evaluate(DECODE_ALL_IMAGES)
        page.wait_for_function(ALL_IMAGES_LOADED, arg="main img", timeout=TIMEOUT_MS)
        for index in range(select):
            page.get_by_role("checkbox", name=SELECT).nth(index).check()
        page.screenshot(path=str(out / name), full_page=True)

    for scheme in ("light", "dark"):
        page = new_context(color_scheme=scheme).new_page()
        log_in(page, base, "alice", "alice-password-123")
        page.emulate_media(color_scheme=scheme)
        shoot(page, f"trash-selected-{scheme}.png", select=2)
        page.get_by_role("button", name="Restore all").click()
        page.screenshot(path=str(out / f"trash-confirm-{scheme}.png"), full_page=True)

    phone = new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    ).new_page()
    log_in(phone, base, "alice", "alice-password-123")
    shoot(phone, "trash-phone.png", select=1)
    assert len(list(out.glob("trash-*.png"))) == 5
