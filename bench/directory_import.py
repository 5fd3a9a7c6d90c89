"""Benchmark: import a national-size directory (10,500 pharmacies) from CSV, then import it again.

    DATABASE_URL=postgres://... .venv/bin/python bench/directory_import.py [--pharmacies 10500]

It writes fictional CSV files to a temporary folder, imports them into the database that
DATABASE_URL names (after `manage.py migrate`), imports them a second time (which must change
nothing), changes one row in 100 and imports again, and prints the time of each run. It leaves the
rows in that database: point it at a scratch database.
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
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcard_route.settings")
os.environ.setdefault("DEBUG", "True")

import django

django.setup()

from synthetic import OUTWARD, ods  # noqa: E402

from directory.importer import directory_import  # noqa: E402


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def generate(folder: Path, pharmacies: int, variant: int = 0) -> dict[str, Path]:
    ras, lpcs, owners = 40, 50, max(1, pharmacies // 5)
    write(
        folder / "ras.csv",
        ["name", "kind", "email", "phone", "areas_covered", "active"],
        [[f"Bench RA {n}", "icb", f"ra{n}@nhs.example", "0113 496 0000", f"Area {n}", "yes"] for n in range(ras)],
    )
    write(
        folder / "lpcs.csv",
        ["name", "email", "phone", "area"],
        [[f"Bench LPC {n}", f"lpc{n}@lpc.example", "0161 496 0000", f"Area {n}"] for n in range(lpcs)],
    )
    write(
        folder / "owners.csv",
        ["name", "email", "phone"],
        [[f"Bench Owner {n} Ltd", f"owner{n}@owner.example", "0117 496 0000"] for n in range(owners)],
    )
    rows = []
    for n in range(pharmacies):
        changed = variant and n % 100 == 0
        rows.append(
            [
                ods(n),
                f"Bench Pharmacy {n}{' (renamed)' if changed else ''}",
                f"{n} High Street\nBench Town",
                f"{OUTWARD[n % len(OUTWARD)]} {n % 10}AB",
                f"pharmacy{n}@nhs.example",
                "0113 496 0001",
                f"Bench Owner {n % owners} Ltd",
                f"Bench RA {n % ras}",
                f"Bench LPC {n % lpcs}",
            ]
        )
    write(
        folder / "pharmacies.csv",
        ["ods_code", "name", "address", "postcode", "email", "phone", "owner", "ra", "lpc"],
        rows,
    )
    return {kind: folder / f"{kind}.csv" for kind in ("owners", "ras", "lpcs", "pharmacies")}


def timed(label: str, files: dict[str, Path]) -> None:
    started = time.perf_counter()
    result = directory_import(files=files)
    elapsed = time.perf_counter() - started
    counts = result.counts["pharmacies"]
    print(
        f"{label}: {elapsed:.2f} s; pharmacies {counts.created} created, {counts.updated} updated, "
        f"{counts.unchanged} unchanged"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pharmacies", type=int, default=10500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = generate(folder, args.pharmacies)
        timed("first import", files)
        timed("same files again", files)
        timed("1 pharmacy in 100 renamed", generate(folder, args.pharmacies, variant=1))


if __name__ == "__main__":
    main()
