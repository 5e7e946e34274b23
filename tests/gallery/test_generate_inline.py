"""Generate from the gallery without leaving it: a script's Generate gets the new generation's
state and its recent entry; a refused form gets the page with its errors, as without script."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gallery.models import Generation
from novisurf.protocol import PROCEDURAL_MODEL

pytestmark = pytest.mark.django_db

JSON = {"Accept": "application/json"}


@pytest.fixture
def no_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def form(**values) -> dict:
    return {
        "prompt": "A paper boat at sea",
        "model": PROCEDURAL_MODEL,
        "n": 3,
        "size": "512x512",
        "response_format": "url",
        "tags": "boats",
        **values,
    }


def test_a_scripts_generate_answers_the_state_and_the_recent_entry(client, user, no_tasks):
    client.force_login(user)
    response = client.post(reverse("gallery:generate"), form(), headers=JSON)
    assert response.status_code == 201
    state = response.json()
    generation = Generation.objects.get(owner=user)
    assert state["id"] == str(generation.pk)
    assert (state["status"], state["n"], state["kept"]) == ("queued", 3, 0)
    assert state["url"] == reverse("gallery:generation", args=[generation.pk])
    assert f'data-generation-id="{generation.pk}"' in state["html"]
    assert state["html"].count('class="recent-slot"') == 3  # its places, to fill in
    assert "Cancel" in state["html"]


def test_a_refused_form_answers_the_page_with_its_errors(client, user, no_tasks):
    client.force_login(user)
    response = client.post(reverse("gallery:generate"), form(prompt=""), headers=JSON)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "This field is required." in response.content.decode()
    assert not Generation.objects.exists()


def test_without_script_generate_still_opens_the_generation(client, user, no_tasks):
    client.force_login(user)
    response = client.post(reverse("gallery:generate"), form())
    generation = Generation.objects.get(owner=user)
    assert response["Location"] == reverse("gallery:generation", args=[generation.pk])


def test_retry_from_the_gallery_answers_the_state(client, user, no_tasks):
    generation = Generation.objects.create(
        owner=user,
        prompt="a glass whale",
        model=PROCEDURAL_MODEL,
        n=1,
        size="512x512",
        response_format="url",
        status=Generation.Status.FAILED,
        error="Refused by the model.",
    )
    client.force_login(user)
    page = client.get(reverse("gallery:home")).content.decode()
    assert "Refused by the model." in page  # the reason, in the gallery
    url = reverse("gallery:generation-retry", args=[generation.pk])
    state = client.post(url, headers=JSON).json()
    assert state["status"] == "queued" and "Retry" not in state["html"]
