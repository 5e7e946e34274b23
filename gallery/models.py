"""The gallery's records: generations (what a person asked for), the images they produced, and
what people do with them (tags, boards, trash), plus the bookkeeping that keeps rows, files and
open pages in step (events, the file journal, bulk actions, limits)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from taggit.managers import TaggableManager
from taggit.models import TagBase, TaggedItemBase

from . import search

# Longer than the client's retries with their timeouts could ever take.
STUCK_AFTER = timedelta(minutes=30)


def mask_upload_to(instance: Generation, filename: str) -> str:
    return f"masks/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}.png"


class Generation(models.Model):
    """One press of "Generate": saved before any network call, then run by a background task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Kind(models.TextChoices):
        GENERATE = "generate", "Generate"
        EDIT = "edit", "Edit"

    class Source(models.TextChoices):
        FORM = "form", "Form"
        API = "api", "API"
        IMPORT = "import", "Import"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations"
    )
    prompt = models.TextField()
    model = models.CharField(max_length=100)
    n = models.PositiveSmallIntegerField(default=1)
    size = models.CharField(max_length=20)
    response_format = models.CharField(max_length=20)
    tag_names = models.JSONField(
        default=list, blank=True, help_text="Tags given on the form, applied to every image."
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error = models.TextField(blank=True, help_text="Why the generation failed, in words.")
    item_errors = models.JSONField(
        default=list, blank=True, help_text="Images that could not be kept: index and reason."
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.GENERATE)
    parent_image = models.ForeignKey(
        "Image",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="derived_generations",
        help_text="The image this one was remixed or edited from.",
    )
    options = models.JSONField(
        default=dict, blank=True, help_text="Model options: quality, style, background, ..."
    )
    mask = models.FileField(upload_to=mask_upload_to, max_length=255, blank=True)
    usage = models.JSONField(null=True, blank=True, help_text="`usage` as the endpoint sent it.")
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    source = models.CharField(
        max_length=10, choices=Source.choices, default=Source.FORM, db_index=True
    )
    # For an API generation: the key it was made with (its id in the endpoint's app, which the
    # gallery does not import, and its name as it was then).
    api_key_id = models.PositiveIntegerField(null=True, blank=True)
    api_key_name = models.CharField(max_length=100, blank=True)
    provider = models.CharField(max_length=100, blank=True)
    cost = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, help_text="USD, where known."
    )

    # The queue. A running generation holds a lease its worker renews; a lapsed lease means the
    # worker died, and the sweeper puts the generation back in the queue.
    worker_id = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="Queued, but not to be run before this time."
    )
    waiting_since = models.DateTimeField(
        null=True, blank=True, help_text="When the provider first asked us to wait."
    )
    wait_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        # The id breaks ties: every listing's order is total (see selectors.image_page).
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "owner"], name="generation_queue"),
            models.Index(fields=["owner", "-created_at"], name="generation_owner_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt[:50]} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def can_cancel(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def is_stuck(self) -> bool:
        """Running far longer than any answer can take: its worker was stopped mid-way.

        The lease sweeper normally takes such a generation up again within a minute; this is
        the last resort when no worker is running at all.
        """
        return (
            self.status == self.Status.RUNNING
            and self.started_at is not None
            and timezone.now() - self.started_at > STUCK_AFTER
        )

    @property
    def is_waiting(self) -> bool:
        """Queued until a time the provider asked for (429/503 with a long Retry-After)."""
        return (
            self.status == self.Status.QUEUED
            and self.not_before is not None
            and self.not_before > timezone.now()
        )

    @property
    def can_retry(self) -> bool:
        return self.status in (self.Status.FAILED, self.Status.CANCELLED) or self.is_stuck


class ImageQuerySet(models.QuerySet):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Set by owned_by(): every row is this owner's, so search may ask its index for theirs.
        self._search_owner_id = None

    def _clone(self) -> ImageQuerySet:
        clone = super()._clone()
        clone._search_owner_id = self._search_owner_id
        return clone

    def _owner_kept(self, combined: ImageQuerySet, other: object) -> ImageQuerySet:
        # A union or symmetric difference holds one owner's rows only if both sides do.
        if getattr(other, "_search_owner_id", None) != self._search_owner_id:
            combined._search_owner_id = None
        return combined

    def __or__(self, other: object) -> ImageQuerySet:
        return self._owner_kept(super().__or__(other), other)

    def __xor__(self, other: object) -> ImageQuerySet:
        return self._owner_kept(super().__xor__(other), other)

    def owned_by(self, user) -> ImageQuerySet:
        images = self.filter(owner=user)
        images._search_owner_id = user.pk
        return images

    def visible(self) -> ImageQuerySet:
        """Not in the trash: what every listing, search and board shows."""
        return self.filter(trashed_at__isnull=True)

    def trashed(self) -> ImageQuerySet:
        return self.filter(trashed_at__isnull=False)

    def tagged(self, name: str) -> ImageQuerySet:
        return self.filter(tags__name__iexact=name)

    def search(self, query: str, *, whole: bool = False, counting: bool = False) -> ImageQuerySet:
        """Images whose prompt, revised prompt or tags hold every word of ``query`` as a word
        prefix, through the database's full-text index (see ``gallery.search``). ``whole``:
        every match is wanted (bulk actions, ZIPs), not a page."""
        return search.filter_images(
            self, query, owner_id=self._search_owner_id, whole=whole, counting=counting
        )


def image_upload_to(instance: Image, filename: str) -> str:
    # Unguessable names sharded by date: no folder grows without bound, and no one can walk
    # another person's originals by counting. The extension comes from the verified format.
    return f"originals/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}{_extension(filename)}"


def thumbnail_upload_to(instance: Image, filename: str) -> str:
    # The extension is the thumbnail's format (protocol.THUMBNAIL_FORMAT), as the row records.
    return f"thumbnails/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}{_extension(filename)}"


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot != -1 else ""


class Image(models.Model):
    """A stored image: the original bytes exactly as received, plus a thumbnail (in protocol.THUMBNAIL_FORMAT)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    generation = models.ForeignKey(
        Generation, on_delete=models.SET_NULL, null=True, blank=True, related_name="images"
    )
    index = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=image_upload_to, max_length=255)
    thumbnail = models.FileField(upload_to=thumbnail_upload_to, max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    thumbnail_width = models.PositiveIntegerField()
    thumbnail_height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    # The format its thumbnail was made in (a name in protocol.IMAGE_FORMATS). A database
    # default, so that adding the column on SQLite keeps the table (and its search triggers).
    thumbnail_format = models.CharField(max_length=10, default="webp", db_default="webp")
    file_size = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, db_index=True)
    prompt = models.TextField()
    revised_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=100)
    size = models.CharField(max_length=20)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    trashed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    is_favourite = models.BooleanField(default=False)
    has_alpha = models.BooleanField(default=False)
    is_animated = models.BooleanField(default=False)
    metadata = models.JSONField(
        default=dict, blank=True, help_text="Settings read from an imported file's metadata."
    )

    # Through a model of our own: taggit's default one keys objects by integer, and ours are
    # UUIDs; and tags belong to their owner, so one person's tags reveal nothing to another.
    tags = TaggableManager(blank=True, through="TaggedImage")
    boards = models.ManyToManyField("Board", through="BoardImage", related_name="images")

    objects = ImageQuerySet.as_manager()

    class Meta:
        # The id breaks ties, so that keyset pages never repeat or skip an image.
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="image_owner_recent"),
            models.Index(
                fields=["owner", "is_favourite", "-created_at"], name="image_owner_favourite"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["generation", "index"], name="one_image_per_item"),
        ]

    def __str__(self) -> str:
        return self.prompt[:60]

    @property
    def tag_list(self) -> list:
        """The image's tags, from ``tagged_items`` (which listings prefetch with their tags).

        Not ``prefetch_related("tags")``: taggit matches prefetched rows by the raw database
        value of the key, which for a UUID on SQLite is not equal to the UUID, and finds none.
        """
        return sorted((item.tag for item in self.tagged_items.all()), key=lambda t: t.name.lower())


class Tag(TagBase):
    """A tag of one owner. Names are unique per owner, whatever their case."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gallery_tags"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("name"), "owner", name="one_tag_name_per_owner"
            ),
        ]


