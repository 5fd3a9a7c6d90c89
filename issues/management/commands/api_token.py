"""manage.py api_token <email>: print the user's API token, creating it if needed.

The token authenticates as that user (`Authorization: Token <key>`), with exactly the user's scope.
`--rotate` replaces an existing token (the old one stops working at once); `--revoke` deletes it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from directory.models import User


class Command(BaseCommand):
    help = "Print a user's API token (creating one), or rotate or revoke it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the user's email address")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--rotate", action="store_true", help="replace the existing token with a new one")
        group.add_argument("--revoke", action="store_true", help="delete the token; the API refuses it from now on")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip().lower()
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with the email address {email}.")
        if not user.is_active:
            raise CommandError(f"{email} is not active, so it cannot use the API.")
        with transaction.atomic():
            if options["revoke"]:
                deleted, _ = Token.objects.filter(user=user).delete()
                self.stdout.write(f"Revoked the API token of {email}." if deleted else f"{email} had no API token.")
                return
            if options["rotate"]:
                Token.objects.filter(user=user).delete()
            token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
