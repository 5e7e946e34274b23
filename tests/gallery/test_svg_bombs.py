"""SVG bombs imported, edited or answered by a provider cannot hold the site: drawing happens in
a child process with limits, and what is over budget is refused as too complex to display."""

from __future__ import annotations

import threading

import pytest
import requests
from django.conf import settings
from django.core.files.base import ContentFile

from gallery import services
from gallery.models import Generation
from novisurf import imaging
from tests.novisurf.test_imaging import use_bomb

SMALL_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
    b'<rect width="40" height="20" fill="teal"/></svg>'
)


@pytest.mark.django_db
def test_an_imported_svg_bomb_fails_alone_with_a_reason(user):
    result = services.image_import(owner=user, data=use_bomb(), filename="bomb.svg")
    assert result.status == "failed"
    assert "too complex to display" in result.reason
    assert services.image_import(owner=user, data=SMALL_SVG, filename="ok.svg").status == (
        "imported"
    )


@pytest.mark.django_db
def test_a_provider_svg_bomb_is_recorded_as_that_items_failure(user):
    generation = Generation.objects.create(
        owner=user, prompt="p", model="m", n=1, size="1024x1024", response_format="b64_json"
    )
    with pytest.raises(imaging.ImageRejected, match="too complex to display"):
        services.image_store(generation=generation, index=0, data=use_bomb(4, blur=True))


@pytest.mark.django_db
def test_editing_an_svg_too_complex_to_draw_fails_with_a_reason(user):
    parent = services.image_import(owner=user, data=SMALL_SVG, filename="ok.svg").image
    # As if the file on disk were a bomb (one stored before drawing had a budget).
    name = parent.file.name
    parent.file.storage.delete(name)
    parent.file.storage.save(name, ContentFile(use_bomb()))
    edit = services.edit_create(owner=user, image=parent, prompt="make it blue")
    with pytest.raises(services.EditSourceMissing, match="too complex to display"):
        services.edit_files(generation=edit)


@pytest.mark.django_db(transaction=True)
def test_pages_answer_while_an_svg_bomb_is_being_drawn(live_server, client, user, monkeypatch):
    # The budget is lifted so that the bomb (12 s of drawing) reaches the rasteriser; while its
    # child process draws, /healthz and a gallery page still answer, and the import then reports
    # the bomb as too complex when the child's CPU limit stops it.
    monkeypatch.setattr(imaging, "MAX_SVG_DRAW_COST", 10**12)
    monkeypatch.setattr(imaging, "SVG_RENDER_CPU_SECONDS", 3)
    children = []
    drawing = threading.Event()
    spawn = imaging._spawn

    def watched_spawn(args):
        child = spawn(args)
        children.append(child)
        drawing.set()
        return child

    monkeypatch.setattr(imaging, "_spawn", watched_spawn)
    client.force_login(user)
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    answer = {}

    def import_bomb():
        answer["response"] = requests.post(
            f"{live_server.url}/import",
            files={"files": ("bomb.svg", use_bomb(5, blur=True), "image/svg+xml")},
            headers={"Accept": "application/json", "X-CSRFToken": "x" * 32},
            cookies={**cookies, settings.CSRF_COOKIE_NAME: "x" * 32},
            timeout=60,
        )

    importer = threading.Thread(target=import_bomb)
    importer.start()
    try:
        assert drawing.wait(timeout=20), "the bomb never reached the rasteriser"
        health = requests.get(f"{live_server.url}/healthz", timeout=30)
        page = requests.get(f"{live_server.url}/", cookies=cookies, timeout=30)
        # Both answered while the bomb's child was still drawing (it had seconds of CPU left).
        still_drawing = children[0].poll() is None
    finally:
        importer.join(timeout=60)
    assert health.status_code == 200
    assert page.status_code == 200
    assert still_drawing
    results = answer["response"].json()["results"]
    assert results[0]["status"] == "failed"
    assert "too complex to display" in results[0]["reason"]
