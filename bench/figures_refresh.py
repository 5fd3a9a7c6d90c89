"""The worker's figures (issues.services.figures.figures_refresh) on a data set (not a test).

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sr_bench_1m .venv/bin/python bench/figures_refresh.py

Works out and stores CPE IT's figures and every LPC's (those with an officer) for every period
(4, 13 and 52 weeks) as the beat task does, in this process, and prints how long the national
figures of each period took (FiguresSnapshot.seconds), the LPCs' in all and at most, the CPU time
of this process and the load average. It writes the FiguresSnapshot rows (replaced each run): run
it on a benchmark database before bench/pages_bench.py, so the pages read a snapshot as they do on
a site whose worker runs.
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
    import logging

    from issues.services.figures import figures_refresh

    logging.getLogger("issues.services.figures").setLevel(logging.WARNING)  # its line per snapshot

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    started, cpu = time.monotonic(), time.process_time()
    lpcs: dict[int, list[float]] = {}
    for snapshot in figures_refresh():
        if snapshot.lpc_id is None:
            resolved = snapshot.data["resolved"]
            print(f"national, {snapshot.weeks:>2} weeks: {snapshot.seconds:6.2f} s, {resolved:,} resolved")
        else:
            lpcs.setdefault(snapshot.weeks, []).append(snapshot.seconds)
    for weeks, seconds in sorted(lpcs.items()):
        print(f"{len(seconds)} LPCs, {weeks:>2} weeks: {sum(seconds):6.2f} s in all, at most {max(seconds):.3f} s")
    print(f"all: {time.monotonic() - started:.2f} s wall, {time.process_time() - cpu:.2f} s CPU in Python")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
