"""Made-up directory values, fixed by a row's number, for the tests' factories and the benchmarks'
data (bench/synthetic.py): no Django, so a benchmark may import it before setting Django up."""

from __future__ import annotations


def ods_code(n: int) -> str:
    """Old-style ODS codes: F and four base-36 characters (F0000, F0001, ... F000Z, F0010, ...),
    unique below 36**4."""
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    for _ in range(4):
        n, remainder = divmod(n, 36)
        text = digits[remainder] + text
    return "F" + text
