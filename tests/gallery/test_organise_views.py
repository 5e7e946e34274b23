"""The organising pages: boards, the selection toolbar's actions, ZIP (WSGI and ASGI), trash
with undo, upload; each one private to its owner."""

from __future__ import annotations

import asyncio
import io
import json
import warnings
import zipfile

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.urls import reverse

from gallery import selectors, services
from gallery.models import Board, Image
from tests import utils
from tests.factories import distinct_png, make_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client, user):
    client.force_login(user)
    return client


def test_pages_render_for_their_owner(alice, user):
    image = make_images(user, 1)[0]
    board = services.board_create(owner=user, name="Posters")
    for url in ("/", "/boards/", f"/boards/{board.pk}/", "/trash/", f"/images/{image.pk}/"):
        answer = alice.get(url)
        assert answer.status_code == 200, url
    page = alice.get(f"/images/{image.pk}/").content.decode()
    for text in ("Use these settings", "Copy prompt", "Copy as API call", f"/?from={image.pk}"):
        assert text in page
    assert "client.images.generate(" in page and "/v1/images/generations" in page
    assert "YOUR_API_KEY" in page
    home = alice.get("/").content.decode()
    for text in ("Select all", "Download ZIP", "Move to trash", "Add tag", "Add to board"):
        assert text in home
    assert 'href="/boards/"' in home and 'href="/trash/"' in home


def test_boards_page_creates_renames_and_deletes(alice, user):
    answer = alice.post("/boards/", {"name": "  Moodboard "})
    assert answer.status_code == 302
    board = Board.objects.get(owner=user)
    assert board.name == "Moodboard"
    answer = alice.post("/boards/", {"name": "moodboard"})
    assert answer.status_code == 400 and "already have" in answer.content.decode()
    alice.post(f"/boards/{board.pk}/rename", {"name": "Mood"})
    board.refresh_from_db()
    assert board.name == "Mood"
    image = make_images(user, 1)[0]
    alice.post(f"/images/{image.pk}/boards", {"boards": [board.pk], "new_board": "Extra"})
    assert set(b.name for b in selectors.image_boards(image=image)) == {"Mood", "Extra"}
    alice.post(f"/boards/{board.pk}/delete")
    assert Image.objects.filter(pk=image.pk).exists()
    assert not Board.objects.filter(pk=board.pk).exists()


def test_another_persons_boards_and_trash_are_out_of_reach(client, user, other_user):
    board = services.board_create(owner=user, name="Private")
    image = make_images(user, 1)[0]
    client.force_login(other_user)
    assert client.get(f"/boards/{board.pk}/").status_code == 404
    assert client.post(f"/boards/{board.pk}/delete").status_code == 404
    assert client.get(f"/download.zip?board={board.pk}").status_code == 404
    client.post("/selection", {"action": "trash", "ids": [str(image.pk)]})
    client.post("/trash/delete", {"ids": [str(image.pk)]})
    client.post("/trash/empty")
    image.refresh_from_db()
    assert image.trashed_at is None
    assert "Private" not in client.get("/boards/").content.decode()


def test_toolbar_actions_on_ids_and_on_select_all(alice, user):
    images = make_images(user, 6, prompt="boats at dusk")
    make_images(user, 2, prompt="hills")
    board = services.board_create(owner=user, name="Boats")
    ids = [str(i.pk) for i in images[:2]]
    answer = alice.post(
        "/selection", {"action": "tag-add", "tag": "dusk, sea", "ids": ids, "next": "/?q=boats"}
    )
    assert answer.status_code == 302 and answer["Location"] == "/?q=boats"
    assert selectors.image_list(owner=user, tag="sea").count() == 2
    # "Select all" on a search: the filters, not ids; every page.
    alice.post(
        "/selection", {"action": "board-add", "all": "1", "q": "boats", "boards": [board.pk]}
    )
    assert selectors.image_list(owner=user, board=board).count() == 6
    alice.post("/selection", {"action": "favourite", "all": "1", "tag_filter": "sea"})
    assert selectors.image_list(owner=user, favourites=True).count() == 2
    answer = alice.post("/selection", {"action": "tag-add", "tag": "", "ids": ids}, follow=True)
    assert "Type a tag name" in answer.content.decode()


