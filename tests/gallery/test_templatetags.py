"""The gallery's template filters and the generation form's remembered widgets give the same
HTML as the plain ways they stand in for."""

from __future__ import annotations

import uuid

import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix

from gallery.forms import GenerationForm
from gallery.models import Image
from gallery.templatetags import gallery_extras

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["/", "/mounted/"])
def test_tile_links_are_what_url_reverses(prefix):
    image = Image(pk=uuid.uuid4())
    set_script_prefix(prefix)
    try:
        assert gallery_extras.image_url(image) == reverse("gallery:image", args=[image.pk])
        assert gallery_extras.thumbnail_url(image) == reverse(
            "gallery:image-thumbnail", args=[image.pk]
        )
        assert gallery_extras.favourite_url(image) == reverse(
            "gallery:image-favourite", args=[image.pk]
        )
        assert gallery_extras.image_url(image).startswith(prefix + "images/")
    finally:
        clear_script_prefix()


def test_local_iso_day_is_the_day_filter():
    from datetime import UTC, datetime

    from django.template.defaultfilters import date

    moment = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
    assert gallery_extras.local_iso_day(moment) == date(gallery_extras.local_day(moment), "Y-m-d")
    assert gallery_extras.local_iso_day(None) == ""


def _plain(form: GenerationForm, name: str) -> str:
    bound = form[name]
    return super(type(bound), bound).as_widget()


@pytest.mark.parametrize(
    "initial",
    [
        {},
        {"model": "dall-e-3", "n": 2, "size": "1792x1024", "tags": "fog, <b>"},
        {"model": "dall-e-2", "n": 3, "tags": "other"},
    ],
)
def test_remembered_widgets_render_as_the_plain_ones(initial):
    choices = [("dall-e-2", "DALL·E 2"), ("dall-e-3", "DALL·E 3")]
    for _ in range(2):  # the second time from the remembered HTML
        form = GenerationForm(initial=dict(initial), model_choices=choices)
        for name in form.fields:
            assert str(form[name]) == _plain(form, name)


def test_a_bound_form_shows_its_own_values_and_errors():
    choices = [("dall-e-2", "DALL·E 2")]
    str(GenerationForm(initial={}, model_choices=choices)["prompt"])
    form = GenerationForm({"prompt": "", "model": "dall-e-2", "n": "99"}, model_choices=choices)
    assert not form.is_valid()
    assert 'aria-invalid="true"' in str(form["prompt"])
    assert 'value="99"' in str(form["n"])
