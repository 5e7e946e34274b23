"""How the gallery writes things a person reads: model names, sizes, times, tiles' shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from django import template
from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.timesince import timesince

from gallery.forms import size_label as _size_label
from gallery.listing import local_day as _local_day
from gallery.provider_client import model_label as _model_label
from novisurf.pricing import usd_text

register = template.Library()


@register.filter
def model_label(model_id: str) -> str:
    """A model's name as a person should read it: the built-in one says it is procedural."""
    return _model_label(model_id)


@register.filter
def size_label(size: str) -> str:
    """A requested size (``1024x1024``, ``auto``) written the one way the site writes sizes."""
    return _size_label(size or "")


@register.filter
def dimensions(image) -> str:
    """An image's pixel size, written as sizes are everywhere: ``1024 x 768`` with a times sign."""
    return _size_label(f"{image.width}x{image.height}")


@register.filter
def aspect_ratio(image) -> str:
    """Width over height of the thumbnail, for the justified rows (a plain number for CSS)."""
    width, height = image.thumbnail_width or 1, image.thumbnail_height or 1
    return f"{width / height:.4f}"


# A tile's links, made from one reversed path per URL name rather than one ``{% url %}`` per
# tile: reversing is most of what a page of tiles costs. Keyed by the resolver and the script
# prefix, so a changed URLconf (tests' override_settings) or a mounted prefix reverses afresh.
_PLACEHOLDER = str(uuid.UUID(int=0))
_IMAGE_PATHS: dict[tuple, tuple[str, str]] = {}


def _image_path(name: str, pk) -> str:
    key = (name, get_resolver(get_urlconf()), get_script_prefix())
    parts = _IMAGE_PATHS.get(key)
    if parts is None:
        head, _, tail = reverse(name, args=[_PLACEHOLDER]).partition(_PLACEHOLDER)
        parts = _IMAGE_PATHS[key] = (head, tail)
    return f"{parts[0]}{pk}{parts[1]}"


@register.filter
def image_url(image) -> str:
    """``{% url 'gallery:image' image.pk %}``, without reversing per tile."""
    return _image_path("gallery:image", image.pk)


@register.filter
def thumbnail_url(image) -> str:
    """``{% url 'gallery:image-thumbnail' image.pk %}``, without reversing per tile."""
    return _image_path("gallery:image-thumbnail", image.pk)


@register.filter
def favourite_url(image) -> str:
    """``{% url 'gallery:image-favourite' image.pk %}``, without reversing per tile."""
    return _image_path("gallery:image-favourite", image.pk)


@register.filter
def local_iso_day(moment: datetime | None) -> str:
    """The local day of ``moment`` as ``YYYY-MM-DD`` (what ``local_day|date:'Y-m-d'`` writes)."""
    return _local_day(moment).isoformat() if moment else ""


@register.filter
def local_day(moment: datetime):
    return _local_day(moment)


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now" for the last minute, then "5 minutes ago", "2 days ago"."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment, depth=1)} ago"


@register.filter
def usd(amount) -> str:
    """A cost in US dollars: ``$0.04``, ``$0.16665``; free is ``$0.00``, unknown is a dash."""
    if amount is None or amount == "":
        return "—"
    return f"${usd_text(Decimal(amount))}"
