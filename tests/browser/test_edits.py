"""In real Chromium: an edit made from the image page (a stroke painted on the mask) lands
linked to its parent, and the parent shows what it was edited into. Screenshots of the edit
form and the lineage, light, dark and phone."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from gallery.models import Generation, Image
from novisurf.protocol import PROCEDURAL_MODEL
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import (
    ALL_IMAGES_LOADED,
    TIMEOUT_MS,
    UUID_RE,
    log_in,
    seed_generation,
)

# The main browser tests' fixtures (Chromium, contexts, the task worker), shared by name.
browser, new_context, task_worker = journey.browser, journey.new_context, journey.task_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def paint_stroke(page: Page) -> None:
    canvas = page.locator("#mask-canvas")
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(
            box["x"] + box["width"] * (0.3 + step * 0.04),
            box["y"] + box["height"] * 0.4,
            steps=2,
        )
    page.mouse.up()


def test_an_edit_made_in_the_browser_lands_linked_to_its_parent(
    new_context, live_server, user, gallery_endpoint, task_worker, tmp_path
):
    out = Path(os.environ.get("NOVISURF_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    prompt = "A calm harbour with fishing boats at noon"
    parent = seed_generation(user, prompt, n=1).images.get()
    base = live_server.url

    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(page, base, "alice", "alice-password-123")
    page.goto(f"{base}/images/{parent.pk}/")
    expect(page.get_by_text("Edited into")).to_have_count(0)
    form = page.locator("#edit-panel")
    expect(form).to_be_hidden()
    page.get_by_role("button", name="Edit", exact=True).click()
    expect(form).to_be_visible()
    expect(page.get_by_role("button", name="Edit", exact=True)).to_have_attribute(
        "aria-expanded", "true"
    )
    page.get_by_label("What to change", exact=True).fill("a red lighthouse on the pier")
    paint_stroke(page)
    expect(page.get_by_text("Painted: only the painted part will change.")).to_be_visible()
    page.screenshot(path=str(out / "edit-form-light.png"), full_page=True)
    page.get_by_role("button", name="Make the edit", exact=True).click()

    expect(page).to_have_url(re.compile(rf"/generations/{UUID_RE}/$"))
    edit = Generation.objects.get(kind=Generation.Kind.EDIT)
    assert edit.parent_image_id == parent.pk
    assert edit.model == PROCEDURAL_MODEL
    # The painted stroke is the mask's transparent part; the rest is opaque.
    from PIL import Image as PILImage

    with edit.mask.open("rb") as handle:
        mask = PILImage.open(io.BytesIO(handle.read()))
        assert mask.size == (parent.width, parent.height)
        alpha = mask.convert("RGBA").getchannel("A")
        assert alpha.getpixel((int(parent.width * 0.5), int(parent.height * 0.4))) == 0
        assert alpha.getpixel((5, 5)) == 255

    task_worker.start()
    expect(page.get_by_role("status")).to_have_text("Done")
    region = page.get_by_role("region", name="Images of this generation")
    region.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(rf"/images/{UUID_RE}/$"))
    child = Image.objects.get(generation=edit)
    assert str(child.pk) in page.url
    made_from = page.get_by_role("link", name=re.compile("^Made from: " + re.escape(prompt)))
    expect(page.get_by_role("heading", name="Made from")).to_be_visible()
    expect(made_from).to_be_visible()
    page.wait_for_function(ALL_IMAGES_LOADED, arg="main img", timeout=TIMEOUT_MS)
    page.screenshot(path=str(out / "lineage-child-light.png"), full_page=True)
    made_from.click()
    expect(page).to_have_url(f"{base}/images/{parent.pk}/")
    expect(page.get_by_role("heading", name="Edited into")).to_be_visible()
    edited_into = page.get_by_role("link", name=re.compile("^Edited into: a red lighthouse"))
    expect(edited_into).to_have_count(1)
    page.wait_for_function(ALL_IMAGES_LOADED, arg="main img", timeout=TIMEOUT_MS)
    page.screenshot(path=str(out / "lineage-parent-light.png"), full_page=True)

    # Dark, and a phone: the open form and the lineage, for a person to look at.
    for name, options in (
        ("dark", {"color_scheme": "dark", "viewport": {"width": 1280, "height": 900}}),
        (
            "phone",
            {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
        ),
    ):
        other = new_context(**options).new_page()
        log_in(other, base, "alice", "alice-password-123")
        other.goto(f"{base}/images/{parent.pk}/?edit")
        expect(other.locator("#edit-panel")).to_be_visible()
        other.wait_for_function(ALL_IMAGES_LOADED, arg="main img", timeout=TIMEOUT_MS)
        paint_stroke(other)
        other.screenshot(path=str(out / f"edit-form-{name}.png"), full_page=True)
