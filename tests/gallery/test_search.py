"""Full-text search: the same answers on SQLite (FTS5) and PostgreSQL (tsvector), kept in step
by the database on every write, and never a 500 whatever is typed.

The table below is the parity test: it runs on whichever database the suite runs on (SQLite by
default, PostgreSQL with ``DATABASE_URL``), with the same expected results on both.
"""

# ruff: noqa: RUF003 - Greek letters and the like are what these tests are about.
from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from gallery import search, selectors, services
from gallery.models import Image, TaggedImage

pytestmark = pytest.mark.django_db

_names = itertools.count()


def make_image(
    owner,
    prompt: str,
    *,
    revised: str = "",
    tags=(),
    model: str = "novisurf-procedural",
    metadata: dict | None = None,
    created_at=None,
) -> Image:
    """An image row (no files needed: search reads rows only), tagged through the service."""
    n = next(_names)
    image = Image.objects.create(
        owner=owner,
        file=f"originals/search/{n}.png",
        thumbnail=f"thumbnails/search/{n}.webp",
        width=64,
        height=64,
        thumbnail_width=64,
        thumbnail_height=64,
        format="png",
        file_size=1,
        content_hash=f"{n:064x}",
        prompt=prompt,
        revised_prompt=revised,
        model=model,
        size="1024x1024",
        metadata=metadata or {},
        **({"created_at": created_at} if created_at else {}),
    )
    if tags:
        services.image_tag_add(image=image, names=list(tags))
    return image


@pytest.fixture
def library(user, other_user) -> dict[str, Image]:
    return {
        "mountains": make_image(
            user, "Snowy mountains at dusk", revised="A wide alpine panorama", tags=["landscape"]
        ),
        "apples": make_image(user, "ÄPFEL im Korb", tags=["Obst"]),
        "owl": make_image(user, "ΣΟΦΟΣ owl", revised="σοφός the wise"),
        "dessert": make_image(user, "Crème brûlée on a plate", tags=["dessert"]),
        "street": make_image(user, "Straße bei Nacht"),
        "japan": make_image(user, "山の風景 with a river", tags=["日本"]),
        "syntax": make_image(user, 'quotes "and" *stars* NEAR(x y) col:val -minus ^caret'),
        # Someone else's: never found by ``user``, whatever matches.
        "theirs": make_image(other_user, "Mountain lake", tags=["landscape"]),
    }


def found(user, library: dict[str, Image], query: str) -> set[str]:
    names = {image.pk: name for name, image in library.items()}
    return {names[image.pk] for image in selectors.image_list(owner=user, query=query)}


SEARCHES = [
    # word prefixes, every word required, prompt + revised prompt + tags together
    ("moun", {"mountains"}),
    ("MOUNTAINS", {"mountains"}),
    ("moun dusk", {"mountains"}),
    ("moun lake", set()),
    ("alpine", {"mountains"}),
    ("landsc", {"mountains"}),
    ("mountain landscape panorama", {"mountains"}),
    ("ountain", set()),
    # case folding: Ä/ä, Σ/σ/ς, É/é, ẞ/ß; diacritics ignored on Latin letters only
    ("äpfel", {"apples"}),
    ("ÄPFEL", {"apples"}),
    ("apfel", {"apples"}),
    ("obst", {"apples"}),
    ("σοφος", {"owl"}),
    ("ΣΟΦΟΣ", {"owl"}),
    ("σοφός", {"owl"}),
    ("ΣΟΦΌΣ wise", {"owl"}),
    ("creme brulee", {"dessert"}),
    ("CRÈME BRÛLÉE", {"dessert"}),
    ("Crè", {"dessert"}),
    ("straße", {"street"}),
    ("STRAẞE", {"street"}),
    ("strasse", set()),  # ß is a letter of its own, not "ss"
    # scripts without spaces: one word per run, matched from its start
    ("山の", {"japan"}),
    ("山の風景", {"japan"}),
    ("風景", set()),
    ("日本", {"japan"}),
    # one letter is a prefix of many words (Ä counts as a)
    ("a", {"mountains", "apples", "dessert", "japan", "syntax"}),
    # query syntax is only text
    ('"and"', {"syntax"}),
    ("*stars*", {"syntax"}),
    ("NEAR(x", {"syntax"}),
    ("near", {"syntax"}),
    ("col:val", {"syntax"}),
    ("minus", {"syntax"}),
    ("^caret", {"syntax"}),
    ("AND OR NOT", {"syntax"}),  # "and" OR "not": the quoted "and" in the syntax prompt
    ("moun\x00", {"mountains"}),
    ("moun" + "\x00" * 50 + "dusk", {"mountains"}),
    # nothing searchable: nothing found
    ('"', set()),
    ("*", set()),
    ("( ) : ^ - ' \\", set()),
    ("😀", set()),
    # long: the first words count, each word cut at 200 characters
    ("a" * 10_000, set()),
    ("moun " + "x" * 10_000, set()),
    (" ".join(["moun"] * 5_000), {"mountains"}),
]


