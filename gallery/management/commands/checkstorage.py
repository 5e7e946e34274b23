"""``manage.py checkstorage [--fix]``: rows whose files are missing, and files no row refers to
(walked through the storage API, so it works on S3). ``--fix`` deletes the stray files; rows
without files are only reported (deleting a person's record is their call, or the admin's)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from gallery import services


class Command(BaseCommand):
    help = "Compare image rows with stored files; --fix removes files no row refers to."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fix", action="store_true", help="Delete the stray files.")

    def handle(self, *args, fix: bool, **options) -> None:
        report = services.storage_check(fix=fix)
        for image_id, name in report.missing:
            self.stdout.write(f"missing file  {name} (image {image_id})")
        for name in report.stray:
            verb = "removed" if name in report.removed else "stray file"
            self.stdout.write(f"{verb:<13} {name}")
        self.stdout.write(
            f"{report.rows} image rows, {report.files} files: "
            f"{len(report.missing)} rows without files, {len(report.stray)} files without rows"
            + (f", {len(report.removed)} removed." if fix else ".")
        )
        if report.missing or (report.stray and not fix):
            raise SystemExit(1)
