"""The usage page: images and cost per day, source, key, model and provider, the same rows as a
CSV; a person sees their own, staff see everyone's; nothing reads "None"."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from gallery import services
from gallery.models import Generation
from tests.factories import distinct_png, make_images

pytestmark = pytest.mark.django_db


def generation(owner, *, images: int, cost: str | None, **fields) -> Generation:
    made = Generation.objects.create(
        owner=owner,
        prompt=fields.pop("prompt", "priced"),
        model=fields.pop("model", "gpt-image-1"),
        n=max(images, 1),
        size="1024x1024",
        response_format="b64_json",
        status=Generation.Status.DONE,
        cost=Decimal(cost) if cost is not None else None,
        **fields,
    )
    for index in range(images):
        services.image_store(generation=made, index=index, data=distinct_png())
    return made


@pytest.fixture
def spending(user, other_user):
    generation(user, images=2, cost="0.084", provider="openai")
    generation(
        user,
        images=1,
        cost="0.04",
        model="dall-e-3",
        provider="cloud",
        source=Generation.Source.API,
        api_key_name="laptop script",
    )
    make_images(user, 3, prompt="free ones")  # the built-in renderer, no cost recorded
    services.image_import(owner=user, data=distinct_png(), filename="old.png")
    generation(other_user, images=1, cost="9.99", provider="openai", prompt="bob's")


def csv_rows(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_a_person_sees_their_images_and_cost_and_the_csv_has_the_same_rows(client, user, spending):
    client.force_login(user)
    page = client.get(reverse("gallery:usage")).content.decode()
    assert "Download CSV" in page
    assert "laptop script" in page and "$0.124" in page
    assert "None" not in page
    assert "9.99" not in page and "bob" not in page

    rows = csv_rows(client.get(reverse("gallery:usage-csv")))
    assert "None" not in str(rows)
    assert sum(Decimal(row["cost_usd"]) for row in rows) == Decimal("0.124")
    assert sum(int(row["images"]) for row in rows) == 7
    by_source = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    assert set(by_source) == {"Form", "API", "Import"}
    [api] = by_source["API"]
    assert api["key"] == "laptop script" and api["provider"] == "cloud"
    assert api["images"] == "1" and api["cost_usd"] == "0.04"
    assert by_source["Import"][0]["key"] == "" and by_source["Import"][0]["cost_usd"] == "0.00"
    assert "person" not in rows[0]


def test_a_generation_with_several_images_counts_its_cost_once(client, user):
    generation(user, images=3, cost="0.03")
    client.force_login(user)
    [row] = csv_rows(client.get(reverse("gallery:usage-csv")))
    assert row["images"] == "3" and row["cost_usd"] == "0.03"


def test_staff_see_everyones(client, user, spending, django_user_model):
    staff = django_user_model.objects.create_user("ops", password="x", is_staff=True)
    client.force_login(staff)
    rows = csv_rows(client.get(reverse("gallery:usage-csv")))
    assert {row["person"] for row in rows} == {"alice", "bob"}
    assert sum(Decimal(row["cost_usd"]) for row in rows) == Decimal("10.114")
    page = client.get(reverse("gallery:usage")).content.decode()
    assert "everyone" in page and "bob" in page


def test_another_month_is_empty_and_says_so(client, user, spending):
    client.force_login(user)
    page = client.get(reverse("gallery:usage"), {"month": "2001-02"}).content.decode()
    assert "No images made in February 2001." in page
    assert csv_rows(client.get(reverse("gallery:usage-csv"), {"month": "2001-02"})) == []


def test_a_month_that_is_not_one_means_this_month(client, user, spending):
    client.force_login(user)
    assert client.get(reverse("gallery:usage"), {"month": "soon"}).status_code == 200