@pytest.fixture(params=["few", "many", "sparse"])
def plan(request, monkeypatch) -> str:
    """Each of search's plans: the matches lead (few), or the listing leads (many), testing
    each image by probes of the index (dense) or against the set of matches (sparse)."""
    few = request.param == "few"
    monkeypatch.setattr(search, "FEW_MATCHES", 1_000_000 if few else -1)  # SQLite
    sparse = request.param == "sparse"
    monkeypatch.setattr(search, "DENSITY_MATCHES", 1_000_000 if sparse else 0)  # SQLite
    monkeypatch.setattr(search, "SAMPLE_MATCHES", 1_000_000 if few else 0)  # PostgreSQL
    return request.param


@pytest.mark.parametrize(("query", "expected"), SEARCHES)
def test_search_finds_the_same_on_every_database(user, library, plan, query, expected):
    assert found(user, library, query) == expected


def test_search_finds_the_same_without_an_owner_first(user, other_user, library, plan):
    """Searched before the owner filter, or across owners, the index answers for everyone."""
    names = {image.pk: name for name, image in library.items()}

    def found_in(images) -> set[str]:
        return {names[image.pk] for image in images}

    assert found_in(Image.objects.search("moun")) == {"mountains", "theirs"}
    assert found_in(Image.objects.search("moun").owned_by(other_user)) == {"theirs"}
    assert found_in(Image.objects.owned_by(other_user).search("moun")) == {"theirs"}
    both = Image.objects.owned_by(user) | Image.objects.owned_by(other_user)
    assert found_in(both.search("landsc")) == {"mountains", "theirs"}
    assert found_in(Image.objects.owned_by(user).search("lake")) == set()


def test_search_pages_by_cursor_in_order(user, plan):
    """Many matches sharing one instant: keyset pages of a search never repeat or skip one."""
    from django.utils import timezone

    from gallery.listing import NEWEST, Cursor

    instant = timezone.now()
    made = [make_image(user, f"harbour {n}") for n in range(30)]
    Image.objects.filter(pk__in=[image.pk for image in made[:20]]).update(created_at=instant)
    seen, cursor = [], None
    while True:
        page = selectors.image_page(
            images=selectors.image_list(owner=user, query="harb"),
            order=NEWEST,
            size=7,
            after=Cursor.parse(cursor),
        )
        seen += [image.pk for image in page.images]
        if not page.forward:
            break
        cursor = page.forward
    expected = list(
        Image.objects.filter(pk__in=[image.pk for image in made]).values_list("pk", flat=True)
    )
    assert seen == expected


