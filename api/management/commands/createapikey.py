"""`python manage.py createapikey USERNAME [--name LABEL] [--service]`: the key is the last line
printed."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.services import apikey_create


class Command(BaseCommand):
    help = "Make an API key for a user and print it (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the key by.")
        parser.add_argument(
            "--service",
            action="store_true",
            help=(
                "The gallery's own key (NOVISURF_API_KEY): the gallery stores what it makes, so "
                "the endpoint does not keep its answers again, and its per-key rate does not "
                "throttle the form."
            ),
        )

    def handle(self, *args, username: str, name: str, service: bool = False, **options):
        User = get_user_model()
        try:
            owner = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        api_key, raw_key = apikey_create(owner=owner, name=name, is_service=service)
        self.stderr.write(f"API key {api_key.prefix}… made for {username}. It is shown only now:")
        self.stdout.write(raw_key)
