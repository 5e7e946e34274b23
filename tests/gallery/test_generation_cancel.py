"""Cancel: a queued or running generation stops, stores nothing more, stops asking its provider
(closing a stream it had open), and says "Cancelled"."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse
from werkzeug import Request, Response

from gallery import services
from gallery.models import GalleryEvent, Generation
from tests.utils import b64, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

GENERATIONS = "/v1/images/generations"


@pytest.fixture
def provider(settings, httpserver):
    settings.NOVISURF_API_BASE = httpserver.url_for("/v1")
    settings.NOVISURF_API_KEY = "sk-test"
    settings.NOVISURF_THUMBNAIL_SIZE = 8
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return httpserver


def queued(owner, *, model="dall-e-2", n=2, size="256x256") -> Generation:
    return Generation.objects.create(
        owner=owner, prompt="a quiet harbour", model=model, n=n, size=size, response_format=""
    )


def cancel_in_database(generation_id) -> None:
    """What a person's "Cancel" does while the worker is busy with the provider."""
    services.generation_cancel(generation=Generation.objects.get(pk=generation_id))


def run(generation: Generation) -> Generation:
    services.generation_run(generation_id=str(generation.pk))
    generation.refresh_from_db()
    return generation


def test_a_cancelled_queued_generation_is_never_sent(provider, user):
    generation = queued(user)
    services.generation_cancel(generation=generation)
    assert generation.status == Generation.Status.CANCELLED
    assert generation.get_status_display() == "Cancelled"
    assert generation.finished_at is not None and generation.is_finished
    assert not generation.can_cancel and generation.can_retry
    assert services.generation_work() is None  # nothing runnable is left
    assert run(generation).status == Generation.Status.CANCELLED
    assert provider.log == []
    assert GalleryEvent.objects.filter(
        generation_id=generation.pk, kind="generation", payload__status="cancelled"
    ).exists()


def test_images_that_arrive_after_cancel_are_not_stored(provider, user):
    generation = queued(user)

    def answer(request: Request) -> Response:
        cancel_in_database(generation.pk)  # pressed while the provider was working
        body = {"created": 1, "data": [{"b64_json": b64(png_bytes((8, 8)))}] * 2}
        return Response(json.dumps(body), content_type="application/json")

    provider.expect_request(GENERATIONS).respond_with_handler(answer)
    generation = run(generation)
    assert generation.status == Generation.Status.CANCELLED
    assert generation.images.count() == 0
    assert generation.error == ""


def test_a_cancelled_generation_stops_retrying(provider, user, settings):
    generation = queued(user)
    calls = []

    def busy(request: Request) -> Response:
        calls.append(1)
        cancel_in_database(generation.pk)
        return Response('{"error": {"message": "busy"}}', status=503)

    provider.expect_request(GENERATIONS).respond_with_handler(busy)
    generation = run(generation)
    assert generation.status == Generation.Status.CANCELLED
    assert len(calls) == 1  # the client would have retried a 503 three times
    assert generation.error == ""


def test_a_cancelled_stream_is_closed_and_nothing_more_is_kept(provider, user):
    generation = queued(user, model="gpt-image-1", n=1, size="1024x1024")
    sent_after_cancel = []

    def stream(request: Request) -> Response:
        def events():
            partial = {
                "type": "image_generation.partial_image",
                "b64_json": b64(png_bytes((16, 16))),
                "partial_image_index": 0,
            }
            yield f"event: image_generation.partial_image\ndata: {json.dumps(partial)}\n\n"
            # "Cancel" is pressed once the page has shown the first partial image.
            deadline = time.monotonic() + 10
            while (
                time.monotonic() < deadline
                and not GalleryEvent.objects.filter(
                    generation_id=generation.pk, kind="partial"
                ).exists()
            ):
                time.sleep(0.02)
            cancel_in_database(generation.pk)
            for index in (1, 2):
                sent_after_cancel.append(index)
                again = {**partial, "partial_image_index": index}
                yield f"event: image_generation.partial_image\ndata: {json.dumps(again)}\n\n"
            done = {"type": "image_generation.completed", "b64_json": b64(png_bytes((16, 16)))}
            yield f"event: image_generation.completed\ndata: {json.dumps(done)}\n\n"

        return Response(events(), content_type="text/event-stream")

    provider.expect_request(GENERATIONS).respond_with_handler(stream)
    generation = run(generation)
    assert generation.status == Generation.Status.CANCELLED
    assert generation.images.count() == 0
    # The partial that came before "Cancel" was shown; none after it.
    partials = GalleryEvent.objects.filter(generation_id=generation.pk, kind="partial")
    assert [e.payload["partial_image_index"] for e in partials] == [0]


