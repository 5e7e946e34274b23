"""Every listing's order is total: rows that share a timestamp are ordered by id, so paging
(by the site's keyset pager, or by offset) never shows a row twice or never, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.paginator import Paginator

from gallery import selectors
from gallery.listing import NEWEST, Cursor
from gallery.models import Generation, Image

pytestmark = pytest.mark.django_db

SAME_MOMENT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def keyset_page(images, *, size, after=None, before=None):
    """A page as the site's pages ask for one: cursors as the links carry them."""
    return selectors.image_page(
        images=images,
        order=NEWEST,
        size=size,
        after=Cursor.parse(after),
        before=Cursor.parse(before),
    )


@pytest.fixture
def same_moment_images(user, other_user) -> set:
    """2,000 images of ``user`` stored at one instant (an import), beside someone else's."""
    rows = [
        Image(
            owner=user,
            file=f"originals/same/{n}.png",
            thumbnail=f"thumbnails/same/{n}.webp",
            width=8,
            height=8,
            thumbnail_width=8,
            thumbnail_height=8,
            format="png",
            file_size=1,
            content_hash=f"{n:064x}",
            prompt=f"imported picture {n}",
            model="novisurf-procedural",
            size="1024x1024",
            created_at=SAME_MOMENT,
        )
        for n in range(2_000)
    ]
    Image.objects.bulk_create(rows, batch_size=500)
    Image.objects.bulk_create(
        [
            Image(
                owner=other_user,
                file="originals/same/theirs.png",
                thumbnail="thumbnails/same/theirs.webp",
                width=8,
                height=8,
                thumbnail_width=8,
                thumbnail_height=8,
                format="png",
                file_size=1,
                content_hash="f" * 64,
                prompt="not yours",
                model="novisurf-procedural",
                size="1024x1024",
                created_at=SAME_MOMENT,
            )
        ]
    )
    return {row.pk for row in rows}


def test_keyset_pages_through_2000_images_of_one_instant(user, same_moment_images):
    listing = selectors.image_list(owner=user)
    seen: list = []
    pages: list[list] = []
    cursor = None
    while True:
        page = keyset_page(listing, size=24, after=cursor)
        pages.append([image.pk for image in page.images])
        seen.extend(image.pk for image in page.images)
        if page.forward is None:
            break
        cursor = page.forward
    assert len(seen) == len(set(seen)) == 2_000  # no image twice
    assert set(seen) == same_moment_images  # none skipped, none of someone else's
    assert len(pages) == 84

    # And back again with "Newer" links from the last page: the same pages, in reverse.
    cursor = keyset_page(listing, size=24, after=cursor).backward
    back = [pages[-1]]
    while cursor is not None:
        page = keyset_page(listing, size=24, before=cursor)
        back.append([image.pk for image in page.images])
        cursor = page.backward
    assert back == list(reversed(pages))


def test_offset_pages_over_the_listing_never_repeat_either(user, same_moment_images):
    paginator = Paginator(selectors.image_list(owner=user).only("id"), per_page=100)
    seen = [image.pk for number in paginator.page_range for image in paginator.page(number)]
    assert len(seen) == len(set(seen)) == 2_000


@pytest.mark.parametrize(
    "cursor",
    ["", "junk", "2026-01-01~x", "2026-01-01T12:00~" + "0" * 32, "9" * 30 + "~" + "0" * 32],
)
def test_a_cursor_that_does_not_parse_is_the_first_page(user, same_moment_images, cursor):
    first = keyset_page(selectors.image_list(owner=user), size=5)
    page = keyset_page(selectors.image_list(owner=user), size=5, after=cursor)
    assert [i.pk for i in page.images] == [i.pk for i in first.images]


def test_recent_generations_of_one_instant_come_in_a_fixed_order(user):
    made = [
        Generation.objects.create(
            owner=user,
            prompt=f"p{n}",
            model="m",
            n=1,
            size="1024x1024",
            response_format="url",
            created_at=SAME_MOMENT,
        )
        for n in range(10)
    ]
    expected = sorted((g.pk for g in made), reverse=True)[:6]
    assert [g.pk for g in selectors.generation_list_recent(owner=user)] == expected
    assert [g.pk for g in Generation.objects.filter(owner=user)][:6] == expected
