"""GET / (the gallery) with 10,000 images against the raw SQL for the same first page."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image as PILImage

from bench.fixtures import bench_user
from bench.timing import Report, compare, format_seconds, measure
from gallery import selectors
from gallery.models import Image
from novisurf.protocol import PROCEDURAL_MODEL

IMAGES = 10_000
TAGGED_EVERY = 5  # a fifth of the images carry tags
TAG_NAMES = ["landscape", "city", "blue", "portrait", "night", "draft"]
TITLE = f"Gallery page: GET / with {IMAGES:,} images of one user"


def _shared_files() -> tuple[str, str]:
    """One small original and thumbnail that every row points at."""
    names = []
    for fmt, name in (("PNG", "bench/original.png"), ("WEBP", "bench/thumbnail.webp")):
        buffer = ContentFile(b"", name=name)
        PILImage.new("RGB", (64, 64), (40, 90, 160)).save(buffer, fmt)
        names.append(default_storage.save(name, buffer))
    return names[0], names[1]


def _populate(owner, count: int) -> list[Image]:
    original, thumbnail = _shared_files()
    now = timezone.now()
    images = [
        Image(
            owner=owner,
            index=0,
            file=original,
            thumbnail=thumbnail,
            width=1024,
            height=1024,
            thumbnail_width=512,
            thumbnail_height=512,
            format="png",
            file_size=1234,
            content_hash=f"{i:064x}",
            prompt=f"bench image {i}: a quiet harbour at dusk, fishing boats and gulls, oil painting",
            model=PROCEDURAL_MODEL,
            size="1024x1024",
            created_at=now - timedelta(seconds=i),
        )
        for i in range(count)
    ]
    with transaction.atomic():
        Image.objects.bulk_create(images, batch_size=500)
    return images


def _tag(images: list[Image], owner) -> str:
    """Two tags on every fifth image, through the tag manager's own through model."""
    through = Image.tags.through
    tag_model = through.tag_model()
    # Tags may be per owner (a tag model with an owner field).
    per_owner = {"owner": owner} if "owner" in {f.name for f in tag_model._meta.fields} else {}
    tags = [
        tag_model.objects.get_or_create(name=name, **per_owner, defaults={"slug": slugify(name)})[0]
        for name in TAG_NAMES
    ]
    fields = {f.name for f in through._meta.get_fields()}
    content_type = ContentType.objects.get_for_model(Image)

    def link(tag, image):
        if "content_type" in fields:  # a generic through model (taggit's default)
            return through(tag=tag, content_type=content_type, object_id=image.pk)
        return through(tag=tag, content_object=image)  # a through model with a foreign key

    rows = [
        link(tags[(i + k) % len(tags)], image)
        for i, image in enumerate(images)
        if i % TAGGED_EVERY == 0
        for k in (0, 1)
    ]
    with transaction.atomic():
        through.objects.bulk_create(rows, batch_size=500)
    return tags[0].name


def _count_queries(client: Client, path: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    return len(queries), [q["sql"] for q in queries.captured_queries]


def _replay(client: Client, path: str, table: str):
    """The SQL that ``GET path`` runs on ``table``'s rows, as a function that runs just that
    through the cursor: the same rows, without the ORM, the view and the template."""
    _, statements = _count_queries(client, path)
    mine = [sql for sql in statements if table in sql]
    if not mine:
        raise RuntimeError(f"GET {path} ran no query on {table}")

    def replay() -> None:
        with connection.cursor() as cursor:
            for sql in mine:
                cursor.execute(sql)
                cursor.fetchall()

    return replay, len(mine)


def run(report: Report, *, images_count: int = IMAGES) -> None:
    owner = bench_user()
    images = _populate(owner, images_count)
    try:
        first_tag = _tag(images, owner)
    except Exception as exc:
        first_tag = None
        report.note(
            f"tags could not be stored through {Image.tags.through.__name__} "
            f"({type(exc).__name__}: {exc}); the page is measured without tags"
        )

    # The form asks the endpoint for its models; answer from the cache, as a warm site does.
    cache.set(f"novisurf:models:{settings.NOVISURF_API_BASE}", [PROCEDURAL_MODEL], None)

    client = Client()
    client.force_login(owner)
    page_size = settings.GALLERY_PAGE_SIZE

    def get_home(path: str = "/") -> None:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")

    quote = connection.ops.quote_name
    table = quote(Image._meta.db_table)
    page_sql = (
        f"SELECT * FROM {table} WHERE {quote('owner_id')} = %s "
        f"ORDER BY {quote('created_at')} DESC, {quote('index')} DESC LIMIT %s"
    )
    count_sql = f"SELECT COUNT(*) FROM {table} WHERE {quote('owner_id')} = %s"

    def raw_sql() -> None:
        with connection.cursor() as cursor:
            cursor.execute(count_sql, [owner.pk])
            cursor.fetchone()
            cursor.execute(page_sql, [owner.pk, page_size])
            rows = cursor.fetchall()
        assert len(rows) == page_size

    page, baseline = compare(get_home, raw_sql, baseline_number=20)
    report.row(f"GET / ({page_size} per page)", page, "raw SQL page + COUNT", baseline)
    report.info("  pages", f"{-(-images_count // page_size)}")
    report.info(
        "  of which the tag list query",
        format_seconds(measure(lambda: selectors.tag_names(owner=owner))),
    )

    queries, sql = _count_queries(client, "/")
    settings.GALLERY_PAGE_SIZE = page_size * 4
    try:
        more_queries, more_sql = _count_queries(client, "/")
        bigger = measure(get_home, repeats=5)
    finally:
        settings.GALLERY_PAGE_SIZE = page_size
    report.info(f"  SQL queries, {page_size} per page", str(queries))
    report.info(f"  SQL queries, {page_size * 4} per page", str(more_queries))
    report.info(f"  GET / ({page_size * 4} per page)", format_seconds(bigger))
    if more_queries != queries:
        report.failed = True
        report.note("FAILED: the query count grows with the page size (N+1); the queries were:")
        for statement in more_sql:
            print(f"    {statement[:160]}")
    elif report.show_sql:
        for statement in sql:
            print(f"    {statement[:160]}")

    last = f"/?page={-(-images_count // page_size)}"
    report.info("  GET last page", format_seconds(measure(lambda: get_home(last), repeats=5)))
    if first_tag:
        tagged = f"/?tag={first_tag}"
        report.info(f"  GET {tagged}", format_seconds(measure(lambda: get_home(tagged), repeats=5)))
        report.info(f"  SQL queries, {tagged}", str(_count_queries(client, tagged)[0]))
    search = "/?q=harbour"
    replay, statements = _replay(client, search, Image._meta.db_table)
    searched, replayed = compare(lambda: get_home(search), replay, repeats=5)
    report.row(f"GET {search}", searched, f"its {statements} image queries raw", replayed)

    detail = f"/images/{images[0].pk}/"
    report.info("  GET /images/<id>/", format_seconds(measure(lambda: get_home(detail), repeats=5)))
    report.info("  SQL queries, /images/<id>/", str(_count_queries(client, detail)[0]))
