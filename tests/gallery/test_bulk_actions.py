"""The bulk-action registry (gallery.bulk_actions): one class per action, read by the service,
the view and the toolbar; and the trash's actions on it, with their questions and "Undo"."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from gallery import bulk_actions, selectors, services
from gallery.bulk_actions import GALLERY, REGISTRY, TRASH, BulkResult, ImageAction
from gallery.models import BulkAction, Image
from tests.factories import make_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client, user):
    client.force_login(user)
    return client


def toolbar_values(html: str) -> list[str]:
    return re.findall(r'<button type="submit" name="action" value="([^"]+)"', html)


def test_the_registry_names_each_action_once_with_a_button():
    assert len({action.label for action in REGISTRY.values() if action.in_toolbar}) == len(
        [action for action in REGISTRY.values() if action.in_toolbar]
    )
    for name, action in REGISTRY.items():
        assert action.name == name and action.label and action.scope in (GALLERY, TRASH)


def test_the_toolbar_shows_the_registrys_actions_in_its_order(alice, user):
    make_images(user, 2)
    board = services.board_create(owner=user, name="Mood")
    services.board_images_add(boards=[board], images=Image.objects.filter(owner=user))
    gallery_actions = [
        a.name for a in REGISTRY.values() if a.scope == GALLERY and a.in_toolbar and a.name
    ]
    home = alice.get("/").content.decode()
    assert toolbar_values(home) == [n for n in gallery_actions if n != "board-remove"]
    assert toolbar_values(alice.get(f"/boards/{board.pk}/").content.decode()) == gallery_actions
    services.images_trash(owner=user, images=Image.objects.filter(owner=user))
    assert toolbar_values(alice.get("/trash/").content.decode()) == ["restore", "delete-forever"]


def test_a_new_action_is_one_class(alice, user):
    """Registered, it is in the toolbar, and the view and the service run it by its name."""
    make_images(user, 3)

    @bulk_actions.register
    class Recolour(ImageAction):
        name = "recolour"
        label = "Recolour"

        @classmethod
        def params_from(cls, data, *, owner) -> dict:
            return {"colour": data.get("colour", "")}

        @classmethod
        def apply(cls, *, owner, images, params) -> BulkResult:
            return BulkResult(cls.name, images.count(), f"Recoloured {params['colour']}.")

    try:
        assert "recolour" in toolbar_values(alice.get("/").content.decode())
        ids = [str(i.pk) for i in Image.objects.filter(owner=user)[:2]]
        answer = alice.post(
            "/selection", {"action": "recolour", "ids": ids, "colour": "teal"}, follow=True
        )
        assert "Recoloured teal." in answer.content.decode()
    finally:
        del REGISTRY["recolour"]


def test_an_unknown_action_says_so(alice, user):
    image = make_images(user, 1)[0]
    answer = alice.post("/selection", {"action": "melt", "ids": [str(image.pk)]}, follow=True)
    assert "Unknown action: &#x27;melt&#x27;." in answer.content.decode()


def test_the_trash_toolbar_restores_and_deletes_the_selection(
    alice, user, django_capture_on_commit_callbacks
):
    images = make_images(user, 4)
    services.images_trash(owner=user, images=Image.objects.filter(owner=user))
    ids = [str(images[0].pk), str(images[1].pk)]
    answer = alice.post("/selection", {"action": "restore", "ids": ids, "next": "/trash/"})
    assert answer.status_code == 302 and answer["Location"] == "/trash/"
    assert selectors.image_list(owner=user).count() == 2

    asked = alice.post("/selection", {"action": "delete-forever", "ids": [str(images[2].pk)]})
    assert "Delete 1 image forever? This cannot be undone." in asked.content.decode()
    assert Image.objects.filter(owner=user).count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(
            "/selection",
            {"action": "delete-forever", "ids": [str(images[2].pk)], "confirmed": "1"},
        )
    assert Image.objects.filter(owner=user).count() == 3


def test_restore_all_asks_naming_how_many_then_restores_every_page(alice, user, settings):
    settings.GALLERY_PAGE_SIZE = 2
    make_images(user, 5)
    services.images_trash(owner=user, images=Image.objects.filter(owner=user))
    trash = alice.get("/trash/").content.decode()
    assert "Restore all" in trash and "Empty trash" in trash
    asked = alice.post("/selection", {"action": "restore", "all": "1", "next": "/trash/"})
    page = asked.content.decode()
    assert "Restore all 5 images in the trash?" in page and 'name="confirmed"' in page
    assert selectors.image_list(owner=user).count() == 0
    alice.post("/selection", {"action": "restore", "all": "1", "confirmed": "1"})
    assert selectors.image_list(owner=user).count() == 5


def test_the_trash_pages_by_cursor_last_trashed_first(alice, user, settings):
    settings.GALLERY_PAGE_SIZE = 2
    images = make_images(user, 5)
    for image in images:  # one batch each, in this order
        services.images_trash(owner=user, images=Image.objects.filter(pk=image.pk))
    seen, url = [], "/trash/"
    for _ in range(5):
        html = alice.get(url).content.decode()
        seen += re.findall(r'id="tile-([0-9a-f-]{36})"', html)
        more = re.search(r'rel="next" data-more href="([^"]+)"', html)
        if not more:
            break
        url = "/trash/" + more.group(1).replace("&amp;", "&")
    assert seen == [str(image.pk) for image in reversed(images)]


def test_undo_stays_on_the_next_pages_and_the_trash_page_for_its_window(alice, user, settings):
    images = make_images(user, 3)
    alice.post("/selection", {"action": "trash", "ids": [str(i.pk) for i in images[:2]]})
    for url in ("/", "/boards/", "/trash/", f"/images/{images[2].pk}/"):
        page = alice.get(url).content.decode()
        assert "Moved 2 images to the trash." in page and ">Undo</button>" in page, url
    settings.NOVISURF_TRASH_UNDO_SECONDS = 0
    assert ">Undo</button>" not in alice.get("/").content.decode()


def test_a_big_restore_runs_in_the_background_on_the_trash(alice, user, settings):
    settings.NOVISURF_BULK_INLINE_LIMIT = 2
    make_images(user, 4)
    services.images_trash(owner=user, images=Image.objects.filter(owner=user))
    answer = alice.post("/selection", {"action": "restore", "all": "1", "confirmed": "1"})
    bulk = BulkAction.objects.get(owner=user)
    assert answer["Location"] == f"/bulk/{bulk.pk}/"
    services.bulk_action_run(bulk_id=bulk.pk)
    bulk.refresh_from_db()
    assert bulk.status == BulkAction.Status.DONE and bulk.done == 4
    assert Image.objects.filter(owner=user, trashed_at__isnull=True).count() == 4
    assert bulk.finished_at <= timezone.now()
