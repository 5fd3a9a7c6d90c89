"""CSV exports of lists of issues (DESIGN.md, "Exports"): the rows of a filtered list (the same
issues.filters.IssueFilter over the same selector as the page and the API), streamed.

- Streamed: the BOM and the headings go out first, before any query; then the rows are read in
  chunks of CHUNK_SIZE, each its own short query starting after the last row of the one before
  (`issue_chunks`: keyset pagination on the list's order, (created_at, pk) newest first), and
  each chunk's lines written as one piece (`issue_csv_pieces`), so an export of a million rows
  holds one chunk in memory, never the list, its first line comes as soon as the first chunk is
  read, and no read stays open for the length of the download (bench/export_memory.py,
  bench/pages_bench.py).
- UTF-8 with a byte order mark, so Excel opens names with accents as they are.
- Formula-safe: a cell that starts with = + - @, a tab or a carriage return would be run as a
  formula by a spreadsheet (CSV injection); it is written with a single quote in front, which makes
  it plain text. Every cell goes through `inert`, whoever typed it.
- Times in ISO 8601, in Europe/London with the offset (smartcard_route.dates.moment_iso).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, tzinfo
from typing import Any

from django.db import transaction
from django.db.models import F, OrderBy, Q, QuerySet
from django.utils import timezone

from issues import presentation
from issues.models import Issue, format_reference, overdue_at
from smartcard_route.dates import moment_iso
from smartcard_route.expressions import SortedAfterFilter

__all__ = ["BOM", "CHUNK_SIZE", "COLUMNS", "READS", "inert", "issue_chunks", "issue_csv_pieces", "newest_first"]

BOM = "\ufeff"
CHUNK_SIZE = 2000
# The first chunk is small: a chunk is read whole before its first line is written.
FIRST_CHUNK = 100
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> str:
    """The cell's text, with a single quote in front when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _yes_no(value: bool) -> str:
    return "Yes" if value else "No"


# What the columns read of an issue, as one row of values (`values_list(..., named=True)`), not
# model instances: building the issue, its pharmacy, RA, LPC and reporter for every row (django-fsm
# set-up included) was most of an export's time, 100 us a row (a national export of the open
# issues: 3 s of CPU). Each cell comes from the same rule the pages use (status_label_for,
# overdue_at, the labels of Kind and Deadline).
READS = (
    "pk",
    "created_at",
    "kind",
    "state",
    "due_kind",
    "due_at",
    "is_emergency",
    "summary",
    "pharmacy__name",
    "pharmacy__ods_code",
    "pharmacy__ra__name",
    "pharmacy__lpc__name",
)

# (heading, the cell of one row of READS); `now` for what depends on the moment of the export,
# `zone` the site's time zone.
COLUMNS: list[tuple[str, Callable[[Any, datetime, tzinfo], Any]]] = [
    ("Reference", lambda row, now, zone: format_reference(row.pk)),
    ("Reported", lambda row, now, zone: moment_iso(row.created_at, zone=zone)),
    ("Pharmacy", lambda row, now, zone: row.pharmacy__name),
    ("ODS code", lambda row, now, zone: row.pharmacy__ods_code),
    ("Registration Authority", lambda row, now, zone: row.pharmacy__ra__name or ""),
    ("LPC", lambda row, now, zone: row.pharmacy__lpc__name or ""),
    ("Kind of problem", lambda row, now, zone: presentation.KIND_LABELS.get(row.kind, row.kind)),
    ("Status", lambda row, now, zone: presentation.status_label_for(state=row.state, kind=row.kind)),
    ("Waiting for", lambda row, now, zone: presentation.DEADLINE_LABELS.get(row.due_kind, row.due_kind)),
    ("Deadline", lambda row, now, zone: moment_iso(row.due_at, zone=zone) if row.due_kind else ""),
    ("Overdue", lambda row, now, zone: _yes_no(overdue_at(due_at=row.due_at, due_kind=row.due_kind, now=now))),
    ("Emergency", lambda row, now, zone: _yes_no(row.is_emergency)),
    ("Summary", lambda row, now, zone: row.summary),
]


class _Line:
    """A file-like object for csv.writer that hands back each line instead of keeping it."""

    def write(self, text: str) -> str:
        return text


def _lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    for row in rows:
        yield writer.writerow([inert(cell) for cell in row])


