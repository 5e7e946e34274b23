"""In real Chromium, as a person would: search with operators and read what was found, then
tidy tags on the Tags page (open one, rename, merge, delete after saying how many images).
Screenshots light, dark and phone-sized (NOVISURF_SCREENSHOTS keeps them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from gallery.models import Image, Tag
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import log_in, seed_generation

# The main browser tests' fixtures (Chromium, contexts, a page), shared rather than copied.
browser, new_context, page = journey.browser, journey.new_context, journey.page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "alice-password-123"


def seed_library(user) -> None:
    seed_generation(user, "A red fox in the snow", n=2, tags=("animal", "winter"))
    seed_generation(user, "Arctic fox asleep", n=1, tags=("Animals",))
    seed_generation(user, "Wolf at night in the snow", n=1, tags=("winter",))
    seed_generation(user, "Harbour lights at dusk", n=1, tags=("city",))


def tiles(page: Page):
    return page.locator("#listing img")


def test_search_with_operators_says_what_it_found(page, live_server, user):
    seed_library(user)
    log_in(page, live_server.url, "alice", PASSWORD)
    search = page.get_by_role("searchbox", name="Search")

    search.fill("snow -fox")
    search.press("Enter")
    expect(page.get_by_role("status").filter(has_text="match")).to_have_text("1 image matches")
    expect(tiles(page)).to_have_count(1)
    expect(tiles(page).first).to_have_attribute("alt", "Wolf at night in the snow")

    search.fill('"red fox" OR wolf')
    search.press("Enter")
    expect(page.get_by_text("3 images match")).to_be_visible()
    expect(tiles(page)).to_have_count(3)

    search.fill("tag:winter before:someday")
    search.press("Enter")
    expect(page.get_by_text("3 images match")).to_be_visible()
    expect(
        page.get_by_text(
            "\N{LEFT DOUBLE QUOTATION MARK}before:someday\N{RIGHT DOUBLE QUOTATION MARK} was ignored"
        )
    ).to_be_visible()

    # The tips say how to ask.
    page.get_by_text("Search tips").click()
    expect(page.get_by_text("words side by side, in order")).to_be_visible()


def test_tags_page_lists_renames_merges_and_deletes(page, live_server, user):
    seed_library(user)
    log_in(page, live_server.url, "alice", PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tags").click()
    expect(page.get_by_role("heading", name="Tags")).to_be_visible()
    rows = page.get_by_role("list", name="Your tags").get_by_role("listitem")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text="#winter")).to_contain_text("3 images")

    # A tag is a link that filters the gallery.
    page.get_by_role("link", name="#city").click()
    expect(tiles(page)).to_have_count(1)
    expect(tiles(page).first).to_have_attribute("alt", "Harbour lights at dusk")
    page.go_back()

    # Rename.
    city = rows.filter(has_text="#city")
    city.get_by_text("Rename").click()
    field = page.get_by_label(
        "New name for \N{LEFT DOUBLE QUOTATION MARK}city\N{RIGHT DOUBLE QUOTATION MARK}"
    )
    field.fill("harbour")
    field.press("Enter")
    expect(
        page.get_by_text(
            "Renamed \N{LEFT DOUBLE QUOTATION MARK}city\N{RIGHT DOUBLE QUOTATION MARK} to \N{LEFT DOUBLE QUOTATION MARK}harbour\N{RIGHT DOUBLE QUOTATION MARK}."
        )
    ).to_be_visible()
    expect(page.get_by_role("link", name="#harbour")).to_be_visible()

    # Rename onto another tag: the two become one.
    rows.filter(has_text="#Animals").get_by_text("Rename").click()
    page.get_by_label(
        "New name for \N{LEFT DOUBLE QUOTATION MARK}Animals\N{RIGHT DOUBLE QUOTATION MARK}"
    ).fill("animal")
    page.get_by_role("button", name="Save name").filter(visible=True).click()
    expect(
        page.get_by_text(
            "Merged \N{LEFT DOUBLE QUOTATION MARK}Animals\N{RIGHT DOUBLE QUOTATION MARK} into \N{LEFT DOUBLE QUOTATION MARK}animal\N{RIGHT DOUBLE QUOTATION MARK}: 1 image took the tag."
        )
    ).to_be_visible()
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="#animal")).to_contain_text("3 images")

    # Delete asks first, naming how many images carry the tag.
    page.get_by_role(
        "link", name="Delete \N{LEFT DOUBLE QUOTATION MARK}winter\N{RIGHT DOUBLE QUOTATION MARK}"
    ).click()
    expect(
        page.get_by_role(
            "heading",
            name="Delete the tag \N{LEFT DOUBLE QUOTATION MARK}winter\N{RIGHT DOUBLE QUOTATION MARK}?",
        )
    ).to_be_visible()
    expect(page.get_by_text("It is on 3 images.")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    expect(rows).to_have_count(3)
    page.get_by_role(
        "link", name="Delete \N{LEFT DOUBLE QUOTATION MARK}winter\N{RIGHT DOUBLE QUOTATION MARK}"
    ).click()
    page.get_by_role("button", name="Delete tag").click()
    expect(
        page.get_by_text(
            "Deleted the tag \N{LEFT DOUBLE QUOTATION MARK}winter\N{RIGHT DOUBLE QUOTATION MARK} from 3 images; the images stay."
        )
    ).to_be_visible()
    expect(rows).to_have_count(2)
    assert not Tag.objects.filter(owner=user, name__iexact="winter").exists()
    assert Image.objects.filter(owner=user).count() == 5


def test_tags_and_search_screenshots(new_context, live_server, user, tmp_path):
    out = Path(os.environ.get("NOVISURF_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    seed_library(user)
    seed_generation(
        user,
        "A lighthouse in a storm",
        n=1,
        tags=("a rather long tag name for the sea and its storms",),
    )
    base = live_server.url
    for scheme in ("light", "dark"):
        page = new_context(color_scheme=scheme).new_page()
        log_in(page, base, "alice", PASSWORD)
        page.goto(f"{base}/tags/")
        page.get_by_role("listitem").filter(has_text="#city").get_by_text("Rename").click()
        page.screenshot(path=str(out / f"tags-{scheme}.png"), full_page=True)
        winter = Tag.objects.get(owner=user, name="winter")
        page.goto(f"{base}/tags/{winter.pk}/delete")
        page.screenshot(path=str(out / f"tags-delete-{scheme}.png"), full_page=True)
        page.goto(f"{base}/?q=snow+-fox+before%3Anotadate")
        page.get_by_text("Search tips").click()
        page.screenshot(path=str(out / f"search-{scheme}.png"), full_page=True)
    phone = new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2).new_page()
    log_in(phone, base, "alice", PASSWORD)
    phone.goto(f"{base}/tags/")
    phone.get_by_role("listitem").filter(has_text="#city").get_by_text("Rename").click()
    phone.screenshot(path=str(out / "tags-phone.png"), full_page=True)
    phone.goto(f"{base}/?q=snow+-fox+before%3Anotadate")
    phone.screenshot(path=str(out / "search-phone.png"), full_page=True)
