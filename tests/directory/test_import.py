"""manage.py import_directory: good files, every kind of bad row, idempotency, progress."""

from __future__ import annotations

from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from directory.importer import DirectoryImportRejected, directory_import
from directory.models import LPC, Pharmacy, PharmacyOwner, RegistrationAuthority
from tests.issues.factories import PharmacyOwnerFactory, RegistrationAuthorityFactory

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "directory" / "fixtures" / "demo"

OWNERS = "name,email,phone\nAcorn Pharmacy Ltd,office@acorn.example,0113 496 0001\n"
RAS = (
    "name,kind,email,phone,postal_address,website,areas_covered,active,last_verified,source\n"
    'Acorn Valley ICB RA,icb,RA.Team@NHS.example,0113 496 0002,"1 Main Street\nLeeds",'
    "https://ra.acorn.example,Leeds,yes,2026-01-31,NHS England RA directory\n"
)
LPCS = "name,email,phone,website,area\nCommunity Pharmacy Acorn,lpc@acorn.example,0113 496 0003,,Leeds\n"
PHARMACIES = (
    "ods_code,name,address,postcode,email,phone,owner,ra,lpc\n"
    "fa001,Acorn Pharmacy Headingley,2 Otley Road,ls6 3pr,fa001@nhs.example,0113 496 0004,"
    "Acorn Pharmacy Ltd,Acorn Valley ICB RA,Community Pharmacy Acorn\n"
    "A1B2C,Acorn Pharmacy Chapel Allerton,,LS7 4NZ,,,acorn pharmacy ltd,,\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def good_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "owners": write(tmp_path, "owners.csv", OWNERS),
        "ras": write(tmp_path, "ras.csv", RAS),
        "lpcs": write(tmp_path, "lpcs.csv", LPCS),
        "pharmacies": write(tmp_path, "pharmacies.csv", PHARMACIES),
    }


def run(files: dict[str, Path], *extra: str) -> str:
    out = StringIO()
    args = [f"--{kind}={path}" for kind, path in files.items()]
    call_command("import_directory", *args, *extra, stdout=out, stderr=StringIO())
    return out.getvalue()


def rejected(files: dict[str, Path]) -> list[str]:
    """The problems reported for `files`, checking that the command failed and wrote nothing."""
    before = (Pharmacy.objects.count(), RegistrationAuthority.objects.count(), LPC.objects.count())
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command(
            "import_directory", *[f"--{kind}={path}" for kind, path in files.items()], stdout=StringIO(), stderr=err
        )
    assert (Pharmacy.objects.count(), RegistrationAuthority.objects.count(), LPC.objects.count()) == before
    return err.getvalue().splitlines()


def test_it_imports_every_kind_with_clean_values(good_files):
    output = run(good_files)

    assert "pharmacies: 2 rows: 2 created, 0 updated, 0 unchanged" in output
    pharmacy = Pharmacy.objects.select_related("owner", "ra", "lpc").get(ods_code="FA001")
    assert pharmacy.postcode == "LS6 3PR"
    assert pharmacy.owner.name == "Acorn Pharmacy Ltd"
    assert pharmacy.ra is not None and pharmacy.ra.name == "Acorn Valley ICB RA"
    assert pharmacy.lpc is not None and pharmacy.lpc.name == "Community Pharmacy Acorn"
    second = Pharmacy.objects.get(ods_code="A1B2C")
    assert (second.owner.name, second.ra, second.lpc) == ("Acorn Pharmacy Ltd", None, None)
    ra = RegistrationAuthority.objects.get()
    assert ra.email == "ra.team@nhs.example"
    assert ra.postal_address == "1 Main Street\nLeeds"
    assert ra.last_verified == date(2026, 1, 31)
    assert ra.kind == RegistrationAuthority.Kind.ICB and ra.active


def test_it_changes_nothing_when_the_same_files_are_imported_twice(good_files):
    run(good_files)
    stamps = dict(Pharmacy.objects.values_list("ods_code", "updated_at"))

    output = run(good_files)

    for kind, rows in (("owners", 1), ("ras", 1), ("lpcs", 1), ("pharmacies", 2)):
        assert f"{kind}: {rows} rows: 0 created, 0 updated, {rows} unchanged" in output
    assert "already matched" in output
    assert dict(Pharmacy.objects.values_list("ods_code", "updated_at")) == stamps


def test_it_updates_rows_by_natural_key(good_files, tmp_path):
    run(good_files)
    changed = PHARMACIES.replace("Acorn Pharmacy Headingley", '"Acorn Pharmacy, Headingley"')
    files = {"pharmacies": write(tmp_path, "pharmacies.csv", changed)}

    output = run(files)

    assert "pharmacies: 2 rows: 0 created, 1 updated, 1 unchanged" in output
    assert Pharmacy.objects.get(ods_code="FA001").name == "Acorn Pharmacy, Headingley"
    assert Pharmacy.objects.count() == 2


