"""In real Chromium: every kept format shows (transparent ones on a checkerboard, an animated
GIF moving), and a hostile SVG never runs and fetches nothing, on its page or opened on its
own. Screenshots, light and dark."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from gallery import services
from gallery.models import Generation
from tests.browser import test_gallery as journey
from tests.browser.test_gallery import ALL_IMAGES_LOADED, DECODE_ALL_IMAGES, TIMEOUT_MS, log_in

# The main browser tests' fixtures (Chromium, contexts), shared by name.
browser, new_context = journey.browser, journey.new_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


MARKER = "SVG-SCRIPT-RAN"


def hostile_svg(recorder: str) -> bytes:
    """Everything an SVG can do to run code or call out, each aimed at the recorder."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="320" height="200" viewBox="0 0 320 200" '
        f"onload=\"alert('{MARKER}-onload'); fetch('{recorder}/onload')\">"
        f"<style>@import url({recorder}/import.css); rect {{ fill: url({recorder}/fill); }}</style>"
        f"<script>console.log('{MARKER}'); alert('{MARKER}'); fetch('{recorder}/script');"
        f"new Image().src = '{recorder}/beacon';</script>"
        '<rect width="320" height="200" style="fill:#2a7bd6"/>'
        '<circle cx="160" cy="100" r="60" fill="#f5c542"/>'
        f'<image href="{recorder}/image.png" x="0" y="0" width="80" height="80"/>'
        f'<image xlink:href="{recorder}/xlink.png" x="240" y="0" width="80" height="80"/>'
        f'<use href="{recorder}/sprite.svg#a"/>'
        f'<a href="javascript:alert(\'{MARKER}-link\')"><rect width="40" height="40"/></a>'
        f'<foreignObject width="100" height="50"><iframe xmlns="http://www.w3.org/1999/xhtml" '
        f'src="{recorder}/iframe"></iframe></foreignObject>'
        '<animate attributeName="x" to="1" begin="0s" '
        f"onbegin=\"alert('{MARKER}-animate')\"/>"
        "</svg>"
    ).encode()


def watch(page: Page) -> list[str]:
    """Everything a script could have said: dialogs and console lines."""
    said: list[str] = []

    def on_dialog(dialog) -> None:
        said.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: said.append(f"console: {message.text}"))
    return said


def test_a_hostile_svg_never_runs_in_chromium_and_fetches_nothing(
    new_context, live_server, user, httpserver
):
    recorder = httpserver.url_for("/recorder")
    httpserver.expect_request(re.compile("^/recorder")).respond_with_data("x")
    sent = hostile_svg(recorder)
    generation = Generation.objects.create(
        owner=user,
        prompt="a hostile vector badge",
        model="gpt-image-2",
        n=1,
        size="auto",
        response_format="b64_json",
        status=Generation.Status.DONE,
    )
    image = services.image_store(generation=generation, index=0, data=sent)
    with image.file.open("rb") as handle:
        assert handle.read() == sent  # stored as sent, script and all

    page = new_context().new_page()
    said = watch(page)
    log_in(page, live_server.url, "alice", "alice-password-123")
    page.goto(f"{live_server.url}/images/{image.pk}/")
    shown = page.get_by_alt_text("a hostile vector badge").first
    expect(shown).to_be_visible()
    page.wait_for_function(ALL_IMAGES_LOADED, arg=".image-figure img", timeout=TIMEOUT_MS)
    # What the page shows is pixels (the WebP thumbnail), not the document.
    assert page.evaluate("document.querySelector('.image-figure img').src").endswith("/thumbnail")
    assert page.locator("svg script, object, embed, iframe").count() == 0

    # Opened on its own (the link on the picture), the SVG is drawn, sandboxed.
    response = page.goto(f"{live_server.url}/images/{image.pk}/original")
    assert response is not None and response.status == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert page.locator("circle").count() == 1  # it was rendered as an SVG document
    page.wait_for_timeout(1000)  # give any script, onload or animation its chance to misbehave
    page.locator("a").first.click(force=True)  # the javascript: link
    page.wait_for_timeout(300)

    assert not [line for line in said if MARKER in line], said
    hits = [request.path for request, _ in httpserver.log]
    assert hits == [], hits  # neither the thumbnail nor Chromium fetched anything


def store(owner, prompt: str, data: bytes):
    generation = Generation.objects.create(
        owner=owner,
        prompt=prompt,
        model="gpt-image-2",
        n=1,
        size="auto",
        response_format="b64_json",
        status=Generation.Status.DONE,
    )
    return services.image_store(generation=generation, index=0, data=data)


def transparent_png() -> bytes:
    picture = PILImage.new("RGBA", (320, 240), (0, 0, 0, 0))
    for i in range(6):
        picture.paste(
            (240, 90 + i * 25, 60, 255), (20 + i * 45, 40 + i * 20, 70 + i * 45, 90 + i * 20)
        )
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = []
    for i in range(8):
        frame = PILImage.new("RGB", (240, 160), (30, 40, 70))
        frame.paste((250, 200, 60), (20 + i * 25, 60, 60 + i * 25, 100))
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=90, loop=0)
    return buffer.getvalue()


BADGE = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 120">'
    b'<rect x="10" y="10" width="180" height="100" rx="24" fill="#5b5bd6"/>'
    b'<circle cx="60" cy="60" r="30" fill="#ffc53d"/></svg>'
)


def test_each_format_shows_in_tiles_and_on_its_page(new_context, live_server, user, tmp_path):
    out = Path(os.environ.get("NOVISURF_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    store(user, "transparent stepping stones", transparent_png())
    gif = store(user, "a sliding yellow block, animated", animated_gif())
    svg = store(user, "a vector badge with a sun", BADGE)
    for scheme in ("light", "dark"):
        page = new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900}).new_page()
        log_in(page, live_server.url, "alice", "alice-password-123")
        page.evaluate(DECODE_ALL_IMAGES)
        page.wait_for_function(ALL_IMAGES_LOADED, arg="main .tile img", timeout=TIMEOUT_MS)
        checkered = page.locator("main .tile img.checker")
        expect(checkered).to_have_count(2)  # the transparent PNG and the SVG
        background = checkered.first.evaluate("i => getComputedStyle(i).backgroundImage")
        assert "conic-gradient" in background
        page.screenshot(path=str(out / f"formats-home-{scheme}.png"), full_page=True)
        page.goto(f"{live_server.url}/images/{svg.pk}/")
        page.wait_for_function(ALL_IMAGES_LOADED, arg=".image-figure img", timeout=TIMEOUT_MS)
        expect(page.get_by_text("An SVG, shown as a picture.")).to_be_visible()
        page.screenshot(path=str(out / f"formats-svg-{scheme}.png"), full_page=True)
    # The animated GIF's tile is its animated WebP thumbnail; its page shows the GIF itself.
    page.goto(f"{live_server.url}/images/{gif.pk}/")
    expect(page.get_by_text("GIF (animated)")).to_be_visible()