def _piece(rows: Iterable[Any], now: datetime, zone: tzinfo) -> str:
    """The lines of these rows (of READS) as one piece of the file."""
    return "".join(_lines([cell(row, now, zone) for _heading, cell in COLUMNS] for row in rows))


def newest_first(issues: QuerySet[Issue]) -> bool:
    """Whether `issues` is in the lists' order (issues.selectors.issue_list): created_at, then pk,
    both descending (created_at plain or as SortedAfterFilter, the same order)."""
    order = list(issues.query.order_by)
    if len(order) != 2 or order[1] != "-pk" or not issues.query.standard_ordering:
        return False
    first = order[0]
    if first == "-created_at":
        return True
    if isinstance(first, OrderBy) and first.descending:
        inner = first.expression
        sources = inner.get_source_expressions() if isinstance(inner, SortedAfterFilter) else []
        return len(sources) == 1 and isinstance(sources[0], F) and sources[0].name == "created_at"  # type: ignore[attr-defined]
    return False


def issue_chunks(issues: QuerySet[Issue], *, chunk_size: int | None = None) -> Iterator[list[Any]]:
    """`issues` (in the lists' order, `newest_first`) as rows of READS (named: `row.pk`,
    `row.created_at`...) chunk after chunk (the first of FIRST_CHUNK
    rows, so that the first line comes soon; then `chunk_size`), each chunk its own short query
    that starts after the last row of the one before (keyset pagination on (created_at, pk),
    which never change): `created_at <= last AND (created_at < last OR pk < last pk)`, the first
    part a range an index on created_at serves. No transaction or cursor stays open while the
    file downloads (a million rows take minutes; a long read holds back VACUUM), and each row comes
    once, in the list's order. A row that changes between two chunks is read as it is when its
    chunk is read; one created meanwhile is newer than the first chunk, so not in the file. A slice
    (`issues[:n]`, bench/export_memory.py) gives its first n rows."""
    chunk_size = chunk_size or CHUNK_SIZE
    remaining: int | None = None
    if issues.query.is_sliced:
        low, high = issues.query.low_mark, issues.query.high_mark
        if low:
            raise ValueError("An export reads from the first row.")
        remaining = high
        issues = issues._chain()  # type: ignore[attr-defined]
        issues.query.clear_limits()
    issues = issues.values_list(*READS, named=True)
    after = issues
    size = min(chunk_size, FIRST_CHUNK)
    while remaining is None or remaining > 0:
        size = size if remaining is None else min(size, remaining)
        chunk = list(after[:size])
        if not chunk:
            return
        yield chunk
        if remaining is not None:
            remaining -= len(chunk)
        if len(chunk) < size:
            return
        size = chunk_size
        last = chunk[-1]
        after = issues.filter(
            Q(created_at__lte=last.created_at) & (Q(created_at__lt=last.created_at) | Q(pk__lt=last.pk))
        )


def issue_csv_pieces(issues: QuerySet[Issue], *, chunk_size: int | None = None) -> Iterator[str]:
    """The CSV of `issues` (already scoped and filtered), in pieces of whole lines: the BOM and the
    headings first, before any query (the first bytes of the download go out at once), then the
    lines of each chunk of rows read (`issue_chunks`) as one piece, in the queryset's order.

    A piece, not a line, is what the server writes to the socket at a time: a national export
    written line by line was one system call (and one chunk of HTTP's chunked encoding) for each
    of its 31,545 lines, which doubled its time behind gunicorn (docs/benchmarks.md)."""
    now = timezone.now()
    zone = timezone.get_current_timezone()
    yield BOM + next(_lines([[heading for heading, _cell in COLUMNS]]))
    if newest_first(issues):
        for chunk in issue_chunks(issues, chunk_size=chunk_size):
            yield _piece(chunk, now, zone)
        return
    # Another order (none of the site's lists): one read, in a transaction of its own for as long
    # as the file streams, so that PostgreSQL's server-side cursor is not WITH HOLD (which computes
    # and stores the whole result before the first row; docs/benchmarks.md).
    size = chunk_size or CHUNK_SIZE
    with transaction.atomic():
        rows = issues.values_list(*READS, named=True).iterator(chunk_size=size)
        while chunk := list(itertools.islice(rows, size)):
            yield _piece(chunk, now, zone)
