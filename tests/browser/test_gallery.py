"""End to end in real Chromium: log in, generate, watch images arrive, tag, filter, download.

The pages are served by Django's live server; generations run through the real task queue
(``django_tasks_db``), worked by a ``db_worker`` Worker in a background thread, and call the
endpoint over HTTP, as in production. What is checked is what a person notices on the page.
"""

from __future__ import annotations

import base64
import io
import os
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from PIL import Image as PILImage
from playwright.sync_api import Page, expect, sync_playwright

from api.renderers.procedural import compose
from gallery import services
from gallery.models import Generation, Image, Tag, TaggedImage
from novisurf.protocol import MODELS, PROCEDURAL_MODEL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SAFETY_MESSAGE = "Your prompt was rejected by the safety system."


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's Chromium is not installed; `make test` installs it.")
        pytest.skip("Debian's Chromium is not installed (make browser)")
    # Playwright's sync API runs an event loop in this thread, and Django refuses synchronous
    # database calls from a thread with a running loop. This is the documented way out for
    # tests that drive a browser; nothing here is async code. Only for this module's tests.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_context(browser):
    """Make fresh browser contexts (own cookies, own options); all closed after the test."""
    contexts = []

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context) -> Page:
    return new_context().new_page()


class TaskWorker:
    """A real ``db_worker`` in a thread, started when the test says so."""

    def __init__(self) -> None:
        self.worker = Worker(
            queue_names=["default"],
            interval=0.1,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="test-worker",
            excluded_queue_names=[],
        )
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()  # this thread's own connection to the shared test database

    def start(self) -> None:
        assert self.thread is None, "the worker is already running"
        self.thread = threading.Thread(target=self._run, name="test-db-worker", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread is None:
            return
        self.worker.running = False
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the task worker did not stop"
        if self.error is not None:
            raise AssertionError(f"the task worker crashed: {self.error!r}") from self.error


@pytest.fixture
def task_worker(transactional_db):
    """The worker is started by the test, once the page is watching, so that the page is
    seen to change by itself; it is stopped before the database is flushed."""
    worker = TaskWorker()
    yield worker
    worker.stop()


# -- helpers -------------------------------------------------------------------------------------


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(f"{base_url}/")


def png_bytes(prompt: str, index: int, width: int = 512, height: int = 512) -> bytes:
    buffer = io.BytesIO()
    compose(prompt, index, width, height).convert("RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def seed_generation(owner, prompt: str, *, n: int = 2, tags: tuple[str, ...] = ()) -> Generation:
    """A finished generation with its images, stored the way a worker stores them."""
    generation = Generation.objects.create(
        owner=owner,
        prompt=prompt,
        model=PROCEDURAL_MODEL,
        n=n,
        size="512x512",
        response_format="b64_json",
        tag_names=list(tags),
        status=Generation.Status.DONE,
    )
    for index in range(n):
        services.image_store(generation=generation, index=index, data=png_bytes(prompt, index))
    return generation


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with PILImage.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        return rgb.size, rgb.tobytes()


def wait_until(condition, *, timeout: float = TIMEOUT_MS / 1000, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


ALL_IMAGES_LOADED = """(selector) => {
    const images = Array.from(document.querySelectorAll(selector));
    return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
}"""


DECODE_ALL_IMAGES = """async () => {
    const images = Array.from(document.querySelectorAll("img"));
    for (const image of images) {
        image.loading = "eager";
        image.decoding = "sync";
    }
    await Promise.all(images.map((image) => image.decode().catch(() => null)));
}"""


# -- the main journey ----------------------------------------------------------------------------


def test_generate_watch_tag_filter_and_download(
    page, live_server, user, api_key, gallery_endpoint, task_worker, tmp_path
):
    base = live_server.url
    prompt = "A lighthouse on a cliff at dawn, soft pastel light"

    # Not logged in: the gallery sends me to the login page, and back afterwards.
    page.goto(base)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username", exact=True).fill("alice")
    page.get_by_label("Password", exact=True).fill("alice-password-123")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(f"{base}/")
    expect(page.get_by_text("No images yet.")).to_be_visible()

    # The form, filled by its labels; the fields other than the prompt are behind "Options".
    page.get_by_label("Prompt", exact=True).fill(prompt)
    options = page.get_by_role("button", name="Options", exact=True)
    expect(options).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_label("Model", exact=True)).to_be_hidden()
    options.click()
    expect(options).to_have_attribute("aria-expanded", "true")
    page.get_by_label("Model", exact=True).select_option(label=MODELS[PROCEDURAL_MODEL].label)
    page.get_by_label("Number of images", exact=True).fill("2")
    page.get_by_label("Size", exact=True).select_option("512x512")
    page.get_by_label("Response format", exact=True).select_option("url")
    page.get_by_label("Tags", exact=True).fill("journey")
    page.get_by_role("button", name="Generate", exact=True).click()

    # The gallery stays: the generation is saved and queued before any work is done, shown at
    # the top among the recent ones, and the prompt stays for a variation.
    entry = page.locator("#recent-list .recent-entry").first
    expect(entry.locator(".status")).to_have_text(re.compile(r"^\s*(Queued|Running)\s*$"))
    expect(entry).to_contain_text(prompt[:40])
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(prompt)
    expect(page).to_have_url(f"{base}/")
    gallery_region = page.get_by_role("region", name="Your gallery")
    expect(gallery_region.get_by_alt_text(prompt)).to_have_count(0)

    # Now the worker takes the task; the page must update itself, without a reload.
    url_before = page.url
    page.evaluate("window.__novisurfMarker = 1")
    task_worker.start()

    expect(entry.locator(".status")).to_have_text("Done")
    shown = gallery_region.get_by_alt_text(prompt)
    expect(shown).to_have_count(2)
    page.wait_for_function(ALL_IMAGES_LOADED, arg="#listing img", timeout=TIMEOUT_MS)
    assert page.evaluate("window.__novisurfMarker") == 1, "the page was reloaded"
    assert page.url == url_before

    # Its own page says the same.
    entry.locator("a.recent-item").click()
    expect(page).to_have_url(re.compile(rf"/generations/{UUID_RE}/$"))
    expect(page.get_by_role("status")).to_have_text("Done")
    images_region = page.get_by_role("region", name="Images of this generation")
    expect(images_region.get_by_alt_text(prompt)).to_have_count(2)
    expect(page.get_by_text("Working on it")).to_be_hidden()
    expect(page.get_by_role("button", name="Retry")).to_be_hidden()

    # Open the first image.
    images_region.get_by_role("link").filter(has=page.get_by_alt_text(prompt)).first.click()
    expect(page).to_have_url(re.compile(rf"/images/{UUID_RE}/$"))
    image_url = page.url
    image_id = re.search(UUID_RE, image_url).group(0)
    expect(page.get_by_role("heading", name=prompt)).to_be_visible()
    page.wait_for_function(ALL_IMAGES_LOADED, arg=".image-figure img", timeout=TIMEOUT_MS)
    # The form's tag is on it.
    expect(page.get_by_role("link", name="#journey", exact=True)).to_be_visible()

    # Tag it, with Enter.
    tag_field = page.get_by_label("Add tag", exact=True)
    tag_field.fill("keeper")
    tag_field.press("Enter")
    keeper = page.get_by_role("link", name="#keeper", exact=True)
    expect(keeper).to_be_visible()
    expect(page).to_have_url(image_url)

    # Follow the tag: the gallery shows only this image.
    keeper.click()
    expect(page).to_have_url(re.compile(r"/\?tag=keeper$"))
    gallery = page.get_by_role("region", name=re.compile("Tagged"))
    expect(gallery.get_by_role("heading", level=1)).to_have_text("Tagged “keeper”")
    expect(gallery.get_by_role("img")).to_have_count(1)
    gallery.get_by_role("link").filter(has=page.get_by_alt_text(prompt)).click()
    expect(page).to_have_url(image_url + "?tag=keeper")  # the viewer keeps the listing

    # Download: a readable name, the original pixels, the parameters embedded.
    with page.expect_download() as info:
        page.get_by_role("link", name="Download", exact=True).click()
    download = info.value
    name = download.suggested_filename
    assert name.startswith("novisurf-"), name
    assert name.endswith(".png"), name
    saved = tmp_path / name
    download.save_as(saved)
    downloaded = saved.read_bytes()

    stored = Image.objects.get(pk=image_id)
    assert stored.owner == user
    with stored.file.open("rb") as handle:
        original = handle.read()
    assert pixels(downloaded) == pixels(original)
    assert pixels(downloaded)[0] == (512, 512)

    # The same request made to the endpoint directly gives the same picture for this index.
    answer = requests.post(
        f"{gallery_endpoint}/images/generations",
        headers={"Authorization": f"Bearer {api_key}"},
        json={
            "prompt": prompt,
            "model": PROCEDURAL_MODEL,
            "n": 2,
            "size": "512x512",
            "response_format": "b64_json",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    direct = base64.b64decode(answer.json()["data"][stored.index]["b64_json"])
    assert pixels(downloaded) == pixels(direct)
    # … and that is the procedural renderer's picture for this prompt and index.
    expected = compose(prompt, stored.index, 512, 512).convert("RGB")
    assert pixels(downloaded)[1] == expected.tobytes()

    with PILImage.open(saved) as png:
        assert png.format == "PNG"
        parameters = png.text["parameters"]
    assert parameters.startswith(f"{prompt}\n"), parameters
    assert "Size: 512x512" in parameters


# -- privacy -------------------------------------------------------------------------------------


def test_another_user_sees_none_of_alices_images(new_context, live_server, user, other_user):
    base = live_server.url
    prompt = "Alice's private sunset over the ocean"
    generation = seed_generation(user, prompt, n=2)
    image = generation.images.order_by("index").first()

    # Alice sees her image (so what Bob misses is really there).
    alice = new_context().new_page()
    log_in(alice, base, "alice", "alice-password-123")
    expect(alice.get_by_alt_text(prompt)).to_have_count(2)
    alice.goto(f"{base}/images/{image.pk}/")
    expect(alice.get_by_role("heading", name=prompt)).to_be_visible()

    bob = new_context().new_page()
    log_in(bob, base, "bob", "bob-password-123")
    expect(bob.get_by_text("No images yet.")).to_be_visible()
    expect(bob.get_by_alt_text(prompt)).to_have_count(0)
    expect(bob.get_by_text(prompt)).to_have_count(0)
    expect(bob.get_by_role("link", name=re.compile("private sunset"))).to_have_count(0)

    response = bob.goto(f"{base}/images/{image.pk}/")
    assert response is not None and response.status == 404
    expect(bob.get_by_role("heading", name="Not found")).to_be_visible()
    expect(bob.get_by_text(prompt)).to_have_count(0)

    response = bob.goto(f"{base}/generations/{generation.pk}/")
    assert response is not None and response.status == 404
    expect(bob.get_by_role("heading", name="Not found")).to_be_visible()

    # Nor the files, with Bob's cookies.
    for suffix in ("original", "thumbnail", "download"):
        answer = bob.request.get(f"{base}/images/{image.pk}/{suffix}")
        assert answer.status == 404, (suffix, answer.status)


# -- a failure, in words -------------------------------------------------------------------------


def test_a_failed_generation_says_why_and_offers_retry(
    page, live_server, user, settings, httpserver, task_worker
):
    httpserver.expect_request("/v1/models", method="GET").respond_with_json(
        {"object": "list", "data": [{"id": PROCEDURAL_MODEL, "object": "model"}]}
    )
    httpserver.expect_request("/v1/images/generations", method="POST").respond_with_json(
        {
            "error": {
                "message": SAFETY_MESSAGE,
                "type": "invalid_request_error",
                "param": "prompt",
                "code": "content_policy_violation",
            }
        },
        status=400,
    )
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = "sk-test-key"
    settings.NOVISURF_AUTH_HEADER = "bearer"
    prompt = "A knight in shining armour, under a red moon"

    log_in(page, live_server.url, "alice", "alice-password-123")
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_role("button", name="Generate", exact=True).click()
    # The gallery stays and shows it queued; then it fails and says why, in the gallery.
    entry = page.locator("#recent-list .recent-entry").first
    expect(entry.locator(".status")).to_have_text(re.compile(r"^\s*(Queued|Running)\s*$"))
    expect(entry.get_by_role("button", name=re.compile("^Retry"))).to_have_count(0)
    page.evaluate("window.__novisurfMarker = 1")
    task_worker.start()
    expect(entry.locator(".status")).to_have_text("Failed")
    expect(entry).to_contain_text(SAFETY_MESSAGE)
    expect(entry.get_by_role("button", name=re.compile("^Retry"))).to_be_visible()
    assert page.evaluate("window.__novisurfMarker") == 1, "the page was reloaded"

    # Its page says the same, with the whole reason.
    entry.locator("a.recent-item").click()
    expect(page).to_have_url(re.compile(rf"/generations/{UUID_RE}/$"))
    status = page.get_by_role("status")
    retry = page.get_by_role("button", name="Retry", exact=True)
    url_before = page.url
    expect(status).to_have_text("Failed")
    expect(page.get_by_role("alert")).to_contain_text(SAFETY_MESSAGE)
    expect(retry).to_be_visible()
    expect(page.get_by_text(prompt, exact=True)).to_be_visible()
    expect(page.get_by_text("Working on it")).to_be_hidden()

    # Only one call: a 400 is not retried.
    def generation_calls() -> int:
        return sum(1 for request, _ in httpserver.log if request.path == "/v1/images/generations")

    assert generation_calls() == 1
    sent = next(r for r, _ in httpserver.log if r.path == "/v1/images/generations").get_json()
    assert sent["prompt"] == prompt

    # Retry runs the same prompt again, and says why again.
    with page.expect_navigation():
        retry.click()
    expect(page).to_have_url(url_before)
    wait_until(lambda: generation_calls() == 2, what="the retried call")
    expect(status).to_have_text("Failed")
    expect(page.get_by_role("alert")).to_contain_text(SAFETY_MESSAGE)
    expect(page.get_by_text(prompt, exact=True)).to_be_visible()
    generation = Generation.objects.get(owner=user)
    assert generation.attempts == 2


# -- bad form input ------------------------------------------------------------------------------


def test_an_empty_prompt_is_explained_and_the_rest_is_kept(page, live_server, user):
    log_in(page, live_server.url, "alice", "alice-password-123")
    page.get_by_label("Prompt", exact=True).fill("")
    page.get_by_role("button", name="Options", exact=True).click()
    page.get_by_label("Number of images", exact=True).fill("3")
    page.get_by_label("Size", exact=True).select_option("512x512")
    page.get_by_label("Tags", exact=True).fill("kept, values")
    page.get_by_role("button", name="Generate", exact=True).click()

    prompt_field = page.locator(".field").filter(has=page.get_by_label("Prompt", exact=True))
    expect(prompt_field.get_by_role("alert")).to_have_text("This field is required.")
    expect(page.get_by_role("alert")).to_have_count(1)
    expect(page.get_by_label("Tags", exact=True)).to_have_value("kept, values")
    expect(page.get_by_label("Number of images", exact=True)).to_have_value("3")
    expect(page.get_by_label("Size", exact=True)).to_have_value("512x512")
    assert not Generation.objects.exists()


# -- the gallery people live in -------------------------------------------------------------------

SHAPES = [(1024, 1024), (1792, 1024), (1024, 1792)]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def seed_mixed(owner, count: int, *, tag_every: int = 4) -> list[Image]:
    """``count`` images of mixed shapes (square, 1792x1024, 1024x1792) over the last days.

    Three are stored through the service (real files and thumbnails); the rest are rows that
    share those files, as many images would look to the gallery, made in one query.
    """
    models = []
    for index, (width, height) in enumerate(SHAPES):
        generation = Generation.objects.create(
            owner=owner,
            prompt=f"Shape {width}x{height}",
            model=PROCEDURAL_MODEL,
            n=1,
            size=f"{width}x{height}",
            response_format="b64_json",
            status=Generation.Status.DONE,
        )
        data = png_bytes(f"shape {index}", index, width, height)
        models.append(services.image_store(generation=generation, index=0, data=data))
    now = timezone.now()
    rows = []
    for i in range(count - len(models)):
        model = models[i % len(models)]
        rows.append(
            Image(
                owner=owner,
                generation=None,
                index=0,
                file=model.file.name,
                thumbnail=model.thumbnail.name,
                width=model.width,
                height=model.height,
                thumbnail_width=model.thumbnail_width,
                thumbnail_height=model.thumbnail_height,
                format=model.format,
                file_size=model.file_size,
                content_hash=model.content_hash,
                prompt=f"Picture {i}: {PROMPTS[i % len(PROMPTS)]}",
                model=model.model,
                size=model.size,
                # A few a day, back over many days: Today, Yesterday, then dates.
                created_at=now - timedelta(minutes=1 + i * 37),
            )
        )
    made = Image.objects.bulk_create(rows, batch_size=500)
    tag, _ = Tag.objects.get_or_create(owner=owner, name="ocean")
    TaggedImage.objects.bulk_create(
        [TaggedImage(tag=tag, content_object=image) for image in made[::tag_every]]
    )
    return models + made


PROMPTS = [
    "a lighthouse over a stormy ocean at dusk",
    "mountains above a quiet lake, morning fog",
    "a neon street in the rain, reflections",
    "sunflowers in a field under a blue sky",
    "a fox asleep in fresh snow",
]


def test_the_gallery_opens_on_images_each_whole(new_context, live_server, user):
    seed_mixed(user, 60)
    base = live_server.url
    for viewport in ({"width": 1440, "height": 900}, {"width": 390, "height": 844}):
        page = new_context(viewport=viewport).new_page()
        log_in(page, base, "alice", "alice-password-123")
        tiles = page.locator("li.tile img")
        expect(tiles.first).to_be_visible()
        # The images on the first screen load (the lazy ones below it need not).
        page.wait_for_function(
            """() => Array.from(document.querySelectorAll("li.tile img"))
                .filter((i) => i.getBoundingClientRect().top < window.innerHeight)
                .every((i) => i.complete && i.naturalWidth > 0)""",
            timeout=TIMEOUT_MS,
        )
        boxes = page.evaluate(
            """() => Array.from(document.querySelectorAll("li.tile img"))
                .filter((i) => i.getBoundingClientRect().top < window.innerHeight).map((i) => {
                const r = i.getBoundingClientRect();
                return {top: r.top, bottom: r.bottom, width: r.width, height: r.height,
                        ratio: i.naturalWidth / i.naturalHeight};
            })"""
        )
        # Every image whole: the box keeps the picture's own aspect ratio (no crop).
        for box in boxes:
            assert abs(box["width"] / box["height"] - box["ratio"]) / box["ratio"] < 0.03, box
        first_row = [b for b in boxes if abs(b["top"] - boxes[0]["top"]) < 1]
        if viewport["width"] == 1440:
            # The first row is entirely on the first screen, and it holds several images.
            assert len(first_row) >= 3
            assert all(b["bottom"] <= viewport["height"] for b in first_row), first_row
        else:
            # On a phone, the first images are on the first screen, whole.
            assert boxes[0]["bottom"] <= viewport["height"], boxes[0]
        # The prompt and Generate are always there.
        expect(page.get_by_label("Prompt", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Generate", exact=True)).to_be_in_viewport()


def test_each_named_field_and_button_of_the_contract_is_found_once(page, live_server, user):
    """A person (or a test) who asks for "Tags" or "Select all" finds exactly one thing, as
    Playwright's label and role lookups match by substring: no other field may share the word."""
    seed_mixed(user, 6)
    log_in(page, live_server.url, "alice", "alice-password-123")
    page.goto(live_server.url + "/")
    for label in ("Prompt", "Model", "Number of images", "Size", "Response format", "Tags"):
        assert page.get_by_label(label).count() == 1, label
    for name in ("Generate", "Options", "Select all"):
        assert page.get_by_role("button", name=name).count() == 1, name
    expect(page.get_by_role("link", name="Favourites")).to_have_count(1)
    page.get_by_role("checkbox", name="Select").first.check()
    for name in ("Download ZIP", "Move to trash", "Add tag", "Add to board"):
        assert page.get_by_role("button", name=name).count() == 1, name


def test_more_images_load_as_you_scroll_and_older_works_without_script(
    new_context, live_server, user, settings
):
    settings.GALLERY_PAGE_SIZE = 30
    seed_mixed(user, 75)
    base = live_server.url
    page = new_context(viewport={"width": 1440, "height": 900}).new_page()
    log_in(page, base, "alice", "alice-password-123")
    expect(page.locator("li.tile")).to_have_count(30)
    for _ in range(6):
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(200)
    expect(page.locator("li.tile")).to_have_count(75)
    ids = page.eval_on_selector_all("li.tile", "(tiles) => tiles.map((t) => t.id)")
    assert len(set(ids)) == 75
    # One heading per day, however many pages were joined.
    days = page.eval_on_selector_all("section.day", "(s) => s.map((x) => x.dataset.day)")
    assert len(days) == len(set(days))

    plain = new_context(java_script_enabled=False).new_page()
    log_in(plain, base, "alice", "alice-password-123")
    expect(plain.locator("li.tile")).to_have_count(30)
    plain.get_by_role("link", name="Older →").click()
    expect(plain.locator("li.tile")).to_have_count(30)
    expect(plain.get_by_role("link", name="← Newer")).to_be_visible()


def test_the_viewer_walks_a_tags_images_with_the_keys_and_escape_returns(page, live_server, user):
    images = seed_mixed(user, 40, tag_every=3)
    tagged = list(
        Image.objects.filter(owner=user, tagged_items__tag__name="ocean").order_by(
            "-created_at", "-id"
        )
    )
    assert len(tagged) >= 5 and len(tagged) < len(images)
    base = live_server.url
    log_in(page, base, "alice", "alice-password-123")
    page.goto(f"{base}/?tag=ocean")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tagged “ocean”")

    # Keyboard only: Tab to the second tile's link, Enter opens it.
    second = page.locator(f"#tile-{tagged[1].pk} a.tile-link")
    second.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/images/{tagged[1].pk}/?tag=ocean")
    expect(page.get_by_role("heading", level=1)).to_have_text(tagged[1].prompt)

    # Each key is pressed once the page's scripts run (deferred scripts have run by
    # DOMContentLoaded): a key pressed while the page still loads is no key at all.
    for key, index in (("ArrowRight", 2), ("ArrowRight", 3), ("ArrowLeft", 2)):
        page.wait_for_load_state("domcontentloaded")
        page.keyboard.press(key)
        expect(page).to_have_url(f"{base}/images/{tagged[index].pk}/?tag=ocean")

    # Escape: back to the tag's listing, at this image's tile.
    page.wait_for_load_state("domcontentloaded")
    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(rf"/\?tag=ocean&at=[^#]+#tile-{tagged[2].pk}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Tagged “ocean”")
    expect(page.locator(f"#tile-{tagged[2].pk}")).to_be_in_viewport()
    shown = page.eval_on_selector_all("li.tile", "(t) => t.map((x) => x.dataset.imageId)")
    assert set(shown) <= {str(i.pk) for i in tagged}


def test_a_second_tab_shows_a_new_image_without_reload(
    new_context, live_server, user, api_key, gallery_endpoint, task_worker
):
    base = live_server.url
    seed_generation(user, "An older picture of a harbour", n=1)
    context = new_context()
    watching = context.new_page()
    log_in(watching, base, "alice", "alice-password-123")
    expect(watching.locator("li.tile")).to_have_count(1)
    watching.evaluate("window.__novisurfMarker = 1")

    # Another tab (same person) generates; the first tab only watches.
    other = context.new_page()
    other.goto(f"{base}/")
    prompt = "A paper boat on a puddle after the rain"
    other.get_by_label("Prompt", exact=True).fill(prompt)
    other.get_by_label("Prompt", exact=True).press("Control+Enter")  # the keyboard way
    # It stays in its gallery, the generation queued at the top.
    expect(other.locator("#recent-list .recent-entry").first).to_contain_text("Queued")
    expect(other).to_have_url(f"{base}/")
    task_worker.start()

    expect(watching.get_by_alt_text(prompt)).to_have_count(1)
    expect(watching.locator("li.tile")).to_have_count(2)
    assert watching.evaluate("window.__novisurfMarker") == 1, "the page was reloaded"
    # The recent generations list follows too.
    expect(watching.locator("#recent-list .recent-entry").first).to_contain_text("Done")
    expect(watching.locator("#recent-list .recent-entry").first).to_contain_text("1 of 1")


def _axe(page: Page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                               nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
        }"""
    )


def test_axe_finds_no_serious_violation_on_any_page(new_context, live_server, user, api_key):
    base = live_server.url
    generation = seed_generation(user, "Green forest by a mountain lake", n=2, tags=("nature",))
    seed_mixed(user, 30)
    failed = Generation.objects.create(
        owner=user,
        prompt="A knight under a red moon",
        model=PROCEDURAL_MODEL,
        n=1,
        size="1024x1024",
        response_format="url",
        status=Generation.Status.FAILED,
        error=SAFETY_MESSAGE,
    )
    image = generation.images.order_by("index").first()
    pages = {
        "home": "/",
        "tag and search": "/?tag=nature&q=forest",
        "no match": "/?q=giraffe",
        "generation": f"/generations/{generation.pk}/",
        "failed generation": f"/generations/{failed.pk}/",
        "image": f"/images/{image.pk}/?tag=nature",
        "delete": f"/images/{image.pk}/delete",
        "keys": "/keys/",
        "not found": f"/images/{failed.pk}/",
    }
    problems = {}
    for scheme in ("light", "dark"):
        login = new_context(color_scheme=scheme, bypass_csp=True).new_page()
        login.goto(f"{base}/accounts/login/")
        if found := _axe(login):
            problems[f"login {scheme}"] = found
        log_in(login, base, "alice", "alice-password-123")
        for name, path in pages.items():
            login.goto(f"{base}{path}")
            if found := _axe(login):
                problems[f"{name} {scheme}"] = found
        # The options open, too.
        login.goto(f"{base}/")
        login.get_by_role("button", name="Options", exact=True).click()
        if found := _axe(login):
            problems[f"home with options {scheme}"] = found
    assert not problems, problems


def test_every_tile_link_and_button_shows_a_focus_ring(new_context, live_server, user):
    seed_generation(user, "Neon city at night, rain on the street", n=2, tags=("city",))
    page = new_context().new_page()
    log_in(page, live_server.url, "alice", "alice-password-123")
    missing = []
    for selector in (
        "a.tile-link",
        ".fav-toggle",
        ".tile-check",
        "a.chip",
        "button.generate",
        ".options-toggle",
    ):
        target = page.locator(selector).first
        target.focus()
        if target.get_attribute("tabindex") == "-1":
            # A tile's checkbox and star are keys away from its link (Space, F), not Tab
            # stops: focused after a key press, as :focus-visible wants.
            page.keyboard.press("Shift")
            target.focus()
        else:
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Tab")  # a keyboard focus, as :focus-visible wants
        outline = target.evaluate(
            "(el) => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
        )
        if outline[0] == "none" or outline[1] == "0px":
            missing.append(selector)
        size = target.bounding_box()
        assert size["width"] >= 24 and size["height"] >= 24, (selector, size)
    assert not missing


# -- screenshots ---------------------------------------------------------------------------------


def test_screenshots(new_context, live_server, user, tmp_path):
    """Every page renders with its images, light and dark, desktop (1440x900) and phone
    (390x844), with 500 images of mixed shapes; NOVISURF_SCREENSHOTS names a folder to keep the
    pictures in for a person to look at."""
    out = Path(os.environ.get("NOVISURF_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    seed_mixed(user, 500)
    seed_generation(user, "Neon city at night, rain on the street", n=2, tags=("city",))
    generation = seed_generation(user, "Green forest by a mountain lake", n=3, tags=("nature",))
    image = generation.images.order_by("index").first()
    wide = Image.objects.filter(owner=user, width=1792).first()

    def shoot(page: Page, url: str, name: str, *, full: bool = False) -> None:
        page.goto(url)
        # Load and decode every image, lazy ones too, so that the picture shows them.
        page.evaluate(DECODE_ALL_IMAGES)
        if page.locator("main img").count():
            page.wait_for_function(ALL_IMAGES_LOADED, arg="main img", timeout=TIMEOUT_MS)
        page.screenshot(path=str(out / name), full_page=full)

    names = []
    screens = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
    for scheme in ("light", "dark"):
        for screen, viewport in screens.items():
            extra = {"is_mobile": True, "has_touch": True} if screen == "phone" else {}
            page = new_context(color_scheme=scheme, viewport=viewport, **extra).new_page()
            log_in(page, base, "alice", "alice-password-123")
            for name, url, full in (
                ("home", f"{base}/", False),
                ("home-full", f"{base}/", True),
                ("search", f"{base}/?tag=ocean&q=light", False),
                ("generation", f"{base}/generations/{generation.pk}/", True),
                ("image", f"{base}/images/{image.pk}/", False),
                ("image-wide", f"{base}/images/{wide.pk}/?tag=ocean", False),
                ("keys", f"{base}/keys/", True),
            ):
                filename = f"{name}-{screen}-{scheme}.png"
                shoot(page, url, filename, full=full)
                names.append(filename)
            page.goto(f"{base}/")
            page.get_by_role("button", name="Options", exact=True).click()
            page.screenshot(path=str(out / f"options-{screen}-{scheme}.png"))

    for name in names:
        assert (out / name).stat().st_size > 0