def test_a_board_page_takes_selected_images_off_the_board_and_keeps_them(alice, user):
    images = make_images(user, 3, prompt="boats at dusk")
    board = services.board_create(owner=user, name="Boats")
    alice.post(
        "/selection", {"action": "board-add", "all": "1", "q": "boats", "boards": [board.pk]}
    )
    page = alice.get(f"/boards/{board.pk}/").content.decode()
    assert ">Remove from board</button>" in page
    assert ">Remove from board</button>" not in alice.get("/").content.decode()
    answer = alice.post(
        "/selection",
        {"action": "board-remove", "board": board.pk, "ids": [str(images[0].pk)]},
        follow=True,
    )
    assert "Took 1 image off “Boats”." in answer.content.decode()
    assert selectors.image_list(owner=user, board=board).count() == 2
    assert selectors.image_list(owner=user).count() == 3  # off the board, not deleted


def test_move_to_trash_offers_undo_then_restore_and_delete_forever(
    alice, user, django_capture_on_commit_callbacks
):
    images = make_images(user, 3)
    ids = [str(i.pk) for i in images[:2]]
    answer = alice.post("/selection", {"action": "trash", "ids": ids}, follow=True)
    page = answer.content.decode()
    assert "Moved 2 images to the trash." in page and ">Undo</button>" in page
    assert selectors.image_list(owner=user).count() == 1
    alice.post("/trash/undo")
    assert selectors.image_list(owner=user).count() == 3
    # The image page's "Delete" moves to the trash too.
    answer = alice.post(f"/images/{images[2].pk}/trash", {"next": "/"}, follow=True)
    assert "Moved 1 image to the trash." in answer.content.decode()
    trash = alice.get("/trash/").content.decode()
    assert "Restore" in trash and "Delete forever" in trash and "Empty trash" in trash
    alice.post("/trash/restore", {"ids": [str(images[2].pk)]})
    alice.post("/selection", {"action": "trash", "ids": ids})
    # Whatever is permanent asks first, naming how many images; nothing goes until answered.
    asked = alice.post("/trash/delete", {"ids": [ids[0]]}).content.decode()
    assert "Delete 1 image forever?" in asked
    asked = alice.post("/trash/empty").content.decode()
    assert "delete all 2 images forever?" in asked
    assert Image.objects.filter(owner=user).count() == 3
    with django_capture_on_commit_callbacks(execute=True):
        alice.post("/trash/delete", {"ids": [ids[0]], "confirmed": "1"})
        alice.post("/trash/empty", {"confirmed": "1"})
    assert list(Image.objects.filter(owner=user)) == [images[2]]


def test_undo_is_refused_once_too_late(alice, user, settings):
    settings.NOVISURF_TRASH_UNDO_SECONDS = 0
    image = make_images(user, 1)[0]
    alice.post("/selection", {"action": "trash", "ids": [str(image.pk)]})
    answer = alice.post("/trash/undo", follow=True)
    assert "Too late to undo" in answer.content.decode()
    assert Image.objects.get(pk=image.pk).trashed_at is not None


def test_big_selection_goes_to_a_progress_page(alice, user, settings):
    settings.NOVISURF_BULK_INLINE_LIMIT = 2
    make_images(user, 3)
    answer = alice.post("/selection", {"action": "favourite", "all": "1"})
    assert answer.status_code == 302 and "/bulk/" in answer["Location"]
    page = alice.get(answer["Location"]).content.decode()
    assert "Working on 3 images" in page and 'http-equiv="refresh"' in page


def _zip_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return archive.namelist()


def test_zip_of_a_selection_a_board_and_a_tag(alice, user):
    images = make_images(user, 4, prompt="paper cranes", tags=["origami"])
    board = services.board_create(owner=user, name="Cranes!")
    services.board_images_add(boards=[board], images=Image.objects.filter(pk=images[0].pk))
    answer = alice.post("/selection", {"action": "zip", "ids": [str(i.pk) for i in images[:2]]})
    assert answer["Content-Type"] == "application/zip"
    assert len(_zip_names(b"".join(answer.streaming_content))) == 3
    answer = alice.get(f"/download.zip?board={board.pk}")
    assert 'filename="novisurf-cranes-' in answer["Content-Disposition"]
    assert len(_zip_names(b"".join(answer.streaming_content))) == 2
    answer = alice.get("/download.zip?tag=origami")
    assert len(_zip_names(b"".join(answer.streaming_content))) == 5


