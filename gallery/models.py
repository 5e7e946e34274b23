"""The gallery's records: a generation (what a person asked for) and the images it produced."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase

from . import search

# Longer than the client's retries with their timeouts could ever take.
STUCK_AFTER = timedelta(minutes=30)


class Generation(models.Model):
    """One press of "Generate": saved before any network call, then run by a background task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

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

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prompt[:50]} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def is_stuck(self) -> bool:
        """Running far longer than any answer can take: its worker was stopped mid-way."""
        return (
            self.status == self.Status.RUNNING
            and self.started_at is not None
            and timezone.now() - self.started_at > STUCK_AFTER
        )

    @property
    def can_retry(self) -> bool:
        return self.status == self.Status.FAILED or self.is_stuck


class ImageQuerySet(models.QuerySet):
    def owned_by(self, user) -> ImageQuerySet:
        return self.filter(owner=user)

    def tagged(self, name: str) -> ImageQuerySet:
        return self.filter(tags__name__iexact=name)

    def search(self, query: str) -> ImageQuerySet:
        """Images whose prompt, revised prompt or tags hold every word of ``query`` as a word
        prefix, through the database's full-text index (see ``gallery.search``)."""
        return search.filter_images(self, query)


def image_upload_to(instance: Image, filename: str) -> str:
    # Unguessable names sharded by date: no folder grows without bound, and no one can walk
    # another person's originals by counting. The extension comes from the verified format.
    return f"originals/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}{_extension(filename)}"


def thumbnail_upload_to(instance: Image, filename: str) -> str:
    return f"thumbnails/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}.webp"


def _extension(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower() if dot != -1 else ""


class Image(models.Model):
    """A stored image: the original bytes exactly as received, plus a WebP thumbnail."""

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
    file_size = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64, db_index=True)
    prompt = models.TextField()
    revised_prompt = models.TextField(blank=True)
    model = models.CharField(max_length=100)
    size = models.CharField(max_length=20)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Through a model of our own: taggit's default one keys objects by integer, and ours are UUIDs.
    tags = TaggableManager(blank=True, through="TaggedImage")

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-index"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="image_owner_recent")]
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


class TaggedImage(TaggedItemBase):
    """One tag on one image."""

    content_object = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tagged_items")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_object", "tag"], name="one_tag_per_image"),
        ]