def test_it_matches_names_without_regard_to_case(good_files, tmp_path):
    run(good_files)
    files = {"owners": write(tmp_path, "owners.csv", OWNERS.replace("Acorn Pharmacy Ltd", "ACORN PHARMACY LTD"))}

    output = run(files)

    assert "owners: 1 rows: 0 created, 1 updated, 0 unchanged" in output
    assert list(PharmacyOwner.objects.values_list("name", flat=True)) == ["ACORN PHARMACY LTD"]


def test_it_leaves_columns_that_a_file_omits_as_they_are(good_files, tmp_path):
    run(good_files)
    files = {"ras": write(tmp_path, "ras.csv", "name,phone\nAcorn Valley ICB RA,0113 496 0999\n")}

    run(files)

    ra = RegistrationAuthority.objects.get()
    assert ra.phone == "0113 496 0999"
    assert ra.email == "ra.team@nhs.example"  # not in the file: kept


def test_it_resolves_references_to_rows_already_in_the_directory(tmp_path):
    PharmacyOwnerFactory(name="Existing Owner Ltd")
    RegistrationAuthorityFactory(name="Existing RA")
    files = {
        "pharmacies": write(
            tmp_path,
            "pharmacies.csv",
            "ods_code,name,postcode,owner,ra\nFB002,Elm Pharmacy,M1 1AE,existing owner ltd,Existing RA\n",
        )
    }

    run(files)

    pharmacy = Pharmacy.objects.get()
    assert pharmacy.owner.name == "Existing Owner Ltd"
    assert pharmacy.ra is not None and pharmacy.ra.name == "Existing RA"


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("FW84,Elm,LS1 4AP,Acorn Pharmacy Ltd,,,", "ods_code: Enter a pharmacy ODS code of 5 characters"),
        ("FW844,Elm,LS1,Acorn Pharmacy Ltd,,,", "postcode: Enter a full UK postcode"),
        ("FW844,Elm,LS1 4AP,Acorn Pharmacy Ltd,012345,,", "phone: Enter a UK phone number"),
        ("FW844,Elm,LS1 4AP,Acorn Pharmacy Ltd,,elm@,", "email: Enter an email address"),
        ("FW844,,LS1 4AP,Acorn Pharmacy Ltd,,,", "name: enter a value"),
        ("FW844,Elm,LS1 4AP,,,,", "owner: enter a value"),
        ("FW844,Elm,LS1 4AP,Nobody Ltd,,,", "owner: no pharmacy owner named 'Nobody Ltd'"),
        ("FW844,Elm,LS1 4AP,Acorn Pharmacy Ltd,,,No Such RA", "ra: no Registration Authority named 'No Such RA'"),
        (f"FW844,{'E' * 201},LS1 4AP,Acorn Pharmacy Ltd,,,", "name: Use 200 characters or fewer"),
        ("FW844,Elm,LS1 4AP,Acorn Pharmacy Ltd,,,,surplus", "has 8 values but the header names 7 columns"),
    ],
)
def test_it_rejects_a_bad_pharmacy_row_with_its_line_and_reason(tmp_path, row, problem):
    PharmacyOwnerFactory(name="Acorn Pharmacy Ltd")
    text = (
        "ods_code,name,postcode,owner,phone,email,ra\nFA001,Good Pharmacy,LS6 3PR,Acorn Pharmacy Ltd,,,\n" + row + "\n"
    )

    problems = rejected({"pharmacies": write(tmp_path, "pharmacies.csv", text)})

    assert len(problems) == 1, problems
    assert problems[0].startswith("pharmacies.csv line 3: ")
    assert problem in problems[0]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("Elm RA,council,,,,,,,,", "kind: Use one of: icb, csu, trust, other"),
        ("Elm RA,icb,,,,ra.elm.example,,,,", "website: Enter a full web address"),
        ("Elm RA,icb,,,,,,maybe,,", "active: Use yes or no"),
        ("Elm RA,icb,,,,,,,31-31-2026,", "last_verified: Enter a date like 2026-03-31"),
        ("Elm RA,icb,ra@elm,,,,,,,", "email: Enter an email address"),
    ],
)
def test_it_rejects_a_bad_ra_row_with_its_line_and_reason(tmp_path, row, problem):
    header = RAS.splitlines()[0]
    problems = rejected({"ras": write(tmp_path, "ras.csv", f"{header}\n{row}\n")})

    assert len(problems) == 1, problems
    assert problems[0].startswith(f"ras.csv line 2: {problem}")