@pytest.mark.django_db(transaction=True)  # the handler's sync thread has its own connection
def test_zip_streams_under_asgi_chunk_by_chunk(client, user, settings):
    # Big enough for several chunks: Django's own StreamingHttpResponse would gather them all
    # into one list first (and warn); ours sends each as it is made.
    settings.NOVISURF_THUMBNAIL_SIZE = 16
    make_images(user, 4, prompt="streamed")
    for image in Image.objects.filter(owner=user):
        noisy = utils.png_bytes((400, 400), noise=True)
        with image.file.open("wb") as handle:
            handle.write(noisy)
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/download.zip",
        "raw_path": b"/download.zip",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    sent: list[dict] = []

    requested = False

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never goes away

    async def send(message):
        sent.append(message)

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="StreamingHttpResponse must consume")
        asyncio.run(ASGIHandler()(scope, receive, send))
    start = sent[0]
    assert start["status"] == 200, start
    bodies = [m.get("body", b"") for m in sent[1:] if m["type"] == "http.response.body"]
    assert len([b for b in bodies if b]) >= 2, "sent as one piece, not streamed"
    assert len(_zip_names(b"".join(bodies))) == 5


def test_upload_reports_each_file(alice, user):
    good = io.BytesIO(distinct_png(text={"parameters": "a tin robot waving\nSteps: 4"}))
    good.name = "robot.png"
    bad = io.BytesIO(b"nope")
    bad.name = "bad.png"
    answer = alice.post(
        "/import", {"files": [good, bad], "tags": "imported"}, HTTP_ACCEPT="application/json"
    )
    results = json.loads(answer.content)["results"]
    assert [r["status"] for r in results] == ["imported", "failed"]
    assert results[1]["name"] == "bad.png" and results[1]["reason"]
    image = Image.objects.get(owner=user)
    assert image.prompt == "a tin robot waving" and [t.name for t in image.tag_list] == ["imported"]
    assert selectors.image_list(owner=user, query="robot").count() == 1


def test_favourites_link_filters_the_gallery(alice, user):
    starred, plain = make_images(user, 2)
    services.image_favourite_set(image=starred, favourite=True)
    page = alice.get(reverse("gallery:home") + "?favourites=1").content.decode()
    assert str(starred.pk) in page and str(plain.pk) not in page


@pytest.mark.parametrize("where", ["board", "trash"])
def test_a_board_and_the_trash_serve_their_next_page_as_tiles_for_the_scrolling_script(
    alice, user, settings, where
):
    settings.GALLERY_PAGE_SIZE = 2
    images = make_images(user, 5)
    if where == "board":
        board = services.board_create(owner=user, name="Posters")
        services.board_images_add(boards=[board], images=Image.objects.filter(owner=user))
        url = f"/boards/{board.pk}/"
    else:
        services.images_trash(owner=user, images=Image.objects.filter(owner=user))
        url = "/trash/"
    page = alice.get(url).content.decode()
    assert 'id="listing"' in page and 'href="#listing">Skip to images' in page
    assert "js/place.js" in page and "js/gallery.js" in page
    more = alice.get(url, {"after": page.split("after=")[1].split('"')[0], "fragment": "tiles"})
    fragment = more.content.decode()
    assert "<html" not in fragment and fragment.count('class="tile"') == 2
    assert 'rel="next"' in fragment
    first = {str(i.pk) for i in images if f'data-image-id="{i.pk}"' in page}
    further = {str(i.pk) for i in images if f'data-image-id="{i.pk}"' in fragment}
    assert len(first) == 2 and len(further) == 2 and not first & further  # not the first again
    if where == "trash":
        # A tile's own Restore comes back to the listing, not to the fragment it came in.
        assert f'name="next" value="{url}"' in fragment and "fragment=tiles" not in fragment


def test_an_empty_trash_skips_to_the_page(alice):
    page = alice.get("/trash/").content.decode()
    assert 'href="#main">Skip to images' in page and 'id="listing"' not in page
