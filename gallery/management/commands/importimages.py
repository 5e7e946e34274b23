"""``manage.py importimages PATH --user NAME``: bring a folder of images (thousands) into one
person's gallery, each verified and stored like a generated one; duplicates are skipped and bad
files fail alone, with their reason."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from gallery import services
from gallery.forms import split_tags

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".svg"}


def image_files(root: Path, *, recursive: bool):
    if root.is_file():
        yield root
        return
    if not recursive:
        yield from sorted(p for p in root.iterdir() if p.suffix.lower() in EXTENSIONS)
        return
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            if Path(name).suffix.lower() in EXTENSIONS:
                yield Path(folder) / name


class Command(BaseCommand):
    help = "Import the images of a folder (or one file) into a user's gallery."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="A folder (walked recursively) or one image file.")
        parser.add_argument("--user", required=True, help="Whose gallery gets them.")
        parser.add_argument("--tags", default="", help="Tags for every image, comma-separated.")
        parser.add_argument(
            "--no-recursive", action="store_true", help="Only the folder's own files."
        )

    def handle(self, *args, path: str, user: str, tags: str, no_recursive: bool, **options):
        root = Path(path).expanduser()
        if not root.exists():
            raise CommandError(f"No such file or folder: {root}")
        User = get_user_model()
        try:
            owner = User.objects.get(**{User.USERNAME_FIELD: user})
        except User.DoesNotExist:
            raise CommandError(f"No such user: {user}") from None
        tag_names = split_tags(tags)[:20]
        counts = {"imported": 0, "duplicate": 0, "failed": 0}
        for file_path in image_files(root, recursive=not no_recursive):
            try:
                data = file_path.read_bytes()
            except OSError as exc:
                counts["failed"] += 1
                self.stderr.write(f"failed     {file_path}: could not be read: {exc.strerror}")
                continue
            result = services.image_import(
                owner=owner,
                data=data,
                filename=file_path.name,
                tag_names=tag_names,
                modified_at=_modified(file_path),
            )
            counts[result.status] += 1
            if result.status == "failed":
                self.stderr.write(f"failed     {file_path}: {result.reason}")
            elif result.status == "duplicate":
                self.stdout.write(f"duplicate  {file_path}: {result.reason}")
            elif options["verbosity"] > 1:
                self.stdout.write(f"imported   {file_path}")
        self.stdout.write(
            f"Imported {counts['imported']}, skipped {counts['duplicate']} duplicate"
            f"{'' if counts['duplicate'] == 1 else 's'}, {counts['failed']} failed."
        )


def _modified(path) -> datetime | None:
    """The file's modification time: an import's date where the file itself names none."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except (OSError, OverflowError, ValueError):
        return None