class TaggedImage(TaggedItemBase):
    """One tag on one image."""

    content_object = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tagged_items")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="tagged_items")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="one_tag_per_image"),
        ]


class Board(models.Model):
    """A named group of images. Deleting a board never deletes its images."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="boards"
    )
    name = models.CharField(max_length=100)
    cover = models.ForeignKey(
        Image, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("name"), "owner", name="one_board_name_per_owner"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BoardImage(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="entries")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="board_entries")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "image"], name="one_entry_per_board_image"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} on {self.board_id}"


class GalleryEvent(models.Model):
    """The change feed: one row per thing an open page should learn about.

    Written in the same transaction as the change; live pages (server-sent events or polls)
    read rows after the last id they saw. Rows are pruned after a few minutes.
    """

    class Kind(models.TextChoices):
        IMAGE_STORED = "image.stored"
        IMAGE_CHANGED = "image.changed"
        IMAGE_TRASHED = "image.trashed"
        IMAGE_RESTORED = "image.restored"
        IMAGE_DELETED = "image.deleted"
        GENERATION = "generation"
        PARTIAL = "partial"
        BULK = "bulk"

    id = models.BigAutoField(primary_key=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    image_id = models.UUIDField(null=True, blank=True)
    generation_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "id"], name="event_owner_feed")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.id}"


class FileJournal(models.Model):
    """A storage name whose fate is not settled yet.

    ``writing``: recorded (and committed) before the bytes are written, removed once the row
    that owns them is committed; left behind by a worker that died mid-store. ``delete``: a file
    whose row is gone but whose deletion failed (storage unreachable). The sweeper settles both:
    a name no row refers to is deleted from storage, then forgotten.
    """

    class Reason(models.TextChoices):
        WRITING = "writing"
        DELETE = "delete"

    name = models.CharField(max_length=255, db_index=True)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.reason}: {self.name}"


class BulkAction(models.Model):
    """An action on many images at once, run in the background with its progress recorded."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bulk_actions"
    )
    action = models.CharField(max_length=30)
    params = models.JSONField(default=dict, blank=True)
    selection = models.JSONField(
        default=dict, blank=True, help_text="Image ids, or the listing's filters for 'all'."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.action} ({self.done}/{self.total})"


class UserLimits(models.Model):
    """One person's limits, where they differ from the site's (empty = the site's default)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="gallery_limits"
    )
    max_running = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Generations running at once."
    )
    images_per_day = models.PositiveIntegerField(null=True, blank=True)
    max_bytes = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Bytes of stored originals."
    )
    monthly_budget = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="USD this person may spend in a calendar month (0: no limit; empty: the site's).",
    )

    class Meta:
        verbose_name = "user limits"
        verbose_name_plural = "user limits"

    def __str__(self) -> str:
        return f"Limits of {self.user}"


class WorkerHeartbeat(models.Model):
    """A task worker that is alive: it touches its row every few seconds."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.hostname}:{self.pid})"
