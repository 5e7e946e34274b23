"""In real Chromium, a board and the trash keep a person's place as the gallery does: scrolled
deep (more pages load as they scroll), they select tiles and act, and the page comes back with
the same tile at the same height; Back does the same; the first Tab stop is "Skip to images",
which goes to the grid."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from gallery import services
from gallery.models import Image
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import log_in
from tests.browser.test_library import PASSWORD, seed_many, shots

browser, new_context, page = journey.browser, journey.new_context, journey.page
shots = shots

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Three pages of tiles (the page size is 24): deep means past the first page.
COUNT = 72
DEEP = 50


def scroll_deep(page: Page) -> list[str]:
    """Scroll as a person does until the deep tile has loaded; the tiles' ids in order."""
    tiles = page.locator("#listing li.tile")
    for _ in range(30):
        if tiles.count() > DEEP + 2:
            break
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(200)
    ids = tiles.evaluate_all("tiles => tiles.map(t => t.id)")
    assert len(ids) > DEEP + 2, len(ids)
    page.locator(f"#{ids[DEEP]}").evaluate("t => t.scrollIntoView({block: 'center'})")
    return ids


def height(page: Page, tile_id: str) -> float:
    return page.locator(f"#{tile_id}").evaluate("t => t.getBoundingClientRect().top")


def skip_link_goes_to_the_grid(page: Page) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("body").focus()
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to images")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    assert skip.get_attribute("href") == "#listing"
    assert page.locator("#listing li.tile").count() > 0  # the target is the grid itself
    page.keyboard.press("Enter")
    expect(page.locator("#listing")).to_be_focused()
    page.keyboard.press("Tab")  # the next stop is in the first tile, not back in the page's head
    expect(page.locator("#listing li.tile").first.locator(":focus")).to_have_count(1)


def test_a_board_keeps_my_place_through_a_bulk_action_and_back(
    new_context, live_server, user, shots
):
    seed_many(user, COUNT)
    board = services.board_create(owner=user, name="Waves")
    services.board_images_add(boards=[board], images=Image.objects.filter(owner=user))
    base = live_server.url
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}/boards/{board.pk}/")
    page.wait_for_load_state("load")
    skip_link_goes_to_the_grid(page)

    ids = scroll_deep(page)
    deep = ids[DEEP]
    page.locator(f"#{deep} .tile-check").check()
    page.locator(f"#{ids[DEEP + 1]} .tile-check").check()
    before = height(page, deep)
    page.locator("#selection-tag").fill("deep")
    page.get_by_role("button", name="Add tag", exact=True).click()
    page.wait_for_load_state("load")
    expect(page.locator(f"#{deep}")).to_be_in_viewport()
    assert abs(height(page, deep) - before) <= 2
    assert page.url == f"{base}/boards/{board.pk}/"
    page.screenshot(path=str(shots / "place-board-after-bulk-desktop-light.png"))

    # Open a deep tile's image, then Back: the board, at the same tile.
    page.locator(f"#{deep} a.tile-link").click()
    expect(page).to_have_url(re.compile(rf"/images/{deep.removeprefix('tile-')}/"))
    page.go_back()
    expect(page).to_have_url(f"{base}/boards/{board.pk}/")
    expect(page.locator(f"#{deep}")).to_be_in_viewport()
    assert abs(height(page, deep) - before) <= 2


def test_the_trash_keeps_my_place_through_a_bulk_restore(new_context, live_server, user, shots):
    seed_many(user, COUNT)
    services.images_trash(owner=user, images=Image.objects.filter(owner=user))
    base = live_server.url
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}/trash/")
    page.wait_for_load_state("load")
    skip_link_goes_to_the_grid(page)

    ids = scroll_deep(page)
    # The two restored tiles leave; the tile before them keeps its height.
    kept = ids[DEEP - 1]
    page.locator(f"#{ids[DEEP]} .tile-check").check()
    page.locator(f"#{ids[DEEP + 1]} .tile-check").check()
    before = height(page, kept)
    page.locator("#selection-bar").get_by_role("button", name="Restore", exact=True).click()
    expect(page.get_by_text("Restored 2 images.")).to_be_visible()
    page.wait_for_load_state("load")
    expect(page.locator(f"#{kept}")).to_be_in_viewport()
    assert abs(height(page, kept) - before) <= 2
    expect(page.locator(f"#{ids[DEEP]}")).to_have_count(0)
    assert page.url == f"{base}/trash/"
    page.screenshot(path=str(shots / "place-trash-after-restore-desktop-light.png"))
