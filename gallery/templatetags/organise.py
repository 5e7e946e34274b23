"""Template tags for the organising parts of the pages (boards, remix, API call)."""

from __future__ import annotations

import json
import shlex

from django import template
from django.urls import reverse

from gallery import bulk_actions, selectors
from gallery.listing import Listing
from gallery.undo import undo_pending

register = template.Library()


# "Select all" says how many images it covers, counting no further than this: a count over a
# listing of 100,000 images on every page would cost more than the page itself; past it the
# bar says "1,000+", and "Select all" still covers every image of the listing.
SELECT_ALL_COUNT_CAP = 1_000


@register.simple_tag(takes_context=True)
def user_boards(context) -> list:
    """The signed-in person's boards, names only (for "Add to board" menus: no counts)."""
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    return selectors.board_choices(owner=request.user)


@register.simple_tag
def boards_of(image) -> list:
    return selectors.image_boards(image=image)


@register.simple_tag(takes_context=True)
def api_call(context, image) -> dict:
    """``curl`` and Python (``openai`` SDK) calls that make the same request against this
    site's endpoint; the key is a placeholder, never a real one."""
    from ..parameters import settings_carry
    from ..provider_client import model_choices

    request = context["request"]
    base = request.build_absolute_uri("/v1")
    carried = settings_carry(image=image, available=[model for model, _ in model_choices()])
    body = carried.body
    curl = "\n".join(
        [
            f"curl {base}/images/generations \\",
            '  -H "Authorization: Bearer YOUR_API_KEY" \\',
            '  -H "Content-Type: application/json" \\',
            f"  -d {shlex.quote(json.dumps(body, ensure_ascii=False))}",
        ]
    )
    arguments = "".join(f"    {key}={value!r},\n" for key, value in body.items())
    python = (
        "from openai import OpenAI\n\n"
        f'client = OpenAI(base_url="{base}", api_key="YOUR_API_KEY")\n'
        f"result = client.images.generate(\n{arguments})\n"
        "print(result.data[0].url or result.data[0].b64_json[:80])\n"
    )
    return {"curl": curl, "python": python, "dropped": carried.dropped}


@register.simple_tag(takes_context=True)
def listing_selection(context) -> dict:
    """What "Select all" covers on this page: the page's own listing (``listing`` in the
    context, as the view parsed it; every image of the trash on the Trash page), the hidden
    fields that carry it in the toolbar's form, how many images it holds (on every page,
    capped; the view's own count when it made one), and the ZIP of all of it."""
    request = context["request"]
    listing = context.get("listing") or Listing()
    trashed = bool(context.get("in_trash"))
    counted = context.get("match_count")
    if trashed:
        found = selectors.trash_list(owner=request.user).order_by()
        total = found.values("pk")[: SELECT_ALL_COUNT_CAP + 1].count()
        counted = (min(total, SELECT_ALL_COUNT_CAP), total > SELECT_ALL_COUNT_CAP)
    elif counted is None:
        counted = selectors.image_count_capped(
            owner=request.user,
            tag=listing.tag or None,
            query=listing.query or None,
            favourites=listing.favourites,
            board=context.get("board"),
            cap=SELECT_ALL_COUNT_CAP,
        )
    total, more = counted
    return {
        "fields": [] if trashed else listing.form_fields(),
        "total": total,
        "more": more,
        "zip_url": listing.url(reverse("gallery:listing-zip")),
    }


@register.simple_tag(takes_context=True)
def bulk_toolbar(context) -> list:
    """The toolbar's groups of actions for this page, from the bulk-action registry."""
    scope = bulk_actions.TRASH if context.get("in_trash") else bulk_actions.GALLERY
    return bulk_actions.toolbar_groups(scope=scope, board=context.get("board"))


@register.inclusion_tag("gallery/includes/undo_notice.html", takes_context=True)
def undo_notice(context) -> dict:
    request = context.get("request")
    return {"undo": undo_pending(request) if request else None, "request": request}
