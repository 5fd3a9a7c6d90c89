"""Made-up directory rows the import benchmarks share (bench/directory_import.py,
bench/nhsbsa_import_bench.py): ODS codes and postcode districts, fixed by the row's number."""

from __future__ import annotations

OUTWARD = ["LS1", "M1", "BS1", "YO1", "PE15", "OL1", "BL9", "CB1", "NE1", "B1"]


def ods(n: int) -> str:
    """The n-th pharmacy's ODS code: F and four base-36 digits (FA000 style, unique below 36**4)."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    for _ in range(4):
        n, remainder = divmod(n, 36)
        text = digits[remainder] + text
    return "F" + text
