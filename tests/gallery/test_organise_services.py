"""Boards, bulk actions, trash, ZIP, import and checkstorage, through the services."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image as PILImage

from gallery import selectors, services
from gallery.models import Board, BulkAction, Image
from gallery.services.files import storage
from tests.factories import distinct_png, make_images

pytestmark = pytest.mark.django_db


def visible_ids(owner, **filters) -> set:
    return set(selectors.image_list(owner=owner, **filters).values_list("pk", flat=True))


def file_names(images) -> list[str]:
    return [name for image in images for name in (image.file.name, image.thumbnail.name)]


# -- favourites and boards ---------------------------------------------------------------------


def test_favourites_filter_lists_only_starred(user):
    images = make_images(user, 4)
    services.image_favourite_set(image=images[0], favourite=True)
    services.image_favourite_set(image=images[2], favourite=True)
    assert visible_ids(user, favourites=True) == {images[0].pk, images[2].pk}


def test_boards_group_images_and_deleting_one_keeps_them(user, other_user):
    images = make_images(user, 5)
    posters = services.board_create(owner=user, name="Posters")
    moods = services.board_create(owner=user, name="Moods")
    chosen = Image.objects.filter(pk__in=[i.pk for i in images[:3]])
    assert services.board_images_add(boards=[posters, moods], images=chosen) == 6
    # Again: nothing doubles.
    assert services.board_images_add(boards=[posters], images=chosen) == 0
    assert visible_ids(user, board=posters) == {i.pk for i in images[:3]}

    with pytest.raises(services.BoardNameInvalid, match="already have"):
        services.board_create(owner=user, name="posters")
    services.board_create(owner=other_user, name="Posters")  # names are per owner
    with pytest.raises(services.BoardNameInvalid):
        services.board_rename(board=moods, name="  ")
    services.board_rename(board=moods, name="Mood board")

    boards = {b.name: b for b in selectors.board_list(owner=user)}
    assert boards["Posters"].image_count == 3
    assert boards["Posters"].cover_image_id in {i.pk for i in images[:3]}
    services.board_cover_set(board=posters, image=images[2])
    assert {b.name: b for b in selectors.board_list(owner=user)}["Posters"].cover_image_id == (
        images[2].pk
    )

    services.board_delete(board=posters)
    assert Image.objects.filter(owner=user).count() == 5
    assert not Board.objects.filter(pk=posters.pk).exists()
    with pytest.raises(Board.DoesNotExist):
        selectors.board_get(owner=other_user, board_id=moods.pk)


def test_another_owners_images_never_join_a_board(user, other_user):
    mine = services.board_create(owner=user, name="Mine")
    theirs = make_images(other_user, 2)
    services.board_images_add(boards=[mine], images=Image.objects.filter(owner=other_user))
    assert not mine.entries.exists()
    assert len(theirs) == 2


# -- bulk actions: constant queries --------------------------------------------------------------


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def test_bulk_tag_and_trash_cost_the_same_queries_for_3_or_30_images(user, other_user):
    make_images(user, 3, prompt="few", tags=["few"])
    make_images(user, 30, prompt="many", tags=["many"])
    make_images(other_user, 3, prompt="few", tags=["few"])
    services.tags_for(owner=user, names=["sea"])  # made once, not by the first action only

    def act(tag: str, action: str, params: dict) -> int:
        images = selectors.image_selection(owner=user, filters={"tag": tag})
        return _queries(
            lambda: services.bulk_apply(owner=user, action=action, params=params, images=images)
        )

    assert act("few", "tag-add", {"tags": ["sea"]}) == act("many", "tag-add", {"tags": ["sea"]})
    assert visible_ids(user, tag="sea") == visible_ids(user, tag="few") | visible_ids(
        user, tag="many"
    )
    assert act("few", "tag-remove", {"tags": ["SEA"]}) == act(
        "many", "tag-remove", {"tags": ["sea"]}
    )
    assert visible_ids(user, tag="sea") == set()
    assert act("few", "favourite", {}) == act("many", "favourite", {})
    assert len(visible_ids(user, favourites=True)) == 33
    assert act("few", "trash", {}) == act("many", "trash", {})
    assert visible_ids(user) == set()
    # Bob's images with the same tag name were never touched.
    assert Image.objects.filter(owner=other_user, trashed_at=None, is_favourite=False).count() == 3


def test_select_all_covers_every_page_of_the_listing(user):
    make_images(user, 30, prompt="red boats")
    make_images(user, 5, prompt="green hills")
    images = selectors.image_selection(owner=user, filters={"q": "boats"})
    board = services.board_create(owner=user, name="Boats")
    result = services.bulk_apply(
        owner=user, action="board-add", params={"boards": [board.pk]}, images=images
    )
    assert result.count == 30
    assert len(visible_ids(user, board=board)) == 30


def test_big_selections_run_in_the_background(user, settings, django_capture_on_commit_callbacks):
    settings.NOVISURF_BULK_INLINE_LIMIT = 3
    make_images(user, 5, tags=["batch"])
    selection = {"filters": {"tag": "batch"}}
    images = selectors.image_selection(owner=user, filters=selection["filters"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        bulk = services.bulk_action_start(
            owner=user, action="trash", params={}, selection=selection, images=images
        )
    assert isinstance(bulk, BulkAction) and bulk.total == 5 and len(callbacks) == 1
    assert bulk.status == BulkAction.Status.QUEUED
    services.bulk_action_run(bulk_id=bulk.pk)
    services.bulk_action_run(bulk_id=bulk.pk)  # a second run does nothing
    bulk.refresh_from_db()
    assert (bulk.status, bulk.done) == (BulkAction.Status.DONE, 5)
    assert Image.objects.filter(owner=user).trashed().count() == 5
    assert "Moved 5 images" in bulk.params["message"]


def test_bad_bulk_requests_say_why(user):
    images = selectors.image_selection(owner=user, ids=[i.pk for i in make_images(user, 1)])
    with pytest.raises(services.BulkActionInvalid, match="tag name"):
        services.bulk_action_start(
            owner=user, action="tag-add", params={"tags": []}, selection={}, images=images
        )
    with pytest.raises(services.BulkActionInvalid, match="Unknown"):
        services.bulk_action_start(
            owner=user, action="melt", params={}, selection={}, images=images
        )
    with pytest.raises(services.BulkActionInvalid, match="Select"):
        services.bulk_action_start(
            owner=user, action="trash", params={}, selection={}, images=Image.objects.none()
        )


# -- trash ---------------------------------------------------------------------------------------


def test_trash_hides_everywhere_and_undo_restores_the_batch(user):
    images = make_images(user, 4, prompt="lantern festival", tags=["night"])
    board = services.board_create(owner=user, name="Night")
    services.board_images_add(boards=[board], images=Image.objects.filter(owner=user))
    first = services.images_trash(
        owner=user, images=Image.objects.filter(pk__in=[images[0].pk, images[1].pk])
    )
    second = services.images_trash(owner=user, images=Image.objects.filter(pk=images[2].pk))
    assert (first.count, second.count) == (2, 1)
    for filters in ({}, {"tag": "night"}, {"query": "lantern"}, {"board": board}):
        assert visible_ids(user, **filters) == {images[3].pk}, filters
    assert selectors.board_list(owner=user)[0].image_count == 1

    assert services.trash_undo(owner=user, at=first.at) == 2
    assert visible_ids(user) == {images[0].pk, images[1].pk, images[3].pk}
    assert services.images_restore(owner=user, images=Image.objects.filter(pk=images[2].pk)) == 1
    assert len(visible_ids(user)) == 4


def _exists(name: str) -> bool:
    return storage().exists(name)


def test_files_go_when_trash_is_emptied_or_an_image_deleted_forever(
    user, django_capture_on_commit_callbacks
):
    images = make_images(user, 3)
    names = file_names(images)
    assert all(_exists(n) for n in names)
    services.images_trash(owner=user, images=Image.objects.filter(owner=user))
    assert all(_exists(n) for n in names), "trashed images keep their files"
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            services.images_delete_forever(owner=user, images=Image.objects.filter(pk=images[0].pk))
            == 1
        )
    assert not any(_exists(n) for n in file_names(images[:1]))
    assert all(_exists(n) for n in file_names(images[1:]))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.trash_empty(owner=user) == 2
    assert not any(_exists(n) for n in names)
    assert not Image.objects.filter(owner=user).exists()


def test_files_go_on_a_bulk_delete_and_a_deleted_users_cascade(
    user, other_user, django_capture_on_commit_callbacks
):
    mine, theirs = make_images(user, 3), make_images(other_user, 2)
    with django_capture_on_commit_callbacks(execute=True):
        Image.objects.filter(pk__in=[i.pk for i in mine[:2]]).delete()
    assert not any(_exists(n) for n in file_names(mine[:2]))
    assert all(_exists(n) for n in file_names(mine[2:]))
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()
    assert not any(_exists(n) for n in file_names(mine))
    assert all(_exists(n) for n in file_names(theirs))
    report = services.storage_check()
    assert report.clean and report.rows == 2 and report.files == 4


def test_files_go_when_the_admin_deletes_an_image(
    client, admin_user, user, django_capture_on_commit_callbacks
):
    image = make_images(user, 1)[0]
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/admin/gallery/image/{image.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not any(_exists(n) for n in file_names([image]))


def test_trash_purge_deletes_only_what_is_older_than_the_setting(
    user, settings, django_capture_on_commit_callbacks
):
    settings.NOVISURF_TRASH_DAYS = 30
    old, recent, kept = make_images(user, 3)
    now = timezone.now()
    Image.objects.filter(pk=old.pk).update(trashed_at=now - timedelta(days=31))
    Image.objects.filter(pk=recent.pk).update(trashed_at=now - timedelta(days=29))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.trash_purge(now=now) == 1
    assert set(Image.objects.values_list("pk", flat=True)) == {recent.pk, kept.pk}
    assert not any(_exists(n) for n in file_names([old]))


def test_checkstorage_reports_both_ways_and_fix_removes_strays(user, capsys):
    images = make_images(user, 2)
    storage().delete(images[0].file.name)
    stray = storage().save("originals/2020/01/01/stray.png", io.BytesIO(b"not ours"))
    report = services.storage_check()
    assert report.missing == [(str(images[0].pk), images[0].file.name)]
    assert report.stray == [stray]
    with pytest.raises(SystemExit):
        call_command("checkstorage")
    out = capsys.readouterr().out
    assert "missing file" in out and stray in out
    with pytest.raises(SystemExit):  # the missing file is still reported after --fix
        call_command("checkstorage", "--fix")
    assert not _exists(stray)
    assert "1 removed" in capsys.readouterr().out


# -- ZIP -----------------------------------------------------------------------------------------


def test_zip_holds_each_original_with_parameters_and_metadata(user):
    images = make_images(user, 3, prompt="a red kite, over dunes", tags=["kite"])
    board = services.board_create(owner=user, name="Kites")
    services.board_images_add(boards=[board], images=Image.objects.filter(pk=images[0].pk))
    data = b"".join(services.images_zip(images=selectors.image_list(owner=user)))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(set(names)) == 4 and names[-1] == "metadata.json"
        assert all(n.endswith("-a-red-kite-over-dunes.png") for n in names[:3])
        meta = json.loads(archive.read("metadata.json"))["images"]
        by_id = {entry["id"]: entry for entry in meta}
        for image in images:
            entry = by_id[str(image.pk)]
            assert entry["prompt"] == "a red kite, over dunes"
            assert entry["tags"] == ["kite"]
            assert entry["size"] == "32x24"
            member = archive.read(entry["file"])
            with image.file.open("rb") as handle, PILImage.open(io.BytesIO(member)) as got:
                original = PILImage.open(io.BytesIO(handle.read()))
                assert got.convert("RGB").tobytes() == original.convert("RGB").tobytes()
                assert got.text["parameters"].startswith("a red kite, over dunes\n")
        assert by_id[str(images[0].pk)]["boards"] == ["Kites"]


# -- import --------------------------------------------------------------------------------------

A1111 = (
    "masterpiece, a copper teapot on a windowsill\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 32x24, "
    'Model: dreamshaper_8, Lora hashes: "a: 1, b: 2"'
)
COMFY_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {"seed": 7, "steps": 20, "positive": ["6", 0], "negative": ["7", 0]},
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl_base.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a fox in fresh snow"}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "watermark"}},
}


def test_import_reads_a1111_comfyui_and_novisurf_metadata(user):
    a1111 = services.image_import(
        owner=user, data=distinct_png(text={"parameters": A1111}), filename="00001.png"
    )
    assert a1111.status == "imported", a1111.reason
    image = a1111.image
    assert image.prompt == "masterpiece, a copper teapot on a windowsill"
    assert image.model == "dreamshaper_8" and image.generation is None
    assert image.metadata["negative_prompt"] == "blurry, lowres"
    assert image.metadata["settings"]["Lora hashes"] == "a: 1, b: 2"
    assert image.metadata["source"] == "a1111"

    comfy = services.image_import(
        owner=user,
        data=distinct_png(text={"prompt": json.dumps(COMFY_PROMPT), "workflow": "{}"}),
        filename="ComfyUI_0001_.png",
        tag_names=["comfy"],
    ).image
    assert comfy.prompt == "a fox in fresh snow"
    assert comfy.model == "sdxl_base.safetensors"
    assert comfy.metadata["negative_prompt"] == "watermark"
    assert [t.name for t in comfy.tag_list] == ["comfy"]

    # Novisurf's own downloads come back with their prompt.
    own = make_images(user, 1, prompt="a glass lighthouse")[0]
    data, _ = services.image_download(image=own)
    services.images_delete_forever
    again = services.image_import(owner=user, data=data, filename="novisurf.png").image
    assert again.prompt == "a glass lighthouse" and again.metadata["source"] == "novisurf"

    assert visible_ids(user, query="teapot") == {image.pk}
    assert visible_ids(user, query="fox") == {comfy.pk}


def test_import_skips_duplicates_and_fails_bad_files_alone(user, other_user):
    data = distinct_png()
    first = services.image_import(owner=user, data=data, filename="a.png")
    again = services.image_import(owner=user, data=data, filename="copy of a.png")
    assert (first.status, again.status) == ("imported", "duplicate")
    assert again.image.pk == first.image.pk
    # Another person may import the same file.
    assert services.image_import(owner=other_user, data=data, filename="a.png").status == (
        "imported"
    )
    bad = services.image_import(owner=user, data=b"definitely not a picture", filename="x.png")
    truncated = services.image_import(owner=user, data=distinct_png()[:60], filename="t.png")
    assert bad.status == truncated.status == "failed"
    assert "not an image" in bad.reason and truncated.reason
    assert Image.objects.filter(owner=user).count() == 1
    assert first.image.prompt == "a"  # no metadata: the file's name stands in


def test_importimages_command_imports_a_folder(user, tmp_path, capsys):
    folder = tmp_path / "outputs" / "day1"
    folder.mkdir(parents=True)
    for index in range(3):
        text = {"parameters": f"prompt number {index} of a harbour\nSteps: 20, Seed: {index}"}
        (folder / f"{index:05d}.png").write_bytes(distinct_png(text=text))
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    (folder / "notes.txt").write_text("ignored")
    (tmp_path / "outputs" / "dup.png").write_bytes((folder / "00000.png").read_bytes())
    call_command("importimages", str(tmp_path / "outputs"), "--user", "alice", "--tags", "sd")
    captured = capsys.readouterr()
    assert "Imported 3, skipped 1 duplicate, 1 failed." in captured.out
    assert "broken.png" in captured.err
    assert visible_ids(user, query="harbour") == visible_ids(user, tag="sd")
    assert len(visible_ids(user, tag="sd")) == 3
