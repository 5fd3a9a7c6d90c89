"""CSV exports of lists of issues (DESIGN.md, "Exports"): the rows of a filtered list (the same
issues.filters.IssueFilter over the same selector as the page and the API), streamed.

- Streamed: the rows are read with `QuerySet.iterator(chunk_size=CHUNK_SIZE)` (a server-side cursor
  on PostgreSQL, in a transaction so that it is not WITH HOLD) and written one line at a time, so
  an export of a million rows holds one chunk in memory, never the list, and its first line comes
  as soon as the first chunk is read (bench/export_memory.py, bench/pages_bench.py).
- UTF-8 with a byte order mark, so Excel opens names with accents as they are.
- Formula-safe: a cell that starts with = + - @, a tab or a carriage return would be run as a
  formula by a spreadsheet (CSV injection); it is written with a single quote in front, which makes
  it plain text. Every cell goes through `inert`, whoever typed it.
- Times in ISO 8601, in Europe/London with the offset (smartcard_route.dates.moment_iso).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from issues import presentation
from issues.models import Deadline, Issue
from smartcard_route.dates import moment_iso

__all__ = ["BOM", "CHUNK_SIZE", "COLUMNS", "inert", "issue_csv_lines"]

BOM = "\ufeff"
CHUNK_SIZE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> str:
    """The cell's text, with a single quote in front when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _name(thing: Any) -> str:
    return thing.name if thing is not None else ""


# (heading, the cell of one issue); `now` for what depends on the moment of the export.
COLUMNS: list[tuple[str, Callable[[Issue, Any], Any]]] = [
    ("Reference", lambda issue, now: issue.reference),
    ("Reported", lambda issue, now: moment_iso(issue.created_at)),
    ("Pharmacy", lambda issue, now: issue.pharmacy.name),
    ("ODS code", lambda issue, now: issue.pharmacy.ods_code),
    ("Registration Authority", lambda issue, now: _name(issue.pharmacy.ra)),
    ("LPC", lambda issue, now: _name(issue.pharmacy.lpc)),
    ("Kind of problem", lambda issue, now: issue.get_kind_display()),
    ("Status", lambda issue, now: presentation.status_label(issue)),
    ("Waiting for", lambda issue, now: Deadline(issue.due_kind).label if issue.due_kind else ""),
    ("Deadline", lambda issue, now: moment_iso(issue.due_at) if issue.due_kind else ""),
    ("Overdue", lambda issue, now: _yes_no(issue.is_overdue_at(now))),
    ("Emergency", lambda issue, now: _yes_no(issue.is_emergency)),
    ("Summary", lambda issue, now: issue.summary),
]


class _Line:
    """A file-like object for csv.writer that hands back each line instead of keeping it."""

    def write(self, text: str) -> str:
        return text


def _lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    for row in rows:
        yield writer.writerow([inert(cell) for cell in row])


def issue_csv_lines(issues: QuerySet[Issue], *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """The CSV of `issues` (already scoped and filtered), line by line: the BOM and the headings
    first, then one line per issue in the queryset's order."""
    now = timezone.now()
    yield BOM
    yield from _lines([[heading for heading, _cell in COLUMNS]])
    # In a transaction of its own, for as long as the file streams: outside one (autocommit),
    # Django declares the server-side cursor WITH HOLD, and PostgreSQL then computes and stores the
    # whole result before the first row comes back (at 1,000,000 issues, the first line took half
    # a minute; docs/benchmarks.md, "The CSV export's first byte"). Inside one, rows stream as the
    # index gives them. A download that stops closes the generator, which ends the transaction.
    with transaction.atomic():
        yield from _lines(
            [cell(issue, now) for _heading, cell in COLUMNS] for issue in issues.iterator(chunk_size=chunk_size)
        )
