"""Files follow rows: whatever deletes an image row (the trash, the admin, a deleted user's
cascade, a bulk delete), its files are deleted once that deletion commits.

The one kind of signal we keep: it is lifecycle, not business logic (as Wagtail's
``wagtail/images/signal_handlers.py``).
"""

from __future__ import annotations

from django.db.models.signals import post_delete

from .models import Generation, Image
from .services.files import files_delete_on_commit


def image_files_follow(sender, instance: Image, **kwargs) -> None:
    files_delete_on_commit(names=[instance.file.name, instance.thumbnail.name])


def generation_files_follow(sender, instance: Generation, **kwargs) -> None:
    if instance.mask:
        files_delete_on_commit(names=[instance.mask.name])


def register() -> None:
    post_delete.connect(image_files_follow, sender=Image, dispatch_uid="image_files_follow")
    post_delete.connect(
        generation_files_follow, sender=Generation, dispatch_uid="generation_files_follow"
    )