NASTY_QUERIES = [
    '"',
    '"unbalanced',
    "a OR",
    "NEAR(",
    "NEAR(a b, 2)",
    "col:",
    "^",
    "-",
    "*",
    "a:*",
    "'",
    "!",
    "a & b | !c",
    "( (",
    "\\",
    "%",
    "_",
    "\x00",
    "x" * 10_000,
    "word " * 2_000,
    "\u202e\u200b\ufeff",
]


@pytest.mark.parametrize("query", NASTY_QUERIES)
def test_any_query_is_a_page_not_an_error(client, user, library, query):
    client.force_login(user)
    response = client.get(reverse("gallery:home"), {"q": query})
    assert response.status_code == 200


def test_query_that_is_not_utf8_is_a_page_not_an_error(client, user, library):
    client.force_login(user)
    response = client.get(reverse("gallery:home") + "?q=%ED%A0%80%FF%00moun")
    assert response.status_code == 200


def test_search_terms_are_words_only():
    assert search.search_terms('moun "lake" NEAR(x:y) *z* é\x00ß') == [
        "moun",
        "lake",
        "NEAR",
        "x",
        "y",
        "z",
        "é",
        "ß",
    ]
    assert search.search_terms("e\u0301") == ["é"]  # decomposed input is composed first
    assert len(search.search_terms(" ".join(f"w{i}" for i in range(100)))) == search.MAX_TERMS
    assert search.fts5_match(["moun", "lake"]) == '"moun"* AND "lake"*'


# -- kept in step on every write ------------------------------------------------------------------


def test_tags_added_and_removed_are_searchable_at_once(user, library):
    owl = library["owl"]
    services.image_tag_add(image=owl, names=["nocturnal"])
    assert found(user, library, "noctur") == {"owl"}
    services.image_tag_remove(image=owl, name="nocturnal")
    assert found(user, library, "noctur") == set()


def test_bulk_update_of_prompts_is_searchable(user, library):
    Image.objects.filter(pk=library["street"].pk).update(prompt="Harbour lights")
    assert found(user, library, "harb") == {"street"}
    assert found(user, library, "straße") == set()


def test_raw_sql_writes_are_searchable(user, library):
    """Not even SQL past the ORM can leave the index behind: the database keeps it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE gallery_image SET revised_prompt = %s WHERE prompt = %s",
            ["a lonely lighthouse", "Straße bei Nacht"],
        )
    assert found(user, library, "lighth") == {"street"}


def test_renamed_tag_is_searchable_under_its_new_name(user, library):
    tag = TaggedImage.objects.filter(content_object=library["apples"]).get().tag
    type(tag).objects.filter(pk=tag.pk).update(name="Früchte")
    assert found(user, library, "fruchte") == {"apples"}
    assert found(user, library, "obst") == set()


def test_deleted_tag_is_no_longer_found(user, library):
    TaggedImage.objects.filter(content_object=library["dessert"]).get().tag.delete()
    assert found(user, library, "dessert") == set()
    assert found(user, library, "brulee") == {"dessert"}


def index_rows() -> int:
    """Rows the index holds (on PostgreSQL it lives in the image rows themselves)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"SELECT count(*) FROM {search.FTS_TABLE}")
        else:
            cursor.execute(
                f"SELECT count(*) FROM gallery_image WHERE {search.VECTOR_COLUMN} IS NOT NULL"
            )
        return cursor.fetchone()[0]


def test_deletes_and_cascades_leave_nothing_in_the_index(user, other_user, library):
    assert index_rows() == Image.objects.count() == len(library)
    Image.objects.filter(pk=library["owl"].pk).delete()
    assert found(user, library, "owl") == set()
    other_user.delete()  # cascades to their image
    assert index_rows() == Image.objects.count() == len(library) - 2


