"""The gallery's pages, through Django's test client: forms, listings, tags, downloads, privacy."""

from __future__ import annotations

import io
import re
import socket
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage

from gallery import services
from gallery.models import Generation, Image
from tests.utils import is_stored

SECRET_KEY_VALUE = "sk-live-THIS-MUST-NEVER-BE-SHOWN-1234567890"


# -- a small DOM, enough to ask what a person sees ---------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join(" ".join(parts).split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str, **attrs) -> list[Node]:
        return [
            n
            for n in self.iter()
            if n.tag == tag and all(n.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str, **attrs) -> Node | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def ancestor(self, tag: str) -> Node | None:
        node = self.parent
        while node is not None and node.tag != tag:
            node = node.parent
        return node

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def dom(response) -> Node:
    builder = _Builder()
    builder.feed(response.content.decode())
    return builder.root


def labelled(page: Node, label_text: str) -> Node:
    """The form control a <label> with exactly this text points at."""
    labels = [label for label in page.find_all("label") if label.text == label_text]
    assert labels, f"no label {label_text!r}"
    target = labels[0].attrs["for"]
    controls = [
        n
        for n in page.iter()
        if n.tag in ("input", "select", "textarea") and n.attrs.get("id") == target
    ]
    assert len(controls) == 1, f"label {label_text!r} points at nothing"
    return controls[0]


def field_errors(control: Node) -> list[str]:
    box = control.ancestor("div")
    assert box is not None
    return [p.text for p in box.find_all("p") if "field-error" in p.classes]


def selected_value(select: Node) -> str | None:
    for option in select.find_all("option"):
        if "selected" in option.attrs:
            return option.attrs.get("value")
    return None


# -- data -------------------------------------------------------------------------------------


def patterned_png_bytes(size=(48, 32), colour=(30, 90, 200)) -> bytes:
    """Unlike ``tests.utils.png_bytes``, not one flat colour: a diagonal of distinct pixels."""
    buffer = io.BytesIO()
    image = PILImage.new("RGB", size, colour)
    for x in range(size[0]):  # a few distinct pixels so the comparison means something
        image.putpixel((x, x % size[1]), (x * 5 % 256, 255 - x % 256, 7))
    image.save(buffer, "PNG")
    return buffer.getvalue()


def failed_generation(owner, *, prompt: str, error: str, **fields) -> Generation:
    """A dall-e-3 generation that failed with ``error``."""
    return Generation.objects.create(
        owner=owner,
        prompt=prompt,
        model="dall-e-3",
        n=1,
        size="1024x1024",
        response_format="url",
        status=Generation.Status.FAILED,
        error=error,
        **fields,
    )


@pytest.fixture(autouse=True)
def _gallery_settings(settings):
    # Nothing runs in the background during these tests.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    # An endpoint that does not answer (a port nothing listens on): the form offers every
    # known model, and no page depends on a network.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.NOVISURF_API_BASE = f"http://127.0.0.1:{port}/v1"
    settings.NOVISURF_API_KEY = SECRET_KEY_VALUE
    settings.GALLERY_PAGE_SIZE = 24
    settings.NOVISURF_THUMBNAIL_SIZE = 64


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def other_client(other_user):
    client = Client()
    client.force_login(other_user)
    return client


_counter = iter(range(1_000_000))


@pytest.fixture
def make_image(user):
    """A stored image of ``owner`` (``user`` by default), made through the real service."""

    def make(
        prompt="A lighthouse on a cliff at dawn",
        *,
        owner=None,
        tags=(),
        age_minutes=None,
        size=(48, 32),
    ):
        generation = Generation.objects.create(
            owner=owner or user,
            prompt=prompt,
            model="novisurf-procedural",
            n=1,
            size="256x256",
            response_format="b64_json",
            tag_names=list(tags),
            status=Generation.Status.DONE,
        )
        image = services.image_store(
            generation=generation,
            index=0,
            data=patterned_png_bytes(size, (next(_counter) % 256, 80, 80)),
        )
        if age_minutes is not None:
            when = timezone.now() - timedelta(minutes=age_minutes)
            Image.objects.filter(pk=image.pk).update(created_at=when)
            image.refresh_from_db()
        return image

    return make


# -- login --------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["gallery:home"])
def test_home_requires_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "next=/" in response["Location"]


@pytest.mark.django_db
def test_every_gallery_page_requires_login(client, make_image):
    image = make_image()
    generation = image.generation
    pages = [
        ("get", reverse("gallery:home")),
        ("post", reverse("gallery:generate")),
        ("get", reverse("gallery:generation", args=[generation.pk])),
        ("get", reverse("gallery:generation-status", args=[generation.pk])),
        ("post", reverse("gallery:generation-retry", args=[generation.pk])),
        ("get", reverse("gallery:image", args=[image.pk])),
        ("get", reverse("gallery:image-file", args=[image.pk])),
        ("get", reverse("gallery:image-thumbnail", args=[image.pk])),
        ("get", reverse("gallery:image-download", args=[image.pk])),
        ("post", reverse("gallery:image-tag-add", args=[image.pk])),
        ("post", reverse("gallery:image-tag-remove", args=[image.pk, "x"])),
        ("get", reverse("gallery:image-delete", args=[image.pk])),
        ("post", reverse("gallery:image-delete", args=[image.pk])),
    ]
    for method, url in pages:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert Image.objects.filter(pk=image.pk).exists()


@pytest.mark.django_db
def test_login_page_has_the_named_fields(client):
    page = dom(client.get(reverse("login")))
    assert labelled(page, "Username").attrs["name"] == "username"
    assert labelled(page, "Password").attrs["name"] == "password"
    assert any(b.text == "Log in" for b in page.find_all("button"))


# -- the generation form ------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_has_the_generation_form(client_in):
    response = client_in.get(reverse("gallery:home"))
    assert response.status_code == 200
    page = dom(response)
    expected = {
        "Prompt": ("textarea", "prompt"),
        "Model": ("select", "model"),
        "Number of images": ("input", "n"),
        "Size": ("select", "size"),
        "Response format": ("select", "response_format"),
        "Tags": ("input", "tags"),
    }
    for label, (tag, name) in expected.items():
        control = labelled(page, label)
        assert (control.tag, control.attrs["name"]) == (tag, name), label
        form = control.ancestor("form")
        assert form is not None and form.attrs["action"] == reverse("gallery:generate")
        assert form.attrs["method"] == "post"
    buttons = [b for b in page.find_all("button") if b.text == "Generate"]
    assert len(buttons) == 1
    assert buttons[0].ancestor("form").attrs["action"] == reverse("gallery:generate")


@pytest.fixture
def every_model_offered():
    """The endpoint listed every model of the protocol table (as one with an upstream does)."""
    from django.core.cache import cache

    from gallery.provider_client import _models_cache_key
    from novisurf.protocol import MODELS

    cache.set(
        _models_cache_key(),
        [{"id": spec.id, "name": None, "streams": spec.streams} for spec in MODELS.values()],
    )


@pytest.mark.django_db
def test_model_menu_offers_the_built_in_model_while_the_list_is_unknown(client_in):
    page = dom(client_in.get(reverse("gallery:home")))
    select = labelled(page, "Model")
    values = [o.attrs["value"] for o in select.find_all("option")]
    assert values == ["novisurf-procedural"]
    assert selected_value(select) == "novisurf-procedural"
    # The built-in renderer says what it is.
    labels = {o.attrs["value"]: o.text for o in select.find_all("option")}
    assert "not AI" in labels["novisurf-procedural"]


@pytest.mark.django_db
def test_model_menu_offers_openais_current_models_when_the_endpoint_lists_none(
    client_in, settings, httpserver
):
    from gallery import tasks

    httpserver.expect_request("/v1/models").respond_with_data("Not Found", status=404)
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    tasks.models_refresh.call()
    select = labelled(dom(client_in.get(reverse("gallery:home"))), "Model")
    values = [o.attrs["value"] for o in select.find_all("option")]
    assert "gpt-image-2" in values
    assert "novisurf-procedural" not in values  # that provider has no built-in renderer
    assert "dall-e-3" not in values  # retired
    assert "gpt-image-2-2026-04-21" not in values  # a dated snapshot


@pytest.mark.django_db
def test_model_menu_lists_what_the_endpoint_offers_once_a_task_asked(
    client_in, settings, httpserver
):
    from django_tasks import default_task_backend

    from gallery import tasks

    httpserver.expect_request("/v1/models").respond_with_json(
        {
            "object": "list",
            "data": [
                {"id": "dall-e-3", "object": "model"},
                {"id": "gpt-4o", "object": "model"},  # not an image model: left out
                {"id": "flux-schnell", "object": "model"},
            ],
        }
    )
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    # Building the form calls nothing: the cold cache offers every known model and asks a task.
    select = labelled(dom(client_in.get(reverse("gallery:home"))), "Model")
    assert "novisurf-procedural" in [o.attrs["value"] for o in select.find_all("option")]
    assert httpserver.log == []
    assert len([r for r in default_task_backend.results if r.task.name == "models_refresh"]) == 1
    client_in.get(reverse("gallery:home"))  # one task at a time, not one per page
    assert len([r for r in default_task_backend.results if r.task.name == "models_refresh"]) == 1

    tasks.models_refresh.call()
    assert len(httpserver.log) == 1
    select = labelled(dom(client_in.get(reverse("gallery:home"))), "Model")
    assert [o.attrs["value"] for o in select.find_all("option")] == ["dall-e-3", "flux-schnell"]
    assert len(httpserver.log) == 1


@pytest.mark.django_db
def test_the_form_offers_what_the_model_accepts(client_in, every_model_offered):
    from novisurf import protocol

    page = dom(client_in.get(reverse("gallery:home")))
    specs = __import__("json").loads(page.find("script", id="model-specs").text)
    for model_id, spec in specs.items():
        assert spec["sizes"] == list(protocol.sizes_for(model_id))
        assert spec["response_format"] == protocol.accepts_response_format(model_id)
    assert specs["dall-e-3"]["max_n"] == 1
    # Without script, the server narrows the Size menu to the chosen model's sizes.
    size = labelled(page, "Size")
    values = [o.attrs["value"] for o in size.find_all("option")]
    assert values == list(protocol.sizes_for("novisurf-procedural"))
    assert "1024 \N{MULTIPLICATION SIGN} 1024" in [o.text for o in size.find_all("option")]


@pytest.mark.django_db
def test_the_form_starts_from_the_last_generation(client_in, user, every_model_offered):
    Generation.objects.create(
        owner=user,
        prompt="earlier",
        model="dall-e-2",
        n=3,
        size="512x512",
        response_format="b64_json",
        tag_names=["sea", "blue"],
    )
    page = dom(client_in.get(reverse("gallery:home")))
    assert selected_value(labelled(page, "Model")) == "dall-e-2"
    assert labelled(page, "Number of images").attrs["value"] == "3"
    assert selected_value(labelled(page, "Size")) == "512x512"
    assert selected_value(labelled(page, "Response format")) == "b64_json"
    assert labelled(page, "Tags").attrs["value"] == "sea, blue"
    assert labelled(page, "Prompt").text == ""  # a new prompt each time


@pytest.mark.django_db
def test_use_these_settings_fills_the_form_and_records_the_parent(client_in, user, make_image):
    image = make_image("a red kite over the hills", tags=["sky"])
    Generation.objects.filter(pk=image.generation_id).update(
        options={"quality": "high"}, n=2, size="512x512"
    )
    page = dom(client_in.get(reverse("gallery:home"), {"from": str(image.pk)}))
    assert labelled(page, "Prompt").text == "a red kite over the hills"
    assert labelled(page, "Tags").attrs["value"] == "sky"
    assert labelled(page, "Number of images").attrs["value"] == "2"
    hidden = {i.attrs["name"]: i.attrs.get("value") for i in page.find_all("input", type="hidden")}
    assert hidden["parent_image"] == str(image.pk)
    assert __import__("json").loads(hidden["options"]) == {"quality": "high"}

    data = {
        "prompt": "a red kite over the hills",
        "model": "novisurf-procedural",
        "n": "1",
        "size": "512x512",
        "response_format": "url",
        "tags": "sky",
        "parent_image": str(image.pk),
        "options": hidden["options"],
    }
    response = client_in.post(reverse("gallery:generate"), data)
    assert response.status_code == 302
    made = Generation.objects.exclude(pk=image.generation_id).get()
    assert made.parent_image == image
    assert made.options == {"quality": "high"}
    # A bad id, or another person's image, is never a 500.
    assert client_in.get(reverse("gallery:home"), {"from": "nonsense"}).status_code == 200


@pytest.mark.django_db
def test_a_parent_image_of_another_user_is_refused(client_in, make_image, other_user):
    theirs = make_image("not mine", owner=other_user)
    data = {
        "prompt": "p",
        "model": "novisurf-procedural",
        "n": "1",
        "size": "512x512",
        "response_format": "url",
        "parent_image": str(theirs.pk),
    }
    response = client_in.post(reverse("gallery:generate"), data)
    assert response.status_code == 200
    assert "The image these settings came from is gone." in response.content.decode()
    assert not Generation.objects.filter(owner__username="alice").exists()


def _post_form(client, **overrides):
    data = {
        "prompt": "A red fox in fresh snow",
        "model": "novisurf-procedural",
        "n": "2",
        "size": "512x512",
        "response_format": "b64_json",
        "tags": "winter, fox",
        **overrides,
    }
    return client.post(reverse("gallery:generate"), data)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "label", "message"),
    [
        ({"prompt": ""}, "Prompt", "required"),
        ({"prompt": "   "}, "Prompt", "required"),
        ({"n": "0"}, "Number of images", "greater than or equal to 1"),
        ({"n": "11"}, "Number of images", "less than or equal to 10"),
        ({"n": "many"}, "Number of images", "whole number"),
        ({"model": "dall-e-3", "size": "256x256", "n": "1"}, "Size", "Invalid size '256x256'"),
        ({"model": "dall-e-3", "size": "1024x1024", "n": "2"}, "Number of images", "Invalid 'n'"),
        ({"model": "no-such-model"}, "Model", "Select a valid choice"),
        ({"size": "13x13"}, "Size", "Select a valid choice"),
        ({"response_format": "jpeg"}, "Response format", "Select a valid choice"),
    ],
)
def test_bad_input_rerenders_with_the_error_beside_the_field(
    client_in, every_model_offered, overrides, label, message
):
    response = _post_form(client_in, **overrides)
    assert response.status_code == 200
    assert not Generation.objects.exists()
    page = dom(response)
    errors = field_errors(labelled(page, label))
    assert any(message in e for e in errors), errors
    assert "has-error" in labelled(page, label).ancestor("div").classes

    # What was typed is still there.
    typed = {
        "prompt": "A red fox in fresh snow",
        "model": "novisurf-procedural",
        "n": "2",
        "size": "512x512",
        "response_format": "b64_json",
        "tags": "winter, fox",
        **overrides,
    }
    if typed["prompt"].strip():
        assert labelled(page, "Prompt").text == typed["prompt"]
    assert labelled(page, "Number of images").attrs.get("value") == typed["n"]
    assert labelled(page, "Tags").attrs.get("value") == typed["tags"]
    for name, field_label in (
        ("model", "Model"),
        ("size", "Size"),
        ("response_format", "Response format"),
    ):
        select = labelled(page, field_label)
        if typed[name] in [o.attrs["value"] for o in select.find_all("option")]:
            assert selected_value(select) == typed[name], name


