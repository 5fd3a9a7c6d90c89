"""Benchmark (not a test): the CSV export's memory is flat in the number of rows (issue 9, part 2).

    .venv/bin/python bench/export_memory.py                      # 100,000 and 1,000,000 rows of sr_bench_1m
    .venv/bin/python bench/export_memory.py --rows 10000 100000 1000000 --runs 3 --tracemalloc
    BENCH_DATABASE_URL=postgres://user@host:5432/db .venv/bin/python bench/export_memory.py

It reads an existing database of issues (by default sr_bench_1m, the 1,000,000-issue data set of
the page benchmark; it writes nothing to it) and, for each row count, in a fresh child process:

1. builds the export's request as CPE IT would send it (/issues/export.csv?state=all: every issue,
   newest first), takes the export view's filters (issues.views.lists.list_filter: the same
   IssueFilter and selector as the list) and streams the first N rows of that queryset (a slice:
   LIMIT N) through the export's generator (issues.exports.issue_csv_pieces) in a
   StreamingHttpResponse, as issues.views.lists.issue_list_csv does;
2. consumes the streamed response as a client would, counting the bytes, and reports the time to
   the first byte and to the last, the child's peak RSS (resource.getrusage ru_maxrss) before and
   after, and with --tracemalloc, in a second child (tracemalloc slows Python down), the peak of
   Python allocations.

Flat memory means the peak RSS and the Python peak do not grow with N: each is one chunk of rows
(issues.exports.CHUNK_SIZE rows, read as the values of the columns written) and one line at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sr_bench_1m"


def _child(rows: int, url: str, trace: bool) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcard_route.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-real-key")
    os.environ.setdefault("DEBUG", "False")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.http import StreamingHttpResponse
    from django.test import RequestFactory

    from directory.models import User
    from issues import exports
    from issues.views import lists

    # CPE IT sees every issue; an unsaved user, so nothing is written to the benchmark's database.
    user = User(email="bench@cpe.example", is_cpe_it=True, is_active=True)
    request = RequestFactory().get("/issues/export.csv", {"state": "all"})
    request.user = user
    filters = lists.list_filter(request)
    assert filters.is_valid(), filters.errors
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    # The view's own filters and generator (issues.views.lists.issue_list_csv), over the first
    # `rows` of the list (the same queryset, sliced: LIMIT), streamed as the view streams them.
    response = StreamingHttpResponse(exports.issue_csv_pieces(filters.qs[:rows]), content_type="text/csv")
    first_byte = None
    size = 0
    lines = 0
    for chunk in response.streaming_content:  # type: ignore[union-attr]
        if lines == 1:  # the first issue's line (after the BOM with the headings, one piece): the query has answered
            first_byte = time.perf_counter() - started
        size += len(chunk)
        lines += 1
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    return {
        "rows": lines - 1,  # less the BOM with the headings (issues.exports yields them as one piece)
        "bytes": size,
        "first_byte_s": first_byte,
        "total_s": elapsed,
        "rss_before_mib": rss_before / 1024,
        "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "python_peak_mib": peak / 2**20 if peak is not None else None,
    }


def _run(rows: int, url: str, trace: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(rows), "--url", url] + (["--trace"] if trace else [])
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mib(value: float | None) -> str:
    return "not measured" if value is None else f"{value:,.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also measure the Python peak in a second child (5 times slower)"
    )
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(_child(args.child, args.url, args.trace)))
        return
    print(f"database: {args.url.rsplit('/', 1)[-1]}, python {sys.version.split()[0]}, load {os.getloadavg()}")
    table = ["| rows | CSV size | first byte | whole export | peak RSS (before) | Python peak (tracemalloc) |"]
    table.append("|---:|---:|---:|---:|---:|---:|")
    for rows in args.rows:
        runs = [_run(rows, args.url, trace=False) for _ in range(args.runs)]
        traced = _run(rows, args.url, trace=True) if args.tracemalloc else {"python_peak_mib": None}
        assert all(run["rows"] == rows for run in runs), runs
        first = statistics.median(run["first_byte_s"] for run in runs)
        total = statistics.median(run["total_s"] for run in runs)
        rss = max(run["rss_peak_mib"] for run in runs)
        before = max(run["rss_before_mib"] for run in runs)
        print(json.dumps({"rows": rows, "runs": runs, "traced": traced}))
        table.append(
            f"| {rows:,} | {runs[0]['bytes'] / 2**20:,.0f} MiB | {first * 1000:,.0f} ms | {total:,.1f} s "
            f"| {rss:,.0f} MiB ({before:,.0f} MiB) | {_mib(traced['python_peak_mib'])} |"
        )
    print("\n".join(table))


if __name__ == "__main__":
    main()