def test_it_lists_every_bad_row_of_every_file_and_imports_nothing(good_files, tmp_path):
    good_files["lpcs"] = write(tmp_path, "lpcs.csv", LPCS + "Community Pharmacy Elm,lpc@elm,,,\n")
    good_files["pharmacies"] = write(
        tmp_path,
        "pharmacies.csv",
        PHARMACIES + "FA001,Duplicate,,LS6 3PR,,,Acorn Pharmacy Ltd,,\nBAD,Bad,,nowhere,,,Acorn Pharmacy Ltd,,\n",
    )

    problems = rejected(good_files)

    assert problems == [
        "lpcs.csv line 3: email: Enter an email address like ra.team@nhs.net. (got 'lpc@elm')",
        "pharmacies.csv line 4: ods_code 'FA001' is also on line 2",
        "pharmacies.csv line 5: ods_code: Enter a pharmacy ODS code of 5 characters, like FW844 or A1B2C "
        "(FFFFF for locums). (got 'BAD')",
        "pharmacies.csv line 5: postcode: Enter a full UK postcode, like LS1 4AP. (got 'nowhere')",
    ]
    assert PharmacyOwner.objects.count() == 0  # the good owners file was not imported either


def test_it_counts_lines_of_the_file_when_a_value_spans_lines(tmp_path):
    header = RAS.splitlines()[0]
    text = f'{header}\nElm RA,icb,,,"Line one\nLine two\nLine three",,,,,\nOak RA,icb,,012,,,,,,\n'

    problems = rejected({"ras": write(tmp_path, "ras.csv", text)})

    assert problems[0].startswith("ras.csv line 5: phone:")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "pharmacies.csv: is empty"),
        ("ods_code,name,owner\nFA001,Elm,Acorn\n", "pharmacies.csv line 1: missing required column(s): postcode"),
        ("ods_code,name,postcode,owner,postocde\n", "pharmacies.csv line 1: unknown column(s) postocde"),
        ("ods_code,name,postcode,owner,name\n", "pharmacies.csv line 1: column(s) named twice: name"),
    ],
)
def test_it_rejects_a_file_whose_header_is_wrong(tmp_path, content, problem):
    problems = rejected({"pharmacies": write(tmp_path, "pharmacies.csv", content)})

    assert problems[0].startswith(problem)


def test_it_rejects_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "owners.csv"
    path.write_bytes("name\nCaf\u00e9 Pharmacy Ltd\n".encode("cp1252"))

    assert rejected({"owners": path}) == ["owners.csv: is not UTF-8 text: save it from your spreadsheet as 'CSV UTF-8'"]


def test_it_accepts_a_spreadsheet_export_with_a_byte_order_mark_and_blank_lines(tmp_path):
    path = tmp_path / "owners.csv"
    path.write_bytes(("\ufeffName , Email\r\nAcorn Pharmacy Ltd,office@acorn.example\r\n,\r\n\r\n").encode())

    run({"owners": path})

    assert list(PharmacyOwner.objects.values_list("name", "email")) == [("Acorn Pharmacy Ltd", "office@acorn.example")]


def test_it_reports_progress_on_large_files(tmp_path):
    rows = "".join(f"Owner {n} Ltd,,\n" for n in range(5))
    path = write(tmp_path, "owners.csv", "name,email,phone\n" + rows)

    output = run({"owners": path}, "--progress-every=2")

    assert "owners.csv: checked 2 of 5 rows" in output
    assert "owners.csv: checked 4 of 5 rows" in output
    assert "owners.csv: created 4 of 5" in output
    assert PharmacyOwner.objects.count() == 5


def test_it_writes_nothing_in_a_dry_run(good_files):
    output = run(good_files, "--dry-run")

    assert "pharmacies: 2 rows: 2 created, 0 updated, 0 unchanged" in output
    assert "Dry run" in output
    assert Pharmacy.objects.count() == 0


def test_it_needs_at_least_one_file():
    with pytest.raises(CommandError, match="Give at least one file"):
        call_command("import_directory", stdout=StringIO())


def test_it_reports_a_missing_file(tmp_path):
    with pytest.raises(DirectoryImportRejected) as caught:
        directory_import(files={"owners": tmp_path / "missing.csv"})

    assert [str(error) for error in caught.value.errors] == ["missing.csv: file not found"]


def test_it_imports_the_shipped_sample_files_and_again_changes_nothing():
    files = {kind: DEMO / f"{kind}.csv" for kind in ("owners", "ras", "lpcs", "pharmacies")}

    first = directory_import(files=files)
    second = directory_import(files=files)

    assert first.counts["pharmacies"].created == 12
    assert not second.changed
    assert second.counts["pharmacies"].unchanged == 12