@pytest.mark.django_db
def test_valid_post_saves_the_generation_before_any_work_and_redirects(
    client_in, user, django_capture_on_commit_callbacks
):
    from django_tasks import default_task_backend

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_form(client_in, prompt="  A red fox in fresh snow  ")
    generation = Generation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:generation", args=[generation.pk])

    assert generation.owner == user
    assert generation.prompt == "A red fox in fresh snow"
    assert (generation.model, generation.n, generation.size, generation.response_format) == (
        "novisurf-procedural",
        2,
        "512x512",
        "b64_json",
    )
    assert sorted(generation.tag_names) == ["fox", "winter"]
    assert generation.status == Generation.Status.QUEUED
    assert generation.attempts == 0
    assert generation.started_at is None
    # Queued for the background, not run: the dummy backend only holds it.
    assert len([r for r in default_task_backend.results if r.task.name == "generation_work"]) == 1

    page = client_in.get(response["Location"])
    assert page.status_code == 200
    assert "A red fox in fresh snow" in page.content.decode()
    assert dom(page).find("span", id="generation-status").text == "Queued"


@pytest.mark.django_db
def test_generation_page_says_why_it_failed_and_offers_retry(
    client_in, user, django_capture_on_commit_callbacks
):
    generation = failed_generation(
        user,
        prompt="a storm over the sea",
        error="Your request was rejected as a result of our safety system.",
        item_errors=[{"index": 0, "reason": "The endpoint sent bytes that are not an image."}],
    )
    page = dom(client_in.get(reverse("gallery:generation", args=[generation.pk])))
    assert "safety system" in page.find("span", id="generation-error-text").text
    assert (
        "Image 1 was not kept: The endpoint sent bytes that are not an image."
        in page.find("ul", id="item-errors").text
    )
    retry = page.find("form", id="retry-form")
    assert "hidden" not in retry.attrs

    with django_capture_on_commit_callbacks(execute=True):
        response = client_in.post(reverse("gallery:generation-retry", args=[generation.pk]))
    assert response.status_code == 302
    generation.refresh_from_db()
    assert generation.status == Generation.Status.QUEUED
    assert generation.error == ""
    assert (generation.prompt, generation.model, generation.size) == (
        "a storm over the sea",
        "dall-e-3",
        "1024x1024",
    )


