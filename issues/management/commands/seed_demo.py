"""manage.py seed_demo: the fictional demo directory, accounts and issues. Safe to run again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.urls import reverse

from directory.demo import demo_account_rows, demo_password, seed_directory
from directory.models import LPC, Pharmacy, RegistrationAuthority
from issues.demo import seed_issues


class Command(BaseCommand):
    help = "Load fictional demo data (directory, one account per role, issues) and print the demo accounts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="print only the accounts summary")
        parser.add_argument(
            "--print-accounts-only", action="store_true", help="print the demo accounts and change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["print_accounts_only"]:
            with transaction.atomic():
                accounts = seed_directory()
                issue_count = seed_issues(accounts)
            if not options["quiet"]:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Demo data ready: {RegistrationAuthority.objects.count()} RAs, {LPC.objects.count()} LPCs, "
                        f"{Pharmacy.objects.count()} pharmacies, {issue_count} demo issues."
                    )
                )
        self._print_accounts()

    def _print_accounts(self) -> None:
        login_url = settings.SITE_URL + reverse("login")
        rows = demo_account_rows()
        width = max(len(label) for label, _ in rows)
        self.stdout.write(f"Log in at {login_url} with one of the demo accounts (password: {demo_password()})")
        for label, email in rows:
            self.stdout.write(f"  {label.ljust(width)}  {email}")
