"""Benchmark: import NHSBSA's Contractor Details for all of England (12,000 generated rows) into a
scratch PostgreSQL database, then the same file again, then next month's file.

    .venv/bin/python bench/nhsbsa_import_bench.py \\
        --server postgres://postgres@127.0.0.1:5432 [--rows 12000] [--keep]

It creates its own database (`sr_nhsbsa_bench` on that server, dropped first if it is there, and
dropped again at the end unless --keep), migrates it, fills the ICB -> RA table (42 ICBs, as
England has), writes a fictional file in the 2025 column layout (2,400 owners, 108 LPCs, 42 ICBs),
and times, with the history rows each write makes:
  1. the first import (everything created);
  2. the same file again (must change nothing);
  3. next month: 1 row in 100 renamed, 50 pharmacies closed (gone from the file), 50 opened.
It prints each time, with the machine's load average before and after, since the machine may be
shared.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATABASE = "sr_nhsbsa_bench"
from synthetic import OUTWARD, ods  # noqa: E402


def generate(path: Path, rows: int, *, month: int) -> None:
    """A Contractor Details file; month 2 renames 1 row in 100, closes 50 and opens 50."""
    from directory.nhsbsa import COLUMNS_2025

    owners, lpcs, icbs = max(1, rows // 5), 108, 42
    numbers = list(range(rows))
    if month == 2:
        numbers = numbers[50:] + list(range(rows, rows + 50))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS_2025)
        for n in numbers:
            renamed = month == 2 and n % 100 == 0
            values = {
                "YEAR_MONTH": f"20250{month}",
                "REGION_CODE": "Y63",
                "REGION_NAME": "NORTH EAST AND YORKSHIRE",
                "ICB_CODE": f"QB{n % icbs:02d}",
                "ICB_NAME": f"NHS BENCH {n % icbs} INTEGRATED CARE BOARD",
                "HWB_CODE": "E08000999",
                "HWB_NAME": "BENCH",
                "LPC_CODE": f"L{n % lpcs:03d}",
                "LPC_NAME": f"BENCH LPC {n % lpcs}",
                "START_DATE": "20150401",
                "CONTRACTOR_CODE": ods(n),
                "CONTRACTOR_NAME": f"BENCH OWNER {n % owners} LTD",
                "TRADING_NAME": f"BENCH PHARMACY {n}{' RENAMED' if renamed else ''}",
                "ADDRESS_FIELD1": f"{n} HIGH STREET",
                "ADDRESS_FIELD2": "BENCH TOWN",
                "ADDRESS_FIELD3": "",
                "ADDRESS_FIELD4": "",
                "POST_CODE": f"{OUTWARD[n % len(OUTWARD)]} {n % 10}AB",
                "PHONE_NUMBER": "0113 496 0001",
                "PHARMACY_TYPE": "Community Pharmacy",
                "PRIVATE": "",
            }
            writer.writerow([values[name] for name in COLUMNS_2025])


def recreate(server: str, *, drop_only: bool = False) -> None:
    import psycopg2

    connection = psycopg2.connect(f"{server}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        if not drop_only:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    connection.close()


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--rows", type=int, default=12000)
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE} database afterwards")
    args = parser.parse_args()
    server = args.server.rstrip("/")
    recreate(server)
    os.environ["DATABASE_URL"] = f"{server}/{DATABASE}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcard_route.settings")
    os.environ.setdefault("DEBUG", "True")
    import django

    django.setup()
    from django.core.management import call_command

    from directory.models import IcbRegistrationAuthority, Pharmacy, RegistrationAuthority
    from directory.nhsbsa import nhsbsa_import

    try:
        call_command("migrate", verbosity=0)
        for n in range(42):
            ra = RegistrationAuthority.objects.create(name=f"Bench RA {n}", email=f"ra{n}@nhs.example")
            IcbRegistrationAuthority.objects.create(icb_code=f"QB{n:02d}", icb_name=f"NHS Bench {n} ICB", ra=ra)
        print(f"{args.rows} rows into {DATABASE}; {load()}")
        with tempfile.TemporaryDirectory() as folder:
            for label, month in (("first import", 1), ("same file again", 1), ("next month", 2)):
                path = Path(folder) / f"contractor_details_{month}.csv"
                if not path.exists():
                    generate(path, args.rows, month=month)
                started = time.perf_counter()
                result = nhsbsa_import(path=path)
                elapsed = time.perf_counter() - started
                c = result.counts["pharmacies"]
                print(
                    f"{label}: {elapsed:.2f} s; pharmacies {c.created} created, {c.updated} updated, "
                    f"{c.unchanged} unchanged, {c.deactivated} deactivated; {load()}"
                )
        print(f"pharmacies {Pharmacy.objects.count()}, history rows {Pharmacy.history.count()}")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            recreate(server, drop_only=True)


if __name__ == "__main__":
    main()
