"""First-run setup for `make run`: a local admin account and the gallery's key for this site.

Runs on every `make run` and does only what is missing, so that a fresh machine works at once
and a configured one is left alone.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from api.services import apikey_authenticate, apikey_create

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the local admin account and the gallery's API key if they are missing."

    def add_arguments(self, parser):
        parser.add_argument("--env-file", default=str(Path(settings.BASE_DIR) / ".env"))

    def handle(self, *args, env_file: str, **options):
        User = get_user_model()
        admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        if admin is None:
            password = secrets.token_urlsafe(12)
            admin = User.objects.create_superuser(ADMIN_USERNAME, "", password)
            self.stdout.write(self.style.SUCCESS("Created a local admin account. Log in with:"))
            self.stdout.write(f"  Username: {ADMIN_USERNAME}")
            self.stdout.write(f"  Password: {password}")
            self.stdout.write(
                "  (shown only now; change it with `python manage.py changepassword admin`)"
            )
        else:
            self.stdout.write(f"Admin account: {admin.get_username()} (password as set before).")

        if os.environ.get("NOVISURF_API_BASE"):
            self.stdout.write(f"Gallery endpoint: {settings.NOVISURF_API_BASE} (configured).")
            return
        # The gallery calls this site's own endpoint: it needs a valid key of its own. A key
        # that was revoked or deleted is replaced here: running `make run` again repairs it.
        current = settings.NOVISURF_API_KEY and apikey_authenticate(
            raw_key=settings.NOVISURF_API_KEY
        )
        if current:
            if not current.is_service:
                current.is_service = True
                current.save(update_fields=["is_service"])
            self.stdout.write(f"Gallery endpoint: {settings.NOVISURF_API_BASE} (built in).")
            return
        if settings.NOVISURF_API_KEY:
            self.stdout.write(
                self.style.WARNING(
                    "The gallery's API key was refused (revoked?); making a new one."
                )
            )
        _, raw_key = apikey_create(owner=admin, name="Gallery (made by make run)", is_service=True)
        _write_env_value(Path(env_file), "NOVISURF_API_KEY", raw_key)
        self.stdout.write(
            f"Gallery endpoint: {settings.NOVISURF_API_BASE} (built in); made its API key and "
            f"saved it to {env_file}."
        )


def _write_env_value(path: Path, name: str, value: str) -> None:
    lines = path.read_text().splitlines() if path.exists() else []
    lines = [line for line in lines if not line.startswith(f"{name}=")]
    lines.append(f"{name}={value}")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