def test_rebuild_command_restores_a_lost_index(user, library):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DELETE FROM {search.FTS_TABLE}")
        else:
            cursor.execute(f"UPDATE gallery_image SET {search.VECTOR_COLUMN} = NULL")
    assert found(user, library, "moun") == set()
    call_command("rebuild_search_index", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert found(user, library, "moun") == {"mountains"}
    assert found(user, library, "landsc obst") == set()
    assert found(user, library, "obst") == {"apples"}


def test_housekeeping_merges_the_index_and_search_finds_the_same(user, library):
    for n in range(30):  # each write its own small segment
        make_image(user, f"harbour {n}")
    rounds = 0
    while search.tidy(connection, pages=1) and rounds < 1_000:
        rounds += 1
    assert not search.tidy(connection)
    if connection.vendor == "sqlite":
        assert rounds > 0
    assert found(user, library, "moun") == {"mountains"}
    assert selectors.image_count_capped(owner=user, query="harbour") == (30, False)
    services.maintenance_run()
    assert found(user, library, "obst") == {"apples"}


# -- operators: -word, "a phrase", OR, tag:, model:, before:/after: ---------------------------------


@pytest.fixture
def animals(user, other_user) -> dict[str, Image]:
    from datetime import datetime

    from django.utils import timezone

    old = timezone.make_aware(datetime(2020, 6, 1, 12, 0))
    return {
        "red": make_image(user, "A red fox in the snow", tags=["animal", "wild life"]),
        "arctic": make_image(user, "Arctic fox asleep", tags=["animal"]),
        "wolf": make_image(user, "Wolf at night in the snow", model="gpt-image-1"),
        "import": make_image(
            user,
            "portrait of a knight",
            model="dreamshaper_8.safetensors",
            metadata={
                "imported_from": "knight.png",
                "negative_prompt": "blurry, lowres",
                "model": "dreamshaper_8.safetensors",
                "settings": {"Sampler": "DPM++ 2M Karras", "Seed": "1250021385", "Steps": "20"},
                "source": "a1111",
            },
            created_at=old,
        ),
        "theirs": make_image(other_user, "Red fox", tags=["animal"]),
    }


OPERATOR_SEARCHES = [
    ("fox", {"red", "arctic"}),
    ("-fox", {"wolf", "import"}),
    ("-fox -wolf", {"import"}),
    ("snow -fox", {"wolf"}),
    ("-", {"red", "arctic", "wolf", "import"} - {"red", "arctic", "wolf", "import"}),
    ('"red fox"', {"red"}),
    ('"red fo"', {"red"}),  # each word of a phrase is a prefix too
    ('"fox red"', set()),
    ('"fox snow"', set()),  # both words are there, not side by side
    ('-"red fox"', {"arctic", "wolf", "import"}),
    ("fox OR wolf", {"red", "arctic", "wolf"}),
    ("snow fox OR wolf", {"red", "wolf"}),
    ("arctic OR wolf OR knight", {"arctic", "wolf", "import"}),
    ("fox or wolf", set()),  # a lowercase "or" is a word
    ("tag:animal", {"red", "arctic"}),
    ("tag:ANIMAL fox", {"red", "arctic"}),
    ("tag:anim", set()),  # a tag is named whole
    ('tag:"wild life"', {"red"}),
    ("tag:#animal", {"red", "arctic"}),
    ("-tag:animal", {"wolf", "import"}),
    ("tag:animal -tag:wild", {"red", "arctic"}),
    ("model:dreamshaper", {"import"}),
    ("model:gpt-image-1", {"wolf"}),
    ("model:image gpt", set()),  # "gpt" then searches the prompt
    ("model:procedural", {"red", "arctic"}),
    ("model:novisurf fox", {"red", "arctic"}),
    # what an imported file said about itself is searched too
    ("dreamshaper", {"import"}),
    ("blurry", {"import"}),
    ("karras", {"import"}),
    ("1250021385", {"import"}),
    ("procedural", set()),  # a generated image's model is found with model: only
    ("before:2021-01-01", {"import"}),
    ("after:2021-01-01", {"red", "arctic", "wolf"}),
    ("after:2020-06-01 before:2020-06-02", {"import"}),
    ("after:2020-06-02 before:2020-06-01", set()),
    # malformed parts are read literally or dropped, never an error
    ("fox before:notadate", {"red", "arctic"}),
    ('"red fox', {"red"}),
    ("fox OR", {"red", "arctic"}),
    ("OR OR fox", {"red", "arctic"}),
    ("tag: fox", set()),  # "tag" and "fox" as words
    ("model:", set()),
    ("-before:2021-01-01", set()),
]


@pytest.mark.parametrize(("query", "expected"), OPERATOR_SEARCHES)
def test_operators_find_the_same_on_every_database(user, animals, plan, query, expected):
    assert found(user, animals, query) == expected


@pytest.mark.parametrize(("query", "expected"), OPERATOR_SEARCHES)
def test_operators_count_what_they_find(user, animals, plan, query, expected):
    # A count of tag:/date queries has a plan of its own (the filters lead, in no order).
    assert selectors.image_count_capped(owner=user, query=query) == (len(expected), False)
    names = {image.pk: name for name, image in animals.items()}
    counted = selectors.image_list(owner=user, query=query, counting=True)
    assert {names[image.pk] for image in counted} == expected


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("fox before:notadate", "\N{LEFT DOUBLE QUOTATION MARK}before:notadate"),
        ("after:2024-02-30", "takes a date written YYYY-MM-DD"),
        ('"red fox', "not closed"),
        ("fox OR", "OR was ignored"),
        ("-after:2020-01-01", "use before: or after:"),
        ('tag:""', "takes a tag's name"),
        ('model:"-"', "takes a model's name"),
        ("-model:gpt", "cannot be excluded"),
    ],
)
def test_a_malformed_part_is_named(query, problem):
    assert any(problem in text for text in search.parse_query(query).problems)


