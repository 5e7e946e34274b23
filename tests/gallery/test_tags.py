"""The Tags page and its services: counts, rename, merge and delete, each person's tags alone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gallery import selectors, services
from gallery.models import Image, Tag
from tests.factories import make_images

pytestmark = pytest.mark.django_db


def tag_of(owner, name: str) -> Tag:
    return Tag.objects.get(owner=owner, name__iexact=name)


def names_on(image: Image) -> set[str]:
    return {tag.name for tag in Image.objects.get(pk=image.pk).tags.all()}


@pytest.fixture
def tagged(user, other_user) -> dict[str, list[Image]]:
    sea = make_images(user, 3, prompt="waves", tags=["sea"])
    ocean = make_images(user, 2, prompt="deep water", tags=["Ocean"])
    services.image_tag_add(image=sea[0], names=["Ocean"])  # one image carries both
    theirs = make_images(other_user, 1, prompt="their sea", tags=["sea"])
    services.images_trash(owner=user, images=Image.objects.filter(pk=sea[2].pk))
    return {"sea": sea, "ocean": ocean, "theirs": theirs}


def test_the_page_lists_every_tag_with_its_count_and_a_link(client, user, tagged):
    client.force_login(user)
    response = client.get(reverse("gallery:tags"))
    assert response.status_code == 200
    text = response.content.decode()
    gallery = reverse("gallery:home")
    assert f'href="{gallery}?tag=Ocean">#Ocean</a>' in text
    assert f'href="{gallery}?tag=sea">#sea</a>' in text
    assert "3 images" in text  # Ocean: two of its own and one of the sea images
    counts = {tag.name: tag.image_count for tag in selectors.tag_list(owner=user)}
    trashed = {tag.name: tag.trashed_count for tag in selectors.tag_list(owner=user)}
    assert counts == {"Ocean": 3, "sea": 2}
    assert trashed == {"Ocean": 0, "sea": 1}
    assert "1 in the trash" in text
    assert text.count('class="tag-row"') == 2  # the other person's "sea" is theirs alone


def test_the_navigation_links_to_the_tags_page(client, user):
    client.force_login(user)
    text = client.get(reverse("gallery:home")).content.decode()
    assert f'href="{reverse("gallery:tags")}">Tags</a>' in text


def test_rename_changes_the_name_everywhere(client, user, tagged):
    client.force_login(user)
    sea = tag_of(user, "sea")
    response = client.post(reverse("gallery:tag-rename", args=[sea.pk]), {"name": "  Seaside  "})
    assert response.status_code == 302
    assert names_on(tagged["sea"][1]) == {"Seaside"}
    assert selectors.image_list(owner=user, tag="seaside").count() == 2
    assert selectors.image_list(owner=user, query="seasid").count() == 2
    assert selectors.image_list(owner=user, query="tag:Seaside").count() == 2
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "Renamed \N{LEFT DOUBLE QUOTATION MARK}sea\N{RIGHT DOUBLE QUOTATION MARK} to \N{LEFT DOUBLE QUOTATION MARK}Seaside\N{RIGHT DOUBLE QUOTATION MARK}."
    ]
    assert tag_of(tagged["theirs"][0].owner, "sea")  # the other person's tag is untouched


def test_rename_onto_another_tag_merges_them(user, tagged):
    sea, ocean = tag_of(user, "sea"), tag_of(user, "ocean")
    result = services.tag_rename(owner=user, tag=sea, name="OCEAN")
    assert result.merged and result.tag == ocean
    assert result.moved == 2  # sea[0] had Ocean already
    assert not Tag.objects.filter(pk=sea.pk).exists()
    assert names_on(tagged["sea"][0]) == {"Ocean"}
    assert names_on(tagged["sea"][1]) == {"Ocean"}
    assert selectors.image_list(owner=user, tag="ocean").count() == 4  # one is in the trash
    assert selectors.image_list(owner=user, query="sea").count() == 0


def test_rename_to_its_own_name_in_another_case_is_a_rename(user, tagged):
    result = services.tag_rename(owner=user, tag=tag_of(user, "sea"), name="SEA")
    assert not result.merged
    assert tag_of(user, "sea").name == "SEA"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("", "Type a name"), ("   ", "Type a name"), ("a, b", "comma"), ("x" * 101, "at most 100")],
)
def test_a_bad_name_is_refused_with_a_reason(client, user, tagged, name, reason):
    client.force_login(user)
    sea = tag_of(user, "sea")
    response = client.post(
        reverse("gallery:tag-rename", args=[sea.pk]), {"name": name}, follow=True
    )
    assert reason in response.content.decode()
    assert tag_of(user, "sea").name == "sea"


def test_delete_asks_first_naming_how_many_images(client, user, tagged):
    client.force_login(user)
    sea = tag_of(user, "sea")
    url = reverse("gallery:tag-delete", args=[sea.pk])
    text = client.get(url).content.decode()
    assert (
        "Delete the tag \N{LEFT DOUBLE QUOTATION MARK}sea\N{RIGHT DOUBLE QUOTATION MARK}?" in text
    )
    assert "<strong>2 images</strong> (and 1 in the trash)" in text
    assert Tag.objects.filter(pk=sea.pk).exists()  # asking deletes nothing
    response = client.post(url, follow=True)
    assert "from 3 images; the images stay" in response.content.decode()
    assert not Tag.objects.filter(pk=sea.pk).exists()
    assert Image.objects.filter(pk=tagged["sea"][1].pk).exists()
    assert names_on(tagged["sea"][0]) == {"Ocean"}


def test_another_persons_tag_is_a_404(client, user, other_user, tagged):
    theirs = tag_of(other_user, "sea")
    client.force_login(user)
    assert client.get(reverse("gallery:tag-delete", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("gallery:tag-delete", args=[theirs.pk])).status_code == 404
    rename = reverse("gallery:tag-rename", args=[theirs.pk])
    assert client.post(rename, {"name": "mine"}).status_code == 404
    assert tag_of(other_user, "sea").name == "sea"
    with pytest.raises(Tag.DoesNotExist):
        services.tag_delete(owner=user, tag=theirs)