def test_a_finished_generation_is_not_cancelled(provider, user):
    generation = queued(user)
    Generation.objects.filter(pk=generation.pk).update(status=Generation.Status.DONE)
    generation.refresh_from_db()
    assert services.generation_cancel(generation=generation).status == Generation.Status.DONE


def test_a_cancelled_generation_can_be_run_again(provider, user):
    provider.expect_request(GENERATIONS).respond_with_json(
        {"created": 1, "data": [{"b64_json": b64(png_bytes((8, 8)))}] * 2}
    )
    generation = queued(user)
    services.generation_cancel(generation=generation)
    services.generation_retry(generation=generation)
    assert run(generation).status == Generation.Status.DONE
    assert generation.images.count() == 2


# -- the view ------------------------------------------------------------------------------------


def test_cancel_from_a_page_goes_back_and_says_cancelled(provider, client, user):
    generation = queued(user)
    client.force_login(user)
    url = reverse("gallery:generation-cancel", args=[generation.pk])
    response = client.post(url, {"next": "/?tag=sea"})
    assert response.status_code == 302 and response["Location"] == "/?tag=sea"
    page = client.get(reverse("gallery:generation", args=[generation.pk])).content.decode()
    assert "Cancelled" in page
    assert 'id="cancel-form" hidden' in page


def test_cancel_from_a_script_answers_the_state(provider, client, user):
    generation = queued(user)
    client.force_login(user)
    url = reverse("gallery:generation-cancel", args=[generation.pk])
    state = client.post(url, headers={"Accept": "application/json"}).json()
    assert (state["status"], state["status_label"], state["can_cancel"]) == (
        "cancelled",
        "Cancelled",
        False,
    )
    assert client.get(url).status_code == 405


def test_another_persons_generation_cannot_be_cancelled(provider, client, user, other_user):
    generation = queued(user)
    client.force_login(other_user)
    response = client.post(reverse("gallery:generation-cancel", args=[generation.pk]))
    assert response.status_code == 404
    generation.refresh_from_db()
    assert generation.status == Generation.Status.QUEUED


def test_the_gallery_offers_cancel_on_a_queued_generation_only(provider, client, user):
    waiting = queued(user)
    done = queued(user)
    Generation.objects.filter(pk=done.pk).update(status=Generation.Status.DONE)
    client.force_login(user)
    page = client.get(reverse("gallery:home")).content.decode()
    assert reverse("gallery:generation-cancel", args=[waiting.pk]) in page
    assert reverse("gallery:generation-cancel", args=[done.pk]) not in page


def test_a_cancelled_generation_counts_only_what_it_stored_against_the_daily_limit(
    provider, user, settings
):
    from tests.factories import distinct_png

    settings.NOVISURF_USER_IMAGES_PER_DAY = 10
    stopped = queued(user, n=8)
    services.image_store(generation=stopped, index=0, data=distinct_png())
    services.generation_cancel(generation=stopped)
    services.limits_check(owner=user, n=9)  # 1 stored + 9 = 10: allowed
    with pytest.raises(services.LimitReached):
        services.limits_check(owner=user, n=10)
