"""One listing: every page, its "Select all", its ZIP link and its toolbar act on the same images,
for every value a person can type in the querystring (gallery.listing.Listing)."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.test.html import Element, parse_html

from gallery import services
from gallery.listing import Listing
from gallery.models import Image
from tests.factories import make_images

pytestmark = pytest.mark.django_db

TILE = re.compile(r'id="tile-([0-9a-f-]{36})"')

FAVOURITES = ["", "1", "yes", "Yes", "TRUE", "on", "y", " 1 ", "0", "no", "false", "off", "maybe"]
TAGS = ["", "sea", "SEA", "  sea  ", "no-such-tag", "<b>"]
QUERIES = ["", "harbour", "harb", "-harbour", '"quiet harbour"', "nothing-matches-this"]
ORDERS = ["", "newest", "oldest", "sideways"]
BOARDS = ["abc", "-1", "1.5", "1" * 20]


@pytest.fixture
def library(client, user, other_user, settings):
    """Eight images of ``user``: favourites, a tag, a board, two kinds of prompt; and one of
    someone else's that nothing may reach."""
    settings.GALLERY_PAGE_SIZE = 50
    harbours = make_images(user, 4, prompt="a quiet harbour at dawn", tags=["sea"])
    mountains = make_images(user, 4, prompt="snow on the mountain")
    services.images_favourite_set(
        owner=user,
        images=Image.objects.filter(pk__in=[harbours[0].pk, mountains[0].pk]),
        favourite=True,
    )
    board = services.board_create(owner=user, name="Mixed")
    services.board_images_add(
        boards=[board],
        images=Image.objects.filter(pk__in=[harbours[0].pk, harbours[1].pk, mountains[1].pk]),
    )
    make_images(other_user, 1, prompt="a quiet harbour too", tags=["sea"])
    client.force_login(user)
    return board


def _elements(node):
    for child in getattr(node, "children", []):
        if isinstance(child, Element):
            yield child
            yield from _elements(child)


def _attributes(element: Element) -> dict:
    return dict(element.attributes)


def seen(client, url: str) -> dict:
    """What the page at ``url`` shows, and what its "Select all" and its ZIP link cover."""
    answer = client.get(url)
    assert answer.status_code == 200, url
    html = answer.content.decode()
    shown = TILE.findall(html)
    bar = next(
        (e for e in _elements(parse_html(html)) if _attributes(e).get("id") == "selection-bar"),
        None,
    )
    if bar is None:  # no toolbar: the listing is empty
        return {"page": shown, "select_all": [], "zip": []}
    fields = [
        (a["name"], a.get("value") or "")
        for a in map(_attributes, _elements(bar))
        if a.get("type") == "hidden" and a.get("name") not in ("csrfmiddlewaretoken", "all")
    ]
    data: dict = {}
    for name, value in fields:
        data.setdefault(name, value)
    zip_link = next(
        a["href"]
        for a in map(_attributes, _elements(bar))
        if a.get("href", "").startswith("/download.zip")
    )
    return {
        "page": shown,
        "select_all": ids_in_zip(client.post("/selection", {**data, "all": "1", "action": "zip"})),
        "zip": ids_in_zip(client.get(zip_link)),
        "count": int(_attributes(bar)["data-total"]),
    }


def ids_in_zip(answer) -> list[str]:
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(answer.streaming_content)))
    return [entry["id"] for entry in json.loads(archive.read("metadata.json"))["images"]]


def assert_one_set(found: dict) -> None:
    assert sorted(found["select_all"]) == sorted(found["page"])
    assert sorted(found["zip"]) == sorted(found["page"])
    if found["page"]:
        assert found["count"] == len(found["page"])


@pytest.mark.parametrize("value", FAVOURITES)
def test_favourites_as_typed(client, library, value):
    for path in ("/", f"/boards/{library.pk}/"):
        found = seen(client, f"{path}?favourites={value}")
        assert_one_set(found)
        favourite = Listing.from_params({"favourites": value}).favourites
        expected = 2 if path == "/" else 1
        assert len(found["page"]) == (expected if favourite else (8 if path == "/" else 3))


@pytest.mark.parametrize(
    ("tag", "query"),
    [*((tag, "harb") for tag in TAGS), *(("sea", query) for query in QUERIES[1:]), ("", "")],
)
def test_tags_and_searches_as_typed(client, library, tag, query):
    for path in ("/", f"/boards/{library.pk}/", f"/?board={library.pk}"):
        joiner = "&" if "?" in path else "?"
        assert_one_set(seen(client, f"{path}{joiner}tag={tag}&q={query}&favourites=yes"))
        assert_one_set(seen(client, f"{path}{joiner}tag={tag}&q={query}"))


@pytest.mark.parametrize(("order", "board"), list(zip(ORDERS, BOARDS, strict=True)))
def test_orders_and_boards_that_are_not_ids(client, library, order, board):
    found = seen(client, f"/?board={board}&order={order}")
    assert_one_set(found)
    assert len(found["page"]) == 8  # not a board id: ignored, on the page and in the selection


def test_someone_elses_board_is_no_listing_of_mine(client, library, other_user):
    theirs = services.board_create(owner=other_user, name="Theirs")
    assert client.get(f"/?board={theirs.pk}").status_code == 404
    assert client.get(f"/boards/{theirs.pk}/").status_code == 404
    assert client.get(f"/zip?board={theirs.pk}").status_code == 404


def test_a_listing_reads_back_what_it_writes():
    for favourites in FAVOURITES:
        for tag in TAGS:
            listing = Listing.from_params({"favourites": favourites, "tag": tag, "q": "a  b"})
            assert Listing.from_params(listing.params()) == listing
            assert Listing.from_form(dict(listing.form_fields())) == listing


def test_the_trash_page_and_its_select_all_hold_the_same_images(client, library, user):
    services.images_trash(owner=user, images=Image.objects.filter(owner=user, is_favourite=False))
    shown = TILE.findall(client.get("/trash/").content.decode())
    asked = client.post("/selection", {"action": "restore", "all": "1"}).content.decode()
    assert len(shown) == 6 and f"Restore all {len(shown)} images in the trash?" in asked
    client.post("/selection", {"action": "restore", "all": "1", "confirmed": "1"})
    assert Image.objects.filter(owner=user, trashed_at__isnull=False).count() == 0
