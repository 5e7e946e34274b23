"""In real Chromium, as a person who lives in the gallery: cancel a generation, make and revoke
a key, reach the images by keyboard and on a phone, generate without leaving, keep one's place,
compare and zoom, and see every parameter. Screenshots light, dark and phone-sized go to the
folder NOVISURF_SCREENSHOTS names (else the test's own)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from gallery.models import Generation
from novisurf.protocol import PROCEDURAL_MODEL
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import log_in

# The main browser tests' fixtures (Chromium, contexts, a page), shared rather than copied.
browser, new_context, page = journey.browser, journey.new_context, journey.page
task_worker = journey.task_worker

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


def test_a_new_key_is_shown_once_copied_and_revoked_only_when_confirmed(
    new_context, live_server, user, shots
):
    from api.models import ApiKey

    for scheme in ("light", "dark"):
        for screen, options in SCREENS.items():
            context = new_context(color_scheme=scheme, **options)
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = context.new_page()
            log_in(page, live_server.url, "alice", PASSWORD)
            page.goto(f"{live_server.url}/keys/")
            page.get_by_label("Label").fill(f"laptop {scheme} {screen}")
            page.get_by_role("button", name="Create key").click()
            expect(page).to_have_url(f"{live_server.url}/keys/")  # redirected: a reload is a GET
            key = page.locator("#new-key").inner_text()
            assert key.startswith("dkai_")
            page.get_by_role("button", name="Copy", exact=True).click()
            expect(page.locator(".copy-note")).to_have_text("Copied to the clipboard.")
            assert page.evaluate("navigator.clipboard.readText()") == key
            page.screenshot(path=str(shots / f"keys-new-{screen}-{scheme}.png"), full_page=True)
            page.reload()
            expect(page.locator("#new-key")).to_have_count(0)
            page.close()
    assert ApiKey.objects.filter(owner=user).count() == 4  # one per press, none per reload

    page = new_context().new_page()
    log_in(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}/keys/")
    first = ApiKey.objects.filter(owner=user).order_by("created_at").first()
    page.get_by_role("link", name=f"Revoke key {first.prefix}…").click()
    expect(page.get_by_role("heading", name=f"Revoke key {first.prefix}…?")).to_be_visible()
    page.screenshot(path=str(shots / "keys-revoke-confirm-desktop-light.png"))
    page.get_by_role("link", name="Keep it").click()
    first.refresh_from_db()
    assert first.revoked_at is None
    page.get_by_role("link", name=f"Revoke key {first.prefix}…").click()
    page.get_by_role("button", name="Revoke", exact=True).click()
    expect(page.get_by_text(f"Key {first.prefix}… is revoked")).to_be_visible()
    first.refresh_from_db()
    assert first.revoked_at is not None


def test_the_usage_page_says_a_dash_not_none(page, live_server, user, shots):
    Generation.objects.create(
        owner=user,
        prompt="a fox",
        model="dall-e-2",
        n=1,
        size="256x256",
        response_format="url",
        status=Generation.Status.FAILED,
    )
    log_in(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}/usage/")
    expect(page.locator("main")).not_to_contain_text("None")
    expect(page.locator("main td").first).to_be_visible()
    page.screenshot(path=str(shots / "usage-desktop-light.png"))


def seed_busy_gallery(user) -> None:
    """A gallery with everything the home page can show above its images: recent generations
    (queued, running, failed), tags, favourites."""
    from tests.browser.test_gallery import seed_generation

    for index in range(3):
        seed_generation(user, f"Harbour lights number {index}", n=2, tags=("harbour", f"t{index}"))
    queued(user, "A queued lighthouse in fog, waiting its turn")
    running = queued(user, "A running desert caravan at dusk")
    Generation.objects.filter(pk=running.pk).update(status=Generation.Status.RUNNING)
    failed = queued(user, "A failed attempt at a glass whale")
    Generation.objects.filter(pk=failed.pk).update(
        status=Generation.Status.FAILED, error="Your prompt was rejected by the safety system."
    )


def test_on_a_phone_the_first_image_is_on_the_first_screen(new_context, live_server, user, shots):
    seed_busy_gallery(user)
    for scheme in ("light", "dark"):
        page = new_context(color_scheme=scheme, **SCREENS["phone"]).new_page()
        log_in(page, live_server.url, "alice", PASSWORD)
        for name, path in (("home", "/"), ("tag", "/?tag=harbour"), ("search", "/?q=harbour")):
            page.goto(f"{live_server.url}{path}")
            first = page.locator("main .tile img").first
            expect(first).to_be_visible()
            box = first.bounding_box()
            page.screenshot(path=str(shots / f"phone-first-screen-{name}-{scheme}.png"))
            assert box["y"] + min(box["height"], 120) <= 844, (name, box)
        page.close()


def test_the_keyboard_reaches_the_images_at_once_and_walks_them_with_arrows(
    page, live_server, user, shots
):
    seed_busy_gallery(user)
    log_in(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}/")
    page.wait_for_load_state("load")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to images")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.screenshot(path=str(shots / "keyboard-skip-link-desktop-light.png"))
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    tiles = page.locator("main .tile .tile-link")
    expect(tiles.nth(0)).to_be_focused()
    # One stop per tile: the next Tab is the next tile, not its checkbox or star.
    page.keyboard.press("Tab")
    expect(tiles.nth(1)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(tiles.nth(2)).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(tiles.nth(1)).to_be_focused()
    page.keyboard.press("Home")
    expect(tiles.nth(0)).to_be_focused()
    page.keyboard.press("ArrowDown")
    first_y = tiles.nth(0).bounding_box()["y"]
    focused_y = page.evaluate("document.activeElement.getBoundingClientRect().y")
    assert focused_y > first_y  # a row down
    page.keyboard.press("ArrowUp")
    expect(tiles.nth(0)).to_be_focused()
    # The tile's own controls are keys away, not Tab stops: Space selects, F stars.
    page.keyboard.press("Space")
    expect(page.locator("main .tile .tile-check").nth(0)).to_be_checked()
    page.screenshot(path=str(shots / "keyboard-tile-selected-desktop-light.png"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/images/"))


def test_generate_keeps_me_in_the_gallery_and_queues_prompts_in_a_row(
    new_context, live_server, user, gallery_endpoint, task_worker, shots
):
    from tests.browser.test_gallery import seed_generation

    seed_generation(user, "An old harbour at dusk", n=2)
    page = new_context().new_page()
    log_in(page, live_server.url, "alice", PASSWORD)
    prompt_field = page.get_by_label("Prompt", exact=True)
    prompts = ["A paper boat on a puddle", "A paper boat on a river", "A paper boat at sea"]
    page.get_by_role("button", name="Options", exact=True).click()
    page.get_by_label("Number of images", exact=True).fill("2")
    page.get_by_role("button", name="Options", exact=True).click()
    for prompt in prompts:
        prompt_field.fill(prompt)
        page.get_by_role("button", name="Generate", exact=True).click()
        entry = page.locator("#recent-list .recent-entry").filter(has_text=prompt)
        expect(entry.locator(".status")).to_have_text("Queued")
        expect(prompt_field).to_have_value(prompt)  # kept for a variation
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("#generate-note")).to_contain_text("Queued: “A paper boat at sea”")
    expect(page.locator("#recent-list .recent-slot")).to_have_count(6)
    page.screenshot(path=str(shots / "generate-inline-queued-desktop-light.png"))

    page.evaluate("window.__novisurfMarker = 1")
    task_worker.start()
    gallery = page.get_by_role("region", name="Your gallery")
    for prompt in prompts:
        expect(gallery.get_by_alt_text(prompt, exact=True)).to_have_count(2)
        entry = page.locator("#recent-list .recent-entry").filter(has_text=prompt)
        expect(entry.locator(".status")).to_have_text("Done")
    assert page.evaluate("window.__novisurfMarker") == 1, "the page was reloaded"
    # The newest at the top of the listing.
    first_alt = gallery.locator(".tile img").first.get_attribute("alt")
    assert first_alt == prompts[-1]
    assert Generation.objects.filter(owner=user).count() == 4
    page.screenshot(path=str(shots / "generate-inline-done-desktop-light.png"))
    for scheme in ("light", "dark"):
        phone = new_context(color_scheme=scheme, **SCREENS["phone"]).new_page()
        log_in(phone, live_server.url, "alice", PASSWORD)
        phone.screenshot(path=str(shots / f"generate-inline-phone-{scheme}.png"))
        phone.close()


def seed_many(user, count: int, *, tag: str = "sea") -> list:
    """``count`` small images, newest first, every one tagged ``tag``."""
    from datetime import timedelta

    from django.utils import timezone

    from gallery import services
    from gallery.models import Image
    from tests.browser.test_gallery import png_bytes

    generation = Generation.objects.create(
        owner=user,
        prompt="Waves",
        model=PROCEDURAL_MODEL,
        n=count,
        size="256x256",
        response_format="b64_json",
        status=Generation.Status.DONE,
    )
    now = timezone.now()
    for index in range(count):
        image = services.image_store(
            generation=generation, index=index, data=png_bytes(f"Wave {index}", index, 256, 256)
        )
        Image.objects.filter(pk=image.pk).update(
            prompt=f"Wave number {index}", created_at=now - timedelta(minutes=index)
        )
        services.image_tag_add(image=image, names=[tag])
    return list(Image.objects.filter(owner=user).order_by("-created_at", "-id"))


def test_my_place_is_kept_through_selection_bulk_actions_the_viewer_and_back(
    new_context, live_server, user, shots
):
    from gallery import services

    images = seed_many(user, 60)
    base = live_server.url
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}/?tag=sea")

    # Deep down the listing (more pages load as I scroll), I select two tiles: the selection
    # bar is on screen, not 3,000 px above it.
    deep = page.locator(f"#tile-{images[50].pk}")
    for _ in range(30):
        if deep.count():
            break
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(200)
    deep.scroll_into_view_if_needed()
    deep.locator(".tile-check").check()
    page.locator(f"#tile-{images[51].pk} .tile-check").check()
    bar = page.locator("#selection-bar")
    expect(bar).to_be_in_viewport()
    page.screenshot(path=str(shots / "place-sticky-selection-desktop-light.png"))

    # A bulk action: the listing comes back at the same place, the same tile in view.
    page.locator("#selection-tag").fill("deep")
    page.get_by_role("button", name="Add tag", exact=True).click()
    page.wait_for_load_state("load")
    expect(page.locator(f"#tile-{images[50].pk}")).to_be_in_viewport()
    assert "?tag=sea" in page.url

    # Open a deep tile, walk with the arrows: each replaces the history entry.
    page.locator(f"#tile-{images[40].pk} a.tile-link").click()
    expect(page).to_have_url(re.compile(rf"/images/{images[40].pk}/"))
    for index in (41, 42):
        page.wait_for_load_state("domcontentloaded")
        page.keyboard.press("ArrowRight")
        expect(page).to_have_url(re.compile(rf"/images/{images[index].pk}/"))

    # Delete (the key) shows the next image of the same listing.
    page.wait_for_load_state("domcontentloaded")
    page.keyboard.press("Delete")
    expect(page).to_have_url(re.compile(rf"/images/{images[43].pk}/\?tag=sea"))
    expect(page.get_by_role("button", name="Undo")).to_be_visible()
    assert Generation.objects.count() == 1
    images[42].refresh_from_db()
    assert images[42].trashed_at is not None

    # Back: the listing (not the images walked through), at my place, and live again.
    page.go_back()  # the trashed image's page, left by the Delete form
    page.go_back()
    expect(page).to_have_url(f"{base}/?tag=sea")
    expect(page.locator(f"#tile-{images[40].pk}")).to_be_in_viewport()
    page.screenshot(path=str(shots / "place-back-desktop-light.png"))
    newest = services.image_store(
        generation=Generation.objects.create(
            owner=user,
            prompt="A fresh wave",
            model=PROCEDURAL_MODEL,
            n=1,
            size="256x256",
            response_format="b64_json",
            tag_names=["sea"],
        ),
        index=0,
        data=journey.png_bytes("A fresh wave", 0, 256, 256),
    )
    services.image_tag_add(image=newest, names=["sea"])
    expect(page.locator(f"#tile-{newest.pk}")).to_have_count(1)


def test_compare_two_selected_images_and_zoom_the_viewer(new_context, live_server, user, shots):
    from gallery import services
    from tests.factories import distinct_png

    def imported(seed: int):
        parameters = (
            f"a copper teapot on a windowsill\nNegative prompt: blurry\nSteps: 28, Sampler: "
            f"DPM++ 2M, CFG scale: 6.5, Seed: {seed}, Size: 640x480, Model: dreamshaper_8"
        )
        data = distinct_png((640, 480), text={"parameters": parameters})
        return services.image_import(owner=user, data=data, filename="teapot.png").image

    first, second = imported(1250021385), imported(7)
    base = live_server.url
    for scheme in ("light", "dark"):
        for screen, options in SCREENS.items():
            page = new_context(color_scheme=scheme, **options).new_page()
            log_in(page, base, "alice", PASSWORD)
            compare = page.get_by_role("button", name="Compare", exact=True)
            expect(compare).to_be_hidden()
            page.locator(f"#tile-{first.pk} .tile-check").check()
            expect(compare).to_be_hidden()  # one image: nothing to compare with
            page.locator(f"#tile-{second.pk} .tile-check").check()
            compare.click()
            expect(page).to_have_url(re.compile(r"/compare\?"))
            expect(page.get_by_role("status")).to_have_text(re.compile("1 parameter differs"))
            expect(page.get_by_alt_text("a copper teapot on a windowsill")).to_have_count(2)
            seed_row = page.locator("tr.differs")
            expect(seed_row).to_have_count(1)
            expect(seed_row).to_contain_text("Seed")
            expect(seed_row).to_contain_text("1250021385")
            page.screenshot(path=str(shots / f"compare-{screen}-{scheme}.png"), full_page=True)
            page.get_by_role("link", name="← Back to the gallery").click()
            expect(page).to_have_url(f"{base}/")
            page.close()

    # The viewer zooms: "Zoom in", the wheel where it points, a drag pans, "Fit" undoes it.
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}/images/{first.pk}/")
    image = page.locator("img.main-image")
    zoom = lambda: float(image.get_attribute("data-zoom"))  # noqa: E731
    expect(page.get_by_role("button", name="Fit", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Zoom in", exact=True).click()
    assert zoom() == 1.5
    box = image.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.wheel(0, -300)
    page.wait_for_function("document.querySelector('img.main-image').dataset.zoom > 3")
    before = image.evaluate("(el) => el.style.transform")
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    assert image.evaluate("(el) => el.style.transform") != before  # panned
    expect(page).to_have_url(re.compile(rf"/images/{first.pk}/$"))  # a drag opens nothing
    page.screenshot(path=str(shots / "viewer-zoomed-desktop-light.png"))
    page.get_by_role("button", name="Fit", exact=True).click()
    assert zoom() == 1
    # Two fingers pinch (pointer events, as a touch screen sends them).
    page.evaluate(
        """() => {
            const area = document.getElementById("paint-area");
            const box = area.getBoundingClientRect();
            const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
            const send = (type, id, x) => area.dispatchEvent(new PointerEvent(type, {
                pointerId: id, clientX: x, clientY: cy, bubbles: true, pointerType: "touch"}));
            send("pointerdown", 1, cx - 20); send("pointerdown", 2, cx + 20);
            send("pointermove", 1, cx - 60); send("pointermove", 2, cx + 60);
            send("pointerup", 1, cx - 60); send("pointerup", 2, cx + 60);
        }"""
    )
    assert zoom() > 2


def test_every_parameter_is_shown_carried_over_honestly_and_downloaded_as_it_came(
    new_context, live_server, user, shots, tmp_path
):
    import struct
    import zlib

    from tests.factories import distinct_png

    parameters = (
        "a copper teapot on a windowsill\nNegative prompt: blurry, lowres\nSteps: 28, Sampler: "
        "DPM++ 2M, CFG scale: 6.5, Seed: 1250021385, Size: 640x480, Model: dreamshaper_8"
    )
    png = distinct_png((640, 480), text={"parameters": parameters})
    body = struct.pack(">HBBBBB", 2020, 5, 17, 14, 3, 22)  # the file's own date: tIME
    chunk = struct.pack(">I", 7) + b"tIME" + body + struct.pack(">I", zlib.crc32(b"tIME" + body))
    png = png[:33] + chunk + png[33:]
    path = tmp_path / "00042-1250021385.png"
    path.write_bytes(png)

    base = live_server.url
    page = new_context().new_page()
    log_in(page, base, "alice", PASSWORD)
    page.locator("#upload-files").set_input_files(str(path))
    expect(page.get_by_text("Imported 1 of 1.")).to_be_visible()
    page.reload()
    expect(page.locator("section.day").first).to_have_attribute("data-day", "2020-05-17")
    page.get_by_alt_text("a copper teapot on a windowsill").click()

    info = page.locator(".image-info")
    for label, value in (
        ("Negative prompt", "blurry, lowres"),
        ("Seed", "1250021385"),
        ("Steps", "28"),
        ("Sampler", "DPM++ 2M"),
        ("CFG scale", "6.5"),
        ("Model", "dreamshaper_8"),
        ("Source", "Imported from 00042-1250021385.png"),
    ):
        row = info.locator(".params > div").filter(has=page.locator("dt", has_text=label))
        expect(row.first.locator("dd")).to_contain_text(value)
    image_url = page.url

    with page.expect_download() as download:
        page.get_by_role("link", name="Download", exact=True).click()
    saved = tmp_path / "downloaded.png"
    download.value.save_as(saved)
    assert saved.read_bytes() == png  # its own parameters chunk, byte for byte

    page.get_by_role("button", name="Copy as API call").click()
    expect(page.locator("#api-call")).to_contain_text("Left out:")
    expect(page.locator("#api-call-curl")).not_to_contain_text("dreamshaper_8")
    page.get_by_role("link", name="Use these settings").click()
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a copper teapot on a windowsill")
    dropped = page.locator(".from-dropped")
    expect(dropped).to_contain_text("Not carried over:")
    expect(dropped).to_contain_text("dreamshaper_8")
    expect(dropped).to_contain_text("Negative prompt, Seed, Steps, Sampler, CFG scale")
    page.screenshot(path=str(shots / "use-these-settings-desktop-light.png"))

    for scheme in ("light", "dark"):
        for screen, options in SCREENS.items():
            view = new_context(color_scheme=scheme, **options).new_page()
            log_in(view, base, "alice", PASSWORD)
            view.goto(image_url)
            view.screenshot(
                path=str(shots / f"image-parameters-{screen}-{scheme}.png"), full_page=True
            )
            view.close()
