"""The worker's national figures (issues.services.figures.figures_refresh) on a data set (not a test).

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sr_bench_1m .venv/bin/python bench/figures_refresh.py

Works out and stores CPE IT's figures for every period (4, 13 and 52 weeks) as the beat task does,
in this process, and prints how long each period took (FiguresSnapshot.seconds), the CPU time of
this process and the load average. It writes the FiguresSnapshot rows (three rows, replaced each
run): run it on a benchmark database before bench/pages_bench.py, so the pages read a snapshot
as they do on a site whose worker runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sr_bench_1m")
    os.environ.setdefault("DEBUG", "True")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcard_route.settings")
    import django

    django.setup()
    from issues.services.figures import figures_refresh

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    started, cpu = time.monotonic(), time.process_time()
    for snapshot in figures_refresh():
        print(f"{snapshot.weeks:>2} weeks: {snapshot.seconds:6.2f} s, {snapshot.data['resolved']:,} resolved")
    print(f"all: {time.monotonic() - started:.2f} s wall, {time.process_time() - cpu:.2f} s CPU in Python")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
