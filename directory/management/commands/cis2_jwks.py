"""Print the public key set to register with CIS2 (docs/sign-in.md): the public half of the site's
private key (CIS2_PRIVATE_KEY_FILE, or --key), as a JWKS with the kid the site signs with."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from directory.accounts.cis2 import public_jwks


class Command(BaseCommand):
    help = "Print the public JWKS of the site's CIS2 signing key, to register with NHS CIS2."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--key", help="the private key's PEM file (default: CIS2_PRIVATE_KEY_FILE)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["key"] or settings.CIS2_PRIVATE_KEY_FILE
        if not path:
            raise CommandError("Give the private key's file: --key PATH, or set CIS2_PRIVATE_KEY_FILE.")
        self.stdout.write(json.dumps(public_jwks(path, settings.CIS2_KEY_ID), indent=2))