def test_a_well_formed_query_has_no_problems():
    parsed = search.parse_query('"red fox" -wolf a OR b tag:x model:y after:2020-01-01')
    assert parsed.problems == []
    assert [[m.words for m in group] for group in parsed.groups] == [
        [("red", "fox")],
        [("a",), ("b",)],
    ]
    assert [m.words for m in parsed.excluded] == [("wolf",)]


def test_the_page_names_the_part_it_ignored_and_counts_matches(client, user, animals):
    client.force_login(user)
    response = client.get(reverse("gallery:home"), {"q": "fox before:notadate"})
    assert response.status_code == 200
    text = response.content.decode()
    assert (
        "\N{LEFT DOUBLE QUOTATION MARK}before:notadate\N{RIGHT DOUBLE QUOTATION MARK} was ignored"
        in text
    )
    assert "2 images match" in text


def test_the_count_is_capped(client, user, monkeypatch):
    from gallery import selectors

    monkeypatch.setattr(selectors, "MATCH_COUNT_CAP", 3)
    for n in range(5):
        make_image(user, f"harbour {n}")
    client.force_login(user)
    response = client.get(reverse("gallery:home"), {"q": "harbour"})
    assert "3+ images match" in response.content.decode()
    response = client.get(reverse("gallery:home"), {"q": "harbour 4"})
    assert "1 image matches" in response.content.decode()


def test_trashed_images_are_not_counted(client, user, monkeypatch):
    from gallery import selectors

    monkeypatch.setattr(selectors, "MATCH_COUNT_CAP", 3)
    made = [make_image(user, f"harbour {n}") for n in range(5)]
    services.images_trash(owner=user, images=Image.objects.filter(pk__in=[m.pk for m in made[:2]]))
    assert selectors.image_count_capped(owner=user, query="harbour") == (3, False)
    assert selectors.image_count_capped(owner=user, query="harbour -4") == (2, False)
    assert selectors.image_count_capped(owner=user, query="harbour OR nothing") == (3, False)
    client.force_login(user)
    assert (
        "3 images match" in client.get(reverse("gallery:home"), {"q": "harbour"}).content.decode()
    )
