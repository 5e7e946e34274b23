"""In real Chromium, as a new user would: star and filter, a board filled by multi-select, its
ZIP, the trash with undo and restore, remix, import from another tool, and a deleted user who
leaves no file behind. Screenshots of the pages, light, dark and phone-sized."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from PIL.PngImagePlugin import PngInfo
from playwright.sync_api import Page, expect

from api.renderers.procedural import compose
from gallery import services
from gallery.models import Board, Image
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import (
    ALL_IMAGES_LOADED,
    DECODE_ALL_IMAGES,
    TIMEOUT_MS,
    UUID_RE,
    log_in,
    pixels,
    seed_generation,
)

# The main browser tests' fixtures (Chromium, contexts, a page), shared rather than copied.
browser, new_context, page = journey.browser, journey.new_context, journey.page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KITE = "A red kite over the dunes at noon"
LANTERN = "Paper lanterns drifting on a dark river"


def tile(page: Page, index: int):
    return page.locator("main .tile").nth(index)


def a1111_png(prompt: str, index: int) -> bytes:
    info = PngInfo()
    info.add_text(
        "parameters",
        f"{prompt}\nNegative prompt: blurry\nSteps: 25, Sampler: Euler a, Seed: {index}, "
        "Size: 256x256, Model: sd15",
    )
    buffer = io.BytesIO()
    compose(prompt, index, 256, 256).convert("RGB").save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def test_organise_a_gallery_end_to_end(page, live_server, user, tmp_path):
    base = live_server.url
    seed_generation(user, LANTERN, n=3, tags=("river",))
    seed_generation(user, KITE, n=4, tags=("kite",))
    log_in(page, base, "alice", "alice-password-123")
    expect(page.locator("main .tile")).to_have_count(7)

    # -- favourites: star three, without a reload; then filter ------------------------------
    page.evaluate("window.__marker = 1")
    for index in (0, 2, 4):
        star = tile(page, index).get_by_role("button", name="Favourite")
        tile(page, index).hover()
        star.click()
        expect(star).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.__marker") == 1, "starring reloaded the page"
    page.get_by_role("link", name="★ Favourites").click()
    expect(page).to_have_url(re.compile(r"favourites=1"))
    expect(page.locator("main .tile")).to_have_count(3)
    expect(page.locator('main .fav-toggle[aria-pressed="true"]')).to_have_count(3)

    # -- a board, filled by multi-select (click, then shift-click: five) ---------------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Boards").click()
    page.get_by_label("Board name", exact=True).fill("Keepers")
    page.get_by_role("button", name="Create board", exact=True).click()
    expect(page.get_by_role("link", name=re.compile("Keepers"))).to_be_visible()
    page.get_by_role("link", name="Gallery", exact=True).click()
    checks = page.get_by_role("checkbox", name=re.compile(r"^Select"))
    expect(checks).to_have_count(7)
    checks.nth(0).check()
    checks.nth(4).click(modifiers=["Shift"])
    expect(page.get_by_role("status").filter(has_text="selected")).to_have_text("5 images selected")
    for index in range(5):
        expect(checks.nth(index)).to_be_checked()
    expect(checks.nth(5)).not_to_be_checked()
    page.get_by_text("Boards ▾").click()
    page.get_by_role("checkbox", name="Keepers").check()
    page.get_by_role("button", name="Add to board", exact=True).click()
    expect(page.get_by_text("Added 5 images to “Keepers”.")).to_be_visible()
    board = Board.objects.get(owner=user, name="Keepers")
    page.goto(f"{base}/boards/{board.pk}/")
    expect(page.locator("main .tile")).to_have_count(5)

    # -- those five as a ZIP: pixels and prompts inside ----------------------------------------
    page.get_by_role("button", name="Select all").click()
    expect(page.get_by_text("All 5 images of this listing selected")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download ZIP", exact=True).click()
    saved = tmp_path / "board.zip"
    info.value.save_as(saved)
    on_board = {str(i.pk): i for i in Image.objects.filter(board_entries__board=board)}
    with zipfile.ZipFile(saved) as archive:
        metadata = json.loads(archive.read("metadata.json"))["images"]
        assert sorted(entry["id"] for entry in metadata) == sorted(on_board)
        for entry in metadata:
            image = on_board[entry["id"]]
            assert entry["prompt"] == image.prompt and entry["boards"] == ["Keepers"]
            member = archive.read(entry["file"])
            with image.file.open("rb") as handle:
                assert pixels(member) == pixels(handle.read())
            assert image.prompt.encode() in member  # the parameters chunk

    # -- the trash: move two, undo, move again, restore one from the Trash page --------------
    checks = page.get_by_role("checkbox", name=re.compile(r"^Select"))
    page.get_by_role("button", name="Clear selection").click()
    checks.nth(0).check()
    checks.nth(1).check()
    page.get_by_role("button", name="Move to trash").click()
    expect(page.get_by_text("Moved 2 images to the trash.")).to_be_visible()
    expect(page.locator("main .tile")).to_have_count(3)
    page.get_by_role("button", name="Undo", exact=True).click()
    expect(page.get_by_text("Restored 2 images.")).to_be_visible()
    expect(page.locator("main .tile")).to_have_count(5)
    checks.nth(0).check()
    checks.nth(1).check()
    page.get_by_role("button", name="Move to trash").click()
    expect(page.locator("main .tile")).to_have_count(3)
    page.get_by_role("link", name="Trash", exact=True).click()
    # Each tile's own buttons (beside the page's "Restore all" and the selection's toolbar).
    expect(page.get_by_role("button", name=re.compile("^Restore:"))).to_have_count(2)
    expect(page.get_by_role("button", name=re.compile("^Delete forever:"))).to_have_count(2)
    page.get_by_role("button", name=re.compile("^Restore:")).first.click()
    expect(page.get_by_text("Restored 1 image.")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Restore:"))).to_have_count(1)
    page.goto(f"{base}/boards/{board.pk}/")
    expect(page.locator("main .tile")).to_have_count(4)

    # -- an image's page: F toggles Favourite; remix and API call ---------------------------
    page.locator("main .tile-link").first.click()
    expect(page).to_have_url(re.compile(rf"/images/{UUID_RE}/"))
    favourite = page.get_by_role("button", name="Favourite")
    before = favourite.get_attribute("aria-pressed")
    page.wait_for_load_state("domcontentloaded")  # the key's script has run by then
    page.keyboard.press("f")
    expect(favourite).to_have_attribute("aria-pressed", "false" if before == "true" else "true")
    page.get_by_role("button", name="Copy as API call").click()
    expect(page.locator("#api-call-curl")).to_contain_text("/v1/images/generations")
    expect(page.locator("#api-call-python")).to_contain_text("client.images.generate(")
    image_id = re.search(UUID_RE, page.url).group(0)
    page.get_by_role("link", name="Use these settings").click()
    expect(page).to_have_url(f"{base}/?from={image_id}")
    expect(page.get_by_label("Prompt", exact=True)).to_be_visible()

    # -- import a folder written by another tool; its prompts are searchable ------------------
    folder = tmp_path / "sd-outputs"
    folder.mkdir()
    files = []
    for index, prompt in enumerate(
        ("copper teapot on a windowsill", "teapot made of glass", "a heron in reeds")
    ):
        path = folder / f"{index:05d}-{index}.png"
        path.write_bytes(a1111_png(prompt, index))
        files.append(str(path))
    page.goto(f"{base}/")
    page.locator("#upload-files").set_input_files(files)
    expect(page.get_by_text("Imported 3 of 3.")).to_be_visible()
    page.get_by_role("searchbox").fill("teapot")
    page.get_by_role("searchbox").press("Enter")
    expect(page.locator("main .tile")).to_have_count(2)
    expect(page.get_by_alt_text("copper teapot on a windowsill")).to_be_visible()

    # -- a deleted user leaves no file behind ---------------------------------------------------
    get_user_model().objects.filter(pk=user.pk).delete()
    report = services.storage_check()
    assert report.clean and report.files == 0 and report.rows == 0, report


def test_organise_screenshots(new_context, live_server, user, tmp_path):
    """The boards, a board, the trash, the selection bar, import and an image's actions; light,
    dark and phone-sized. NOVISURF_SCREENSHOTS keeps them for a person to look at."""
    out = Path(os.environ.get("NOVISURF_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    seed_generation(user, "Neon city at night, rain on the street", n=3, tags=("city",))
    generation = seed_generation(user, "Green forest by a mountain lake", n=3, tags=("nature",))
    first = generation.images.order_by("index").first()
    board = services.board_create(owner=user, name="Moodboard")
    services.board_create(owner=user, name="Empty board")
    services.board_images_add(boards=[board], images=generation.images.all())
    services.image_favourite_set(image=first, favourite=True)
    last = generation.images.order_by("index").last()
    services.images_trash(owner=user, images=Image.objects.filter(pk=last.pk))

    def shoot(page: Page, url: str, name: str, *, select: int = 0) -> None:
        page.goto(url)
        page.evaluate(DECODE_ALL_IMAGES)
        page.wait_for_function(ALL_IMAGES_LOADED, arg="main img", timeout=TIMEOUT_MS)
        for index in range(select):
            page.locator(".tile-check").nth(index).check()
        page.screenshot(path=str(out / name), full_page=True)

    for scheme in ("light", "dark"):
        page = new_context(color_scheme=scheme).new_page()
        log_in(page, base, "alice", "alice-password-123")
        shoot(page, f"{base}/", f"organise-home-selected-{scheme}.png", select=2)
        shoot(page, f"{base}/boards/", f"organise-boards-{scheme}.png")
        shoot(page, f"{base}/boards/{board.pk}/", f"organise-board-{scheme}.png")
        shoot(page, f"{base}/trash/", f"organise-trash-{scheme}.png")
        page.goto(f"{base}/images/{first.pk}/")
        page.get_by_role("button", name="Copy as API call").click()
        page.screenshot(path=str(out / f"organise-image-{scheme}.png"), full_page=True)

    phone = new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    ).new_page()
    log_in(phone, base, "alice", "alice-password-123")
    shoot(phone, f"{base}/", "organise-home-phone.png", select=1)
    shoot(phone, f"{base}/boards/", "organise-boards-phone.png")
    shoot(phone, f"{base}/trash/", "organise-trash-phone.png")
    for path in out.glob("organise-*.png"):
        assert path.stat().st_size > 0
    assert len(list(out.glob("organise-*.png"))) == 13