@pytest.mark.django_db
def test_status_json(client_in, make_image):
    image = make_image("a quiet harbour")
    generation = image.generation
    Generation.objects.filter(pk=generation.pk).update(
        item_errors=[{"index": 1, "reason": "The image is too large."}]
    )
    response = client_in.get(reverse("gallery:generation-status", args=[generation.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "done"
    assert body["status_label"] == "Done"
    assert body["finished"] is True
    assert body["error"] == ""
    assert body["item_errors"] == [{"index": 1, "reason": "The image is too large."}]
    assert body["images"] == [
        {
            "id": str(image.pk),
            "index": 0,
            "url": reverse("gallery:image", args=[image.pk]),
            "thumbnail": reverse("gallery:image-thumbnail", args=[image.pk]),
            "width": image.thumbnail_width,
            "height": image.thumbnail_height,
            "alt": "a quiet harbour",
            "has_alpha": False,
            "html": body["images"][0]["html"],
        }
    ]
    # The tile comes from the one tile template.
    assert f'id="tile-{image.pk}"' in body["images"][0]["html"]
    assert body["kept"] == 1


@pytest.mark.django_db
def test_status_json_while_queued(client_in, user):
    generation = Generation.objects.create(
        owner=user,
        prompt="p",
        model="novisurf-procedural",
        n=1,
        size="256x256",
        response_format="url",
    )
    body = client_in.get(reverse("gallery:generation-status", args=[generation.pk])).json()
    assert (body["status"], body["finished"], body["images"]) == ("queued", False, [])


# -- the gallery ----------------------------------------------------------------------------------


def _tiles(page: Node) -> list[tuple[str, Node]]:
    """(link href, img) for every image tile of the listing, in the page's order."""
    tiles = []
    for tile in page.find_all("li", class_="tile"):
        img = tile.find("img")
        link = img.ancestor("a")
        assert link is not None, "an image outside a link"
        tiles.append((link.attrs["href"].split("?")[0], img))
    return tiles


@pytest.mark.django_db
def test_gallery_lists_images_newest_first_as_linked_imgs(client_in, make_image):
    oldest = make_image("an old oak tree", age_minutes=30)
    newest = make_image("a neon city street", age_minutes=1)
    middle = make_image("a field of sunflowers", age_minutes=10)

    page = dom(client_in.get(reverse("gallery:home")))
    tiles = _tiles(page)
    assert [href for href, _ in tiles] == [
        reverse("gallery:image", args=[i.pk]) for i in (newest, middle, oldest)
    ]
    for (_, img), image in zip(tiles, (newest, middle, oldest), strict=True):
        assert image.prompt in img.attrs["alt"]
        assert img.attrs["src"] == reverse("gallery:image-thumbnail", args=[image.pk])
        assert img.attrs["width"] == str(image.thumbnail_width)
        assert img.attrs["height"] == str(image.thumbnail_height)
        assert img.attrs["loading"] == "lazy"
    assert page.find("h1", id="gallery-heading").text == "Your gallery"
    # Day headings: all three were made today.
    assert [h.text for h in page.find_all("h2", class_="day-heading")] == ["Today"]


@pytest.mark.django_db
def test_gallery_shows_only_the_owners_images(client_in, make_image, other_user):
    mine = make_image("my own picture")
    make_image("someone else's secret picture", owner=other_user, tags=["secret-tag"])
    response = client_in.get(reverse("gallery:home"))
    html = response.content.decode()
    assert [href for href, _ in _tiles(dom(response))] == [reverse("gallery:image", args=[mine.pk])]
    assert "secret picture" not in html
    assert "secret-tag" not in html


@pytest.mark.django_db
def test_search_by_prompt_words(client_in, make_image):
    fox = make_image("A red fox in fresh snow")
    make_image("A blue whale in deep water")
    make_image("A red car on a wet road")

    def found(q):
        page = dom(client_in.get(reverse("gallery:home"), {"q": q}))
        return {href for href, _ in _tiles(page)}

    assert found("fox") == {reverse("gallery:image", args=[fox.pk])}
    assert found("RED snow") == {reverse("gallery:image", args=[fox.pk])}  # every word, any case
    assert len(found("red")) == 2
    assert found("giraffe") == set()
    page = dom(client_in.get(reverse("gallery:home"), {"q": "giraffe"}))
    assert "No image matches" in page.text


@pytest.mark.django_db
def test_tag_filter_is_case_insensitive(client_in, make_image):
    tagged = make_image("mountains at dusk", tags=["Landscape"])
    make_image("a portrait", tags=["people"])
    make_image("untagged")

    for name in ("Landscape", "landscape", "LANDSCAPE"):
        page = dom(client_in.get(reverse("gallery:home"), {"tag": name}))
        assert [href for href, _ in _tiles(page)] == [reverse("gallery:image", args=[tagged.pk])]
    # The tag menu links filter the gallery.
    nav = dom(client_in.get(reverse("gallery:home"))).find("nav", class_="tag-filter")
    hrefs = [a.attrs["href"] for a in nav.find_all("a")]
    assert "?tag=Landscape" in hrefs
    assert "?tag=people" in hrefs


def _older(page: Node) -> str | None:
    link = page.find("a", rel="next")
    return link.attrs["href"] if link else None


@pytest.mark.django_db
def test_keyset_pagination_walks_every_image_once(client_in, settings, make_image):
    settings.GALLERY_PAGE_SIZE = 2
    images = [make_image(f"picture number {i}", age_minutes=10 - i) for i in range(5)]
    # Two made in the same microsecond: the id breaks the tie, neither is lost or repeated.
    Image.objects.filter(pk=images[1].pk).update(created_at=images[2].created_at)
    expected = [
        reverse("gallery:image", args=[i.pk]) for i in Image.objects.order_by("-created_at", "-id")
    ]

    seen, url, pages = [], "", []
    while url is not None:
        page = dom(client_in.get(reverse("gallery:home") + url))
        pages.append([href for href, _ in _tiles(page)])
        seen += pages[-1]
        url = _older(page)
    assert seen == expected
    assert len(pages) == 3

    # Back with "Newer" from the last page: the page before it, exactly.
    newer = page.find("a", rel="prev").attrs["href"]
    back = dom(client_in.get(reverse("gallery:home") + newer))
    assert [h for h, _ in _tiles(back)] == pages[1]
    newer = back.find("a", rel="prev").attrs["href"]
    first = dom(client_in.get(reverse("gallery:home") + newer))
    assert [h for h, _ in _tiles(first)] == pages[0]
    assert first.find("a", rel="prev") is None  # the head of the listing

    # Oldest first is the same listing reversed.
    seen, url = [], "?order=oldest"
    while url is not None:
        page = dom(client_in.get(reverse("gallery:home") + url))
        seen += [href for href, _ in _tiles(page)]
        url = _older(page)
    assert seen == expected[::-1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"after": "garbage"},
        {"before": "1~zz"},
        {"at": "99999999999999999999999~" + "0" * 32},
        {"order": "sideways"},
        {"q": "\x00 \"' OR 1=1 -- *  NEAR( ^"},
        {"q": "x" * 5000},
        {"tag": "%%%"},
        {"board": "abc"},
    ],
)
def test_any_listing_querystring_is_a_page_never_a_500(client_in, make_image, params):
    make_image("a quiet harbour")
    response = client_in.get(reverse("gallery:home"), params)
    assert response.status_code == 200


@pytest.mark.django_db
def test_tag_and_query_combine_and_the_heading_says_both(client_in, make_image):
    both = make_image("boats in the harbour", tags=["sea"])
    make_image("boats on the river", tags=["river"])
    make_image("the sea at night", tags=["sea"])
    page = dom(client_in.get(reverse("gallery:home"), {"tag": "sea", "q": "boats"}))
    assert [h for h, _ in _tiles(page)] == [reverse("gallery:image", args=[both.pk])]
    assert page.find("h1", id="gallery-heading").text == "Tagged “sea” matching “boats”"
    # The search box keeps the tag.
    search = page.find("form", role="search")
    assert {i.attrs["name"]: i.attrs.get("value") for i in search.find_all("input")} == {
        "q": "boats",
        "tag": "sea",
    }


@pytest.mark.django_db
def test_the_query_count_does_not_grow_with_the_page(
    client_in, settings, make_image, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(6):
        make_image(f"image {i}", tags=["sea"])

    def count(size: int, **params) -> int:
        settings.GALLERY_PAGE_SIZE = size
        with CaptureQueriesContext(connection) as queries:
            assert client_in.get(reverse("gallery:home"), params).status_code == 200
        return len(queries)

    assert count(2) == count(6)
    assert count(2, tag="sea") == count(6, tag="sea")
    # The listing itself counts nothing (the page's "Select all" toolbar counts its listing).
    with CaptureQueriesContext(connection) as queries:
        client_in.get(reverse("gallery:home"), {"fragment": "tiles"})
    assert not [
        q
        for q in queries.captured_queries
        if "COUNT(" in q["sql"]
        and "gallery_image" in q["sql"]
        and "generation" not in q["sql"]
        and "gallery_board" not in q["sql"]  # the boards menu counts each board's images
    ]


@pytest.mark.django_db
def test_the_fragment_is_the_next_pages_tiles(client_in, settings, make_image):
    settings.GALLERY_PAGE_SIZE = 2
    images = [make_image(f"picture {i}", age_minutes=10 - i) for i in range(3)]
    first = dom(client_in.get(reverse("gallery:home")))
    more = _older(first)
    fragment = client_in.get(reverse("gallery:home") + more + "&fragment=tiles")
    body = fragment.content.decode()
    assert "<html" not in body
    assert [h for h, _ in _tiles(dom(fragment))] == [reverse("gallery:image", args=[images[0].pk])]


@pytest.mark.django_db
def test_tiles_follow_the_contract(client_in, make_image):
    image = make_image("a lantern in the fog", tags=["night"])
    Image.objects.filter(pk=image.pk).update(is_favourite=True)
    page = dom(client_in.get(reverse("gallery:home"), {"tag": "night"}))
    [tile] = page.find_all("li", class_="tile")
    assert tile.attrs["data-image-id"] == str(image.pk)
    assert tile.attrs["id"] == f"tile-{image.pk}"
    assert "--ar: 1.5000" in tile.attrs["style"]
    link = tile.find("a", class_="tile-link")
    assert link.attrs["href"] == reverse("gallery:image", args=[image.pk]) + "?tag=night"
    check = tile.find("input", class_="tile-check")
    assert check.attrs["value"] == str(image.pk)
    assert check.attrs["aria-label"].startswith("Select: a lantern")
    form = tile.find("form", class_="tile-fav")
    assert form.attrs["action"] == reverse("gallery:image-favourite", args=[image.pk])
    fields = {i.attrs["name"]: i.attrs.get("value") for i in form.find_all("input")}
    assert fields["favourite"] == "off"
    assert fields["next"] == f"/?tag=night#tile-{image.pk}"
    button = form.find("button")
    assert (button.attrs["aria-pressed"], button.attrs["aria-label"]) == ("true", "Favourite")


# -- an image's page ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_image_page_has_download_and_add_tag(client_in, make_image):
    image = make_image("a lantern in the fog", tags=["night"])
    response = client_in.get(reverse("gallery:image", args=[image.pk]))
    assert response.status_code == 200
    page = dom(response)
    downloads = [a for a in page.find_all("a") if a.text == "Download"]
    assert len(downloads) == 1
    assert downloads[0].attrs["href"] == reverse("gallery:image-download", args=[image.pk])

    field = labelled(page, "Add tag")
    assert field.attrs["name"] == "tag"
    form = field.ancestor("form")
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == reverse("gallery:image-tag-add", args=[image.pk])

    img = page.find("img", src=reverse("gallery:image-file", args=[image.pk]))
    assert "a lantern in the fog" in img.attrs["alt"]
    assert (img.attrs["width"], img.attrs["height"]) == ("48", "32")
    tag_links = [a for a in page.find_all("a") if a.text == "#night"]
    assert tag_links[0].attrs["href"] == "/?tag=night"


@pytest.mark.django_db
def test_add_and_remove_a_tag(client_in, make_image):
    image = make_image("a lantern in the fog")

    response = client_in.post(reverse("gallery:image-tag-add", args=[image.pk]), {"tag": "mist"})
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:image", args=[image.pk])
    assert [t.name for t in image.tags.all()] == ["mist"]

    # Commas separate tags; a tag may have a space in it, with or without a comma after it.
    client_in.post(reverse("gallery:image-tag-add", args=[image.pk]), {"tag": "Fog Lights, grey"})
    assert sorted(t.name for t in image.tags.all()) == ["Fog Lights", "grey", "mist"]
    client_in.post(reverse("gallery:image-tag-add", args=[image.pk]), {"tag": "blue hour"})
    assert "blue hour" in [t.name for t in image.tags.all()]
    image.tags.remove("blue hour")

    page = dom(client_in.get(reverse("gallery:image", args=[image.pk])))
    hrefs = {a.text: a.attrs["href"] for a in page.find_all("a") if a.text.startswith("#")}
    assert hrefs == {
        "#Fog Lights": "/?tag=Fog%20Lights",
        "#grey": "/?tag=grey",
        "#mist": "/?tag=mist",
    }
    # Following a tag's link shows that image.
    gallery = dom(client_in.get(hrefs["#Fog Lights"]))
    assert [h for h, _ in _tiles(gallery)] == [reverse("gallery:image", args=[image.pk])]

    remove = reverse("gallery:image-tag-remove", args=[image.pk, "Fog Lights"])
    assert page.find("form", action=remove) is not None
    response = client_in.post(remove)
    assert response.status_code == 302
    assert sorted(t.name for t in image.tags.all()) == ["grey", "mist"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["AC/DC", "50% off", "a?b#c", "café", "sea & sky"])
def test_tags_with_any_characters_show_filter_and_can_be_removed(client_in, make_image, name):
    image = make_image("a lantern in the fog", tags=[name])
    response = client_in.get(reverse("gallery:image", args=[image.pk]))
    assert response.status_code == 200
    page = dom(response)
    link = next(a for a in page.find_all("a") if a.text == f"#{name}")
    gallery = dom(client_in.get(link.attrs["href"]))
    assert [h for h, _ in _tiles(gallery)] == [reverse("gallery:image", args=[image.pk])]

    [form] = [f for f in page.find_all("form") if f.attrs.get("action", "").endswith("/remove")]
    assert client_in.post(form.attrs["action"]).status_code == 302
    assert list(image.tags.all()) == []


@pytest.mark.django_db
def test_adding_a_blank_tag_says_so(client_in, make_image):
    image = make_image()
    response = client_in.post(reverse("gallery:image-tag-add", args=[image.pk]), {"tag": "  "})
    assert response.status_code == 400
    errors = field_errors(labelled(dom(response), "Add tag"))
    assert errors
    assert list(image.tags.all()) == []


@pytest.mark.django_db
@pytest.mark.filesystem
def test_original_and_thumbnail_are_served(client_in, make_image):
    image = make_image()
    original = client_in.get(reverse("gallery:image-file", args=[image.pk]))
    assert original.status_code == 200
    assert original["Content-Type"] == "image/png"
    with image.file.open("rb") as handle:
        assert b"".join(original.streaming_content) == handle.read()
    assert "private" in original["Cache-Control"]

    thumb = client_in.get(reverse("gallery:image-thumbnail", args=[image.pk]))
    assert thumb.status_code == 200
    assert thumb["Content-Type"] == "image/webp"
    assert PILImage.open(io.BytesIO(b"".join(thumb.streaming_content))).format == "WEBP"


@pytest.mark.django_db
def test_download_is_the_original_with_parameters_and_a_readable_name(client_in, make_image):
    image = make_image("A Lighthouse, on a cliff at DAWN!", tags=["coast"])
    response = client_in.get(reverse("gallery:image-download", args=[image.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    match = re.search(r'filename="([^"]+)"', disposition)
    assert match
    assert match.group(1) == f"novisurf-a-lighthouse-on-a-cliff-at-dawn-{image.id.hex[:8]}.png"

    downloaded = PILImage.open(io.BytesIO(response.content))
    downloaded.load()
    parameters = downloaded.text["parameters"]
    assert parameters.split("\n")[0] == "A Lighthouse, on a cliff at DAWN!"
    assert "Model: novisurf-procedural" in parameters
    assert "Size: 48x32" in parameters
    with image.file.open("rb") as handle:
        stored = PILImage.open(io.BytesIO(handle.read()))
        stored.load()
    assert downloaded.size == stored.size
    assert downloaded.mode == stored.mode
    assert downloaded.tobytes() == stored.tobytes()


# -- deleting -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delete_asks_first_then_deletes(client_in, make_image, django_capture_on_commit_callbacks):
    image = make_image("a picture to throw away")
    original, thumbnail = image.file.name, image.thumbnail.name
    url = reverse("gallery:image-delete", args=[image.pk])

    response = client_in.get(url)
    assert response.status_code == 200
    page = dom(response)
    # The confirmation form posts back to this page (the other form on the page is "Log out").
    forms = [f for f in page.find_all("form") if f.attrs.get("action") in (None, "", url)]
    assert len(forms) == 1
    form = forms[0]
    assert form.attrs["method"] == "post"
    assert form.find("input", name="csrfmiddlewaretoken") is not None
    assert any(b.text == "Delete" for b in form.find_all("button"))
    assert Image.objects.filter(pk=image.pk).exists()  # asking deletes nothing
    assert is_stored(original)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_in.post(url)
    assert response.status_code == 302
    assert response["Location"] == reverse("gallery:home")
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not is_stored(original)
    assert not is_stored(thumbnail)
    assert client_in.get(reverse("gallery:image", args=[image.pk])).status_code == 404


# -- privacy ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_another_user_gets_404_everywhere(other_client, make_image):
    image = make_image("alice's private picture", tags=["mine"])
    generation = image.generation
    Generation.objects.filter(pk=generation.pk).update(status=Generation.Status.FAILED)
    original = image.file.name

    requests_to_make = [
        ("get", reverse("gallery:image", args=[image.pk]), {}),
        ("get", reverse("gallery:image-file", args=[image.pk]), {}),
        ("get", reverse("gallery:image-thumbnail", args=[image.pk]), {}),
        ("get", reverse("gallery:image-download", args=[image.pk]), {}),
        ("post", reverse("gallery:image-tag-add", args=[image.pk]), {"tag": "stolen"}),
        ("post", reverse("gallery:image-tag-remove", args=[image.pk, "mine"]), {}),
        ("get", reverse("gallery:image-delete", args=[image.pk]), {}),
        ("post", reverse("gallery:image-delete", args=[image.pk]), {}),
        ("get", reverse("gallery:generation", args=[generation.pk]), {}),
        ("get", reverse("gallery:generation-status", args=[generation.pk]), {}),
        ("post", reverse("gallery:generation-retry", args=[generation.pk]), {}),
    ]
    for method, url, data in requests_to_make:
        response = getattr(other_client, method)(url, data)
        assert response.status_code == 404, url
        assert "alice's private picture" not in response.content.decode(), url

    image.refresh_from_db()
    assert [t.name for t in image.tags.all()] == ["mine"]
    assert is_stored(original)
    generation.refresh_from_db()
    assert generation.status == Generation.Status.FAILED  # not re-queued by the stranger


@pytest.mark.django_db
def test_unknown_ids_are_404(client_in):
    import uuid

    missing = uuid.uuid4()
    for name in (
        "gallery:image",
        "gallery:image-file",
        "gallery:generation",
        "gallery:generation-status",
    ):
        assert client_in.get(reverse(name, args=[missing])).status_code == 404


@pytest.mark.django_db
@pytest.mark.filesystem
def test_missing_file_is_404_not_500(client_in, make_image):
    image = make_image()
    image.file.storage.delete(image.file.name)
    assert client_in.get(reverse("gallery:image-file", args=[image.pk])).status_code == 404
    assert client_in.get(reverse("gallery:image-download", args=[image.pk])).status_code == 404


# -- CSRF, methods, secrets -----------------------------------------------------------------------


@pytest.mark.django_db
def test_posts_without_a_csrf_token_are_refused(user, make_image):
    image = make_image(tags=["keep"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for url, data in (
        (
            reverse("gallery:generate"),
            {
                "prompt": "x",
                "model": "novisurf-procedural",
                "n": "1",
                "size": "256x256",
                "response_format": "url",
            },
        ),
        (reverse("gallery:image-tag-add", args=[image.pk]), {"tag": "new"}),
        (reverse("gallery:image-tag-remove", args=[image.pk, "keep"]), {}),
        (reverse("gallery:image-delete", args=[image.pk]), {}),
        (reverse("gallery:generation-retry", args=[image.generation.pk]), {}),
    ):
        assert client.post(url, data).status_code == 403, url
    assert not Generation.objects.exclude(pk=image.generation.pk).exists()
    assert Image.objects.filter(pk=image.pk).exists()
    assert [t.name for t in image.tags.all()] == ["keep"]


@pytest.mark.django_db
def test_post_with_the_csrf_token_from_the_page_works(user, make_image):
    image = make_image()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = dom(client.get(reverse("gallery:image", args=[image.pk])))
    token = labelled(page, "Add tag").ancestor("form").find("input", name="csrfmiddlewaretoken")
    response = client.post(
        reverse("gallery:image-tag-add", args=[image.pk]),
        {"tag": "ok", "csrfmiddlewaretoken": token.attrs["value"]},
    )
    assert response.status_code == 302
    assert [t.name for t in image.tags.all()] == ["ok"]


@pytest.mark.django_db
def test_state_changing_views_refuse_get(client_in, make_image):
    image = make_image(tags=["keep"])
    for url in (
        reverse("gallery:generate"),
        reverse("gallery:image-tag-add", args=[image.pk]),
        reverse("gallery:image-tag-remove", args=[image.pk, "keep"]),
        reverse("gallery:generation-retry", args=[image.generation.pk]),
    ):
        assert client_in.get(url).status_code == 405, url
    assert [t.name for t in image.tags.all()] == ["keep"]


@pytest.mark.django_db
def test_the_endpoint_key_never_appears_in_a_page(client_in, make_image, user):
    image = make_image("a picture", tags=["t"])
    failed = failed_generation(
        user,
        prompt="a failure",
        error="The image endpoint refused our API key: Incorrect API key provided.",
    )
    urls = [
        reverse("gallery:home"),
        reverse("gallery:home") + "?q=picture",
        reverse("gallery:home") + "?tag=t",
        reverse("gallery:image", args=[image.pk]),
        reverse("gallery:image-delete", args=[image.pk]),
        reverse("gallery:generation", args=[image.generation.pk]),
        reverse("gallery:generation", args=[failed.pk]),
        reverse("gallery:generation-status", args=[failed.pk]),
    ]
    for url in urls:
        response = client_in.get(url)
        assert response.status_code == 200, url
        assert SECRET_KEY_VALUE not in response.content.decode(), url
    # Nor in a form re-rendered with errors.
    response = _post_form(client_in, n="0")
    assert SECRET_KEY_VALUE not in response.content.decode()


# -- the viewer -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_viewer_walks_the_listing_it_was_opened_from(client_in, make_image):
    a = make_image("first sea", tags=["sea"], age_minutes=30)
    make_image("a field, not tagged", age_minutes=20)
    b = make_image("second sea", tags=["sea"], age_minutes=10)
    c = make_image("third sea", tags=["sea"], age_minutes=5)

    def viewer(image, **params):
        return dom(client_in.get(reverse("gallery:image", args=[image.pk]), params))

    def link(page, rel):
        found = page.find("a", rel=rel)
        return found.attrs["href"] if found else None

    url = lambda image, qs="": reverse("gallery:image", args=[image.pk]) + qs  # noqa: E731
    page = viewer(b, tag="sea")
    # Newest first: "next" is the older image of the same tag, skipping the untagged one.
    assert link(page, "next") == url(a, "?tag=sea")
    assert link(page, "prev") == url(c, "?tag=sea")
    assert page.find("a", rel="next").attrs["data-key"] == "ArrowRight"
    back = page.find("a", class_="button subtle back-link")
    assert back.attrs["href"].startswith("/?tag=sea&at=")
    assert back.attrs["href"].endswith(f"#tile-{b.pk}")
    assert back.attrs["data-key"] == "Escape"
    # The ends of the listing have nothing further.
    assert link(viewer(a, tag="sea"), "next") is None
    assert link(viewer(c, tag="sea"), "prev") is None
    # Oldest first turns it round; the order rides along.
    page = viewer(b, tag="sea", order="oldest")
    assert link(page, "next") == url(c, "?tag=sea&order=oldest")

    # Escape's link shows the listing with the image on the page.
    gallery = dom(client_in.get(back.attrs["href"].split("#")[0]))
    assert f"tile-{b.pk}" in [t.attrs["id"] for t in gallery.find_all("li", class_="tile")]


@pytest.mark.django_db
def test_back_from_deep_in_the_listing_lands_on_the_image(client_in, settings, make_image):
    settings.GALLERY_PAGE_SIZE = 2
    images = [make_image(f"picture {i}", age_minutes=10 - i) for i in range(6)]
    deep = images[1]  # the fifth newest: not on the first page
    page = dom(client_in.get(reverse("gallery:image", args=[deep.pk])))
    back = page.find("a", class_="button subtle back-link").attrs["href"].split("#")[0]
    gallery = dom(client_in.get(back))
    ids = [t.attrs["id"] for t in gallery.find_all("li", class_="tile")]
    assert ids[0] == f"tile-{deep.pk}"
    assert gallery.find("a", rel="prev") is not None  # and the newer ones are one link away


@pytest.mark.django_db
def test_the_viewer_costs_the_same_queries_at_any_depth(client_in, make_image):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    images = [make_image(f"picture {i}", tags=["t"], age_minutes=30 - i) for i in range(5)]

    def queries(image) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert (
                client_in.get(reverse("gallery:image", args=[image.pk]), {"tag": "t"}).status_code
                == 200
            )
        return len(captured)

    assert queries(images[0]) == queries(images[2]) == queries(images[4])


# -- live -----------------------------------------------------------------------------------------


def _events(client, params, *, settings) -> list[tuple[str, dict]]:
    """The messages a live page receives in a short stream (WSGI: it ends by itself)."""
    import json

    settings.GALLERY_LIVE_WSGI_SECONDS = 0.3
    response = client.get(reverse("gallery:events"), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    text = b"".join(response.streaming_content).decode()
    messages = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            messages.append((fields["event"], json.loads(fields["data"])))
    return messages


@pytest.mark.django_db(transaction=True)
def test_the_gallery_hears_of_new_images_that_match_its_listing(
    client_in, make_image, settings, user
):
    from gallery.live import latest_event_id

    since = latest_event_id(owner=user)
    sea = make_image("a boat at sea", tags=["sea"])
    make_image("a quiet field")

    everything = _events(client_in, {"since": since}, settings=settings)
    tiles = [data for event, data in everything if event == "tile"]
    assert len(tiles) == 2
    assert f'id="tile-{sea.pk}"' in tiles[0]["html"]
    assert 'class="tile-check"' in tiles[0]["html"]
    assert tiles[0]["day"] == timezone.localdate().isoformat()
    assert any(event == "recent" for event, _ in everything)

    only_sea = _events(client_in, {"since": since, "tag": "sea"}, settings=settings)
    tiles = [data for event, data in only_sea if event == "tile"]
    assert [t["id"] for t in tiles] == [str(sea.pk)]
    assert "?tag=sea" in tiles[0]["html"]  # the tile's link carries the listing


@pytest.mark.django_db(transaction=True)
def test_the_generation_page_hears_its_images_and_true_counts_after_a_delete(
    client_in, make_image, settings, user
):
    from gallery.live import latest_event_id

    image = make_image("a lantern")
    image_id = str(image.pk)
    since = latest_event_id(owner=user)
    services.image_delete(image=image)
    messages = _events(
        client_in, {"since": since, "generation": str(image.generation_id)}, settings=settings
    )
    assert ("remove", {"id": image_id}) in messages
    [state] = [data for event, data in messages if event == "generation"]
    assert state["kept"] == 0
    page = dom(client_in.get(reverse("gallery:generation", args=[image.generation_id])))
    assert page.find("span", id="generation-kept").text == "0"


@pytest.mark.django_db
def test_nobody_hears_another_persons_events(other_client, make_image, settings):
    make_image("alice's secret")
    messages = _events(other_client, {"since": 0}, settings=settings)
    assert messages == []
    bad = other_client.get(reverse("gallery:events"), {"generation": "not-a-uuid"})
    assert bad.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_live_stream_ends_at_logout(client_in, make_image, settings, user):
    from django.contrib.sessions.models import Session

    from gallery.live import latest_event_id

    settings.GALLERY_LIVE_WSGI_SECONDS = 5  # the stream's own end, should the logout be missed
    response = client_in.get(reverse("gallery:events"), {"since": latest_event_id(owner=user)})
    chunks = iter(response.streaming_content)
    assert b"retry" in next(chunks)
    Session.objects.all().delete()  # logged out, in this tab or another
    make_image("made after the logout")
    rest = b"".join(chunks)
    assert b"event: tile" not in rest


@pytest.mark.django_db
def test_usage_never_says_none_for_generations_without_usage(client, user):
    from gallery.models import Generation

    Generation.objects.create(
        owner=user,
        prompt="a fox",
        model="dall-e-2",
        n=1,
        size="256x256",
        response_format="url",
        status=Generation.Status.FAILED,
    )
    client.force_login(user)
    page = client.get("/usage/").content.decode()
    assert "None" not in page
    assert "—" in page
