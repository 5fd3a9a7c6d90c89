"""manage.py import_directory: load RAs, LPCs, pharmacy owners and pharmacies from CSV files, or
NHSBSA's "Contractor Details" file as published (--nhsbsa).

The columns are documented in docs/directory-import.md. Nothing is imported when any row is bad.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from directory.importer import KINDS, SPECS, DirectoryImportRejected, directory_import
from directory.nhsbsa import nhsbsa_import


class Command(BaseCommand):
    help = (
        "Import the directory from CSV files (one file per kind; see docs/directory-import.md). "
        "Upserts by ODS code and by name; a file with any bad row imports nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        for kind in KINDS:
            parser.add_argument(
                f"--{kind}", type=Path, metavar="FILE.csv", help=f"CSV file of {SPECS[kind].label} rows"
            )
        parser.add_argument(
            "--nhsbsa",
            type=Path,
            metavar="FILE.csv",
            help="NHSBSA's Contractor Details CSV as published (pharmacies, owners, LPCs); not with the others",
        )
        parser.add_argument(
            "--keep-missing",
            action="store_true",
            help="with --nhsbsa: leave active the pharmacies that are not in the file (a partial file)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check and count, but write nothing")
        parser.add_argument(
            "--progress-every", type=int, default=1000, metavar="N", help="report progress every N rows (1000)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        files = {kind: options[kind] for kind in KINDS if options[kind] is not None}
        if options["nhsbsa"] is not None:
            if files:
                raise CommandError("Give --nhsbsa alone: the NHSBSA file is imported on its own.")
            self._nhsbsa(options)
            return
        if options["keep_missing"]:
            raise CommandError("--keep-missing goes with --nhsbsa.")
        if not files:
            raise CommandError("Give at least one file: " + " ".join(f"--{kind} FILE.csv" for kind in KINDS))
        result = self._run(
            directory_import, options, files=files, dry_run=options["dry_run"], progress=self.stdout.write
        )

        for kind, counts in result.counts.items():
            self.stdout.write(
                f"{kind}: {counts.rows} rows: {counts.created} created, {counts.updated} updated, "
                f"{counts.unchanged} unchanged"
            )
        if result.dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
        elif result.changed:
            self.stdout.write(self.style.SUCCESS("Import complete."))
        else:
            self.stdout.write(self.style.SUCCESS("Import complete: the directory already matched these files."))

    def _run(self, service: Callable[..., Any], options: dict[str, Any], **arguments: Any) -> Any:
        """Run one of the import services with --progress-every; a rejected file is every problem
        on stderr and a CommandError, nothing imported."""
        if options["progress_every"] < 1:
            raise CommandError("--progress-every must be at least 1")
        try:
            return service(progress_every=options["progress_every"], **arguments)
        except DirectoryImportRejected as rejected:
            for error in rejected.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"Nothing was imported: {len(rejected.errors)} problem(s) listed above. Fix them and run it again."
            ) from None

    def _nhsbsa(self, options: dict[str, Any]) -> None:
        result = self._run(
            nhsbsa_import,
            options,
            path=options["nhsbsa"],
            dry_run=options["dry_run"],
            keep_missing=options["keep_missing"],
            progress=self.stdout.write,
        )
        for line in result.summary_lines():
            self.stdout.write(line)
        if result.dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was written."))
        elif result.changed:
            self.stdout.write(self.style.SUCCESS("Import complete."))
        else:
            self.stdout.write(self.style.SUCCESS("Import complete: the directory already matched this file."))
