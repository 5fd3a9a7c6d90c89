"""The directory import (directory.importer.directory_import, behind manage.py import_directory)
fed malformed files: other encodings, quotes left open, NUL and other control characters, huge
cells, ragged rows, and random bytes. Each is imported cleanly or rejected with every problem
named (DirectoryImportRejected, nothing written), never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from directory.importer import DirectoryImportRejected, directory_import
from directory.models import LPC, Pharmacy, PharmacyOwner, RegistrationAuthority
from tests.hostile.strategies import NASTY, form_text

pytestmark = pytest.mark.django_db

HEADER = "ods_code,name,address,postcode,email,phone,owner,ra,lpc\n"
OWNERS = "name,email,phone\nAcorn Pharmacy Ltd,office@acorn.example,0113 496 0001\n"
GOOD_ROW = "FA001,Acorn Pharmacy,2 Otley Road,LS6 3PR,fa001@nhs.example,0113 496 0004,Acorn Pharmacy Ltd,,\n"


def _counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Pharmacy, PharmacyOwner, RegistrationAuthority, LPC))


def _import(tmp_path: Path, pharmacies: bytes) -> list[str] | None:
    """The problems reported, or None when it was imported."""
    (tmp_path / "owners.csv").write_text(OWNERS, encoding="utf-8")
    (tmp_path / "pharmacies.csv").write_bytes(pharmacies)
    before = _counts()
    try:
        directory_import(files={"owners": tmp_path / "owners.csv", "pharmacies": tmp_path / "pharmacies.csv"})
    except DirectoryImportRejected as rejected:
        assert _counts() == before, "a rejected import wrote something"
        return [str(error) for error in rejected.errors]
    return None


def test_it_rejects_a_quote_left_open_instead_of_importing_one_garbage_row(tmp_path: Path) -> None:
    text = HEADER + GOOD_ROW + 'FA002,"Acorn Pharmacy Two,3 Otley Road,LS6 3PR,,,Acorn Pharmacy Ltd,,\n' + GOOD_ROW
    problems = _import(tmp_path, text.encode())
    assert problems is not None and any("quote" in problem for problem in problems), problems
    assert not Pharmacy.objects.exists()


@pytest.mark.parametrize(
    ("what", "cell"),
    [("NUL", "Acorn\x00Pharmacy"), ("escape", "Acorn\x1b[31m"), ("C1 control", "Acorn\x85Pharmacy")],
)
def test_it_rejects_control_characters_in_a_cell(tmp_path: Path, what: str, cell: str) -> None:
    text = HEADER + GOOD_ROW.replace("Acorn Pharmacy,", f"{cell},", 1)
    problems = _import(tmp_path, text.encode())
    assert problems is not None and any("control character" in problem for problem in problems), (what, problems)


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "cp1252"])
def test_it_rejects_a_file_in_another_encoding(tmp_path: Path, encoding: str) -> None:
    text = HEADER + GOOD_ROW.replace("Acorn Pharmacy,", "Açorn Phàrmacy,", 1)
    problems = _import(tmp_path, text.encode(encoding))
    assert problems is not None and any("UTF-8" in problem or "column" in problem for problem in problems)


def test_it_rejects_a_huge_cell_and_names_it_briefly(tmp_path: Path) -> None:
    text = HEADER + GOOD_ROW.replace("Acorn Pharmacy,", "x" * 100_000 + ",", 1)
    problems = _import(tmp_path, text.encode())
    assert problems is not None and any("characters or fewer" in problem for problem in problems)
    assert all(len(problem) < 1000 for problem in problems)


def test_it_stores_right_to_left_and_other_scripts_as_text(tmp_path: Path) -> None:
    text = HEADER + GOOD_ROW.replace("Acorn Pharmacy,", "صيدلية \u202eAcorn\u202c,", 1)
    assert _import(tmp_path, text.encode("utf-8-sig")) is None
    assert Pharmacy.objects.get(ods_code="FA001").name == "صيدلية \u202eAcorn\u202c"


def test_it_refuses_digits_of_other_scripts_as_a_phone_number(tmp_path: Path) -> None:
    text = HEADER + GOOD_ROW.replace("0113 496 0004", "٠١١٣ ٤٩٦ ٠٠٠٤", 1)
    problems = _import(tmp_path, text.encode())
    assert problems is not None and any("phone" in problem for problem in problems)


_cell = st.one_of(form_text, st.sampled_from(['"', '""', '"a', 'a"b', "\r", "\n", ",", "\x00"]))
_row = st.lists(_cell, min_size=0, max_size=12).map(lambda cells: ",".join(cells))


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(_row, max_size=4),
    raw=st.binary(max_size=200),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]),
)
def test_it_imports_or_rejects_any_file(tmp_path_factory: pytest.TempPathFactory, rows, raw, encoding) -> None:
    tmp_path = tmp_path_factory.mktemp("import")
    text = HEADER + "\n".join(rows)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    for content in (data, raw, data + raw):
        problems = _import(tmp_path, content)
        assert problems is None or all(isinstance(problem, str) and problem for problem in problems)


def test_the_fixed_list_is_in_the_fuzz() -> None:
    assert "\x00" in NASTY
