"""`python manage.py createapikey USERNAME [--name LABEL]`: the key is the last line printed."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.services import apikey_create


class Command(BaseCommand):
    help = "Make an API key for a user and print it (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the key by.")

    def handle(self, *args, username: str, name: str, **options):
        User = get_user_model()
        try:
            owner = User.objects.get(**{User.USERNAME_FIELD: username})
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        api_key, raw_key = apikey_create(owner=owner, name=name)
        self.stderr.write(f"API key {api_key.prefix}… made for {username}. It is shown only now:")
        self.stdout.write(raw_key)
