"""Made-up directory rows the import benchmarks share (bench/directory_import.py,
bench/nhsbsa_import_bench.py): ODS codes and postcode districts, fixed by the row's number."""

from __future__ import annotations

from tests.synthetic import ods_code

OUTWARD = ["LS1", "M1", "BS1", "YO1", "PE15", "OL1", "BL9", "CB1", "NE1", "B1"]


ods = ods_code  # the n-th pharmacy's ODS code, as the tests' factories make them
