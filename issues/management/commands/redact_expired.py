"""manage.py redact_expired [--dry-run]: redact the personal data kept past the retention period
(RETENTION_MONTHS after an issue was resolved or withdrawn), as the nightly beat task does; with
--dry-run, only count what the next run would redact (issues.services.retention)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from issues.services.retention import RetentionCounts, retention_cutoff, retention_plan, retention_run

LABELS = {
    "issues": "issues",
    "events": "issue events",
    "outbound_emails": "outbound emails",
    "inbound_emails": "inbound emails (their attachments' files deleted)",
    "inbound_posts": "inbound posts (payload emptied)",
    "cases": "systemic cases",
    "case_events": "systemic case events",
}


class Command(BaseCommand):
    help = "Redact personal data past the retention period; --dry-run counts what would be redacted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what the next run would redact")

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = retention_cutoff()
        self.stdout.write(
            f"Retention: {settings.RETENTION_MONTHS} months; closed before {cutoff:%Y-%m-%d %H:%M} (UTC) is due."
        )
        if options["dry_run"]:
            self._table("The next run would redact", retention_plan())
        else:
            self._table("Redacted", retention_run())

    def _table(self, title: str, counts: RetentionCounts) -> None:
        self.stdout.write(f"{title}:")
        for key, value in counts.as_dict().items():
            self.stdout.write(f"  {value:>8}  {LABELS[key]}")
