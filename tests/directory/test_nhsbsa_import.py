"""manage.py import_directory --nhsbsa: NHSBSA's Contractor Details file in each documented column
layout (fixtures written for these tests, fictional data in the published shapes), idempotency,
closed pharmacies, RAs from the ICB -> RA table, and every kind of bad file."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from directory.importer import DirectoryImportRejected
from directory.models import LPC, IcbRegistrationAuthority, Pharmacy, PharmacyOwner
from directory.nhsbsa import COLUMNS_2023, COLUMNS_2025, nhsbsa_import
from tests.issues.factories import LPCFactory, PharmacyFactory, RegistrationAuthorityFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nhsbsa"
FILE_2025 = FIXTURES / "contractor_details_2025.csv"
FILE_2024 = FIXTURES / "contractor_details_2024.csv"
HEADER_2025 = ",".join(COLUMNS_2025)


def run(path: Path, *extra: str) -> str:
    out = StringIO()
    call_command("import_directory", f"--nhsbsa={path}", *extra, stdout=out, stderr=StringIO())
    return out.getvalue()


def rejected(path: Path) -> list[str]:
    """The problems reported for the file, checking that nothing was written."""
    before = (Pharmacy.objects.count(), PharmacyOwner.objects.count(), LPC.objects.count())
    with pytest.raises(DirectoryImportRejected) as caught:
        nhsbsa_import(path=path)
    assert (Pharmacy.objects.count(), PharmacyOwner.objects.count(), LPC.objects.count()) == before
    return [str(error) for error in caught.value.errors]


def row_2025(**values: str) -> str:
    defaults = dict.fromkeys(COLUMNS_2025, "")
    defaults.update(
        YEAR_MONTH="202503",
        ICB_CODE="QX1",
        ICB_NAME="NHS NORTH DALES INTEGRATED CARE BOARD",
        LPC_CODE="7X",
        LPC_NAME="COMMUNITY PHARMACY NORTH DALES",
        START_DATE="20200101",
        CONTRACTOR_CODE="FQ201",
        CONTRACTOR_NAME="ACORN LTD",
        TRADING_NAME="ACORN PHARMACY",
        ADDRESS_FIELD1="1 MAIN STREET",
        POST_CODE="LS1 4AP",
        PHONE_NUMBER="0113 496 0201",
    )
    defaults.update(values)
    return ",".join(defaults[name] for name in COLUMNS_2025)


def write(tmp_path: Path, *rows: str, header: str = HEADER_2025) -> Path:
    path = tmp_path / "contractor_details.csv"
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def north_dales_ra(db):
    ra = RegistrationAuthorityFactory.create(name="North Dales ICB RA")
    IcbRegistrationAuthority.objects.create(icb_code="QX1", icb_name="NHS North Dales ICB", ra=ra)
    return ra


def test_it_imports_the_2025_layout(north_dales_ra):
    output = run(FILE_2025)

    assert "the 2025 column layout, month 202503" in output
    assert "pharmacies: 4 in the file: 4 created, 0 updated, 0 unchanged, 0 deactivated" in output
    assert "owners: 3 in the file: 3 created" in output
    assert "lpcs: 2 in the file: 2 created" in output
    ilkley = Pharmacy.objects.select_related("owner", "lpc", "ra").get(ods_code="FQ102")
    assert ilkley.name == "DALEBROOK PHARMACY ILKLEY"
    assert ilkley.address == "UNIT 2, THE PARADE\nBROOK STREET\nILKLEY"
    assert (ilkley.postcode, ilkley.phone) == ("LS29 8AB", "01134960102")
    assert ilkley.owner.name == "DALEBROOK PHARMACY LTD"
    assert ilkley.lpc is not None and (ilkley.lpc.code, ilkley.lpc.name) == ("7X", "COMMUNITY PHARMACY NORTH DALES")
    assert (ilkley.icb_code, ilkley.icb_name) == ("QX1", "NHS NORTH DALES INTEGRATED CARE BOARD")
    assert ilkley.ra == north_dales_ra  # from the ICB -> RA table
    assert Pharmacy.objects.get(ods_code="FQ101").owner == ilkley.owner  # one owner, two pharmacies
    # QX2 is not in the table: its two pharmacies have no RA, and the summary says so.
    assert set(Pharmacy.objects.filter(ra=None).values_list("ods_code", flat=True)) == {"A1B2C", "FQ104"}
    assert "ICB QX2 NHS SOUTH MOORS INTEGRATED CARE BOARD: not in the ICB -> RA table (2 pharmacies)" in output
    assert "active pharmacies without an RA: 2" in output


def test_it_imports_the_2023_24_layout_with_columns_in_another_order(north_dales_ra):
    output = run(FILE_2024)

    assert "the 2023-24 column layout" in output
    assert "missing column(s): YEAR_MONTH, REGION_CODE, REGION_NAME, HWB_CODE, HWB_NAME, LPC_CODE, LPC_NAME" in output
    assert "so pharmacies' LPCs are left as they are" in output
    assert "pharmacies: 3 in the file: 3 created" in output
    assert "lpcs:" not in output
    moorside = Pharmacy.objects.get(ods_code="A1B2C")
    assert (moorside.name, moorside.owner.name) == ("MOORSIDE CHEMIST", "MOORSIDE HEALTH LLP")
    assert moorside.postcode == "HX1 1AB"
    assert moorside.lpc is None and moorside.icb_code == "QX2"
    assert Pharmacy.objects.get(ods_code="FQ101").ra == north_dales_ra


@pytest.mark.parametrize("path", [FILE_2025, FILE_2024], ids=["2025", "2023-24"])
def test_it_changes_nothing_the_second_time(north_dales_ra, path):
    run(path)
    rows_before = list(Pharmacy.objects.order_by("pk").values())
    history_before = Pharmacy.history.count()

    output = run(path)

    assert "0 created, 0 updated" in output and "0 deactivated" in output
    assert "the directory already matched this file" in output
    assert list(Pharmacy.objects.order_by("pk").values()) == rows_before
    assert Pharmacy.history.count() == history_before


def test_it_updates_by_ods_code_and_lpc_code_and_keeps_what_the_file_does_not_give(north_dales_ra):
    lpc = LPCFactory.create(name="North Dales LPC (typed in)", code="7X", email="lpc@dales.example")
    pharmacy = PharmacyFactory.create(ods_code="FQ101", name="Old name", email="fq101@nhs.example", lpc=None, ra=None)

    output = run(FILE_2025)

    assert "pharmacies: 4 in the file: 3 created, 1 updated" in output
    pharmacy.refresh_from_db()
    lpc.refresh_from_db()
    assert (pharmacy.name, pharmacy.email) == ("DALEBROOK PHARMACY", "fq101@nhs.example")  # no email in the file
    assert pharmacy.lpc == lpc and lpc.name == "COMMUNITY PHARMACY NORTH DALES" and lpc.email == "lpc@dales.example"
    assert pharmacy.ra == north_dales_ra


def test_it_gives_a_code_to_an_lpc_typed_in_under_the_same_name():
    typed_in = LPCFactory.create(name="South Moors LPC", code="")

    run(FILE_2025)

    typed_in.refresh_from_db()
    assert typed_in.code == "8Y"
    assert LPC.objects.filter(name__iexact="south moors lpc").count() == 1


def test_it_deactivates_pharmacies_no_longer_in_the_file_and_reactivates_those_back(north_dales_ra, tmp_path):
    run(FILE_2025)
    locum = PharmacyFactory.create(ods_code="FFFFF", name="Locum")

    output = run(FILE_2024)  # FQ104 is not in it

    assert "3 unchanged, 1 deactivated" in output
    assert set(Pharmacy.objects.filter(active=False).values_list("ods_code", flat=True)) == {"FQ104"}
    locum.refresh_from_db()
    assert locum.active  # the locum code is never closed
    assert Pharmacy.objects.count() == 5  # nothing deleted

    output = run(FILE_2025)

    assert "1 updated" in output and Pharmacy.objects.filter(active=False).count() == 0


def test_it_keeps_missing_pharmacies_active_when_asked(tmp_path):
    run(FILE_2025)

    output = run(FILE_2024, "--keep-missing")

    assert "0 deactivated" in output and Pharmacy.objects.get(ods_code="FQ104").active


def test_it_keeps_an_ra_set_by_hand(north_dales_ra):
    by_hand = RegistrationAuthorityFactory.create(name="Dales Trust RA")
    PharmacyFactory.create(ods_code="FQ101", ra=by_hand, ra_is_exception=True)

    run(FILE_2025)

    assert Pharmacy.objects.get(ods_code="FQ101").ra == by_hand
    assert Pharmacy.objects.get(ods_code="FQ102").ra == north_dales_ra


def test_it_writes_history_rows_naming_the_import():
    run(FILE_2025)

    record = Pharmacy.history.filter(ods_code="FQ101").get()
    assert record.history_type == "+" and record.history_change_reason == "NHSBSA import of contractor_details_2025.csv"


def test_it_reports_unknown_columns_and_imports_the_rest(tmp_path):
    path = write(tmp_path, row_2025() + ",extra", header=HEADER_2025 + ",DISPENSING_FLAG")

    output = run(path)

    assert "unknown column(s), ignored: DISPENSING_FLAG" in output
    assert Pharmacy.objects.filter(ods_code="FQ201").exists()


def test_it_refuses_a_file_with_its_columns_shifted(tmp_path):
    # The re-upload whose columns moved one place: codes where names should be.
    good = row_2025().split(",")
    shifted = ",".join(["", *good[:-1]])

    problems = rejected(write(tmp_path, row_2025(CONTRACTOR_CODE="FQ202"), shifted))

    assert any(p.startswith("contractor_details.csv line 3: CONTRACTOR_CODE: Enter a pharmacy ODS") for p in problems)
    assert any("line 3: START_DATE" in p for p in problems)


def test_it_lists_every_bad_row_with_its_line_and_imports_nothing(tmp_path):
    path = write(
        tmp_path,
        row_2025(),
        row_2025(CONTRACTOR_CODE="Q12"),
        row_2025(CONTRACTOR_CODE="FQ203", POST_CODE="nowhere"),
        row_2025(CONTRACTOR_CODE="FQ201"),
        row_2025(CONTRACTOR_CODE="FQ204", TRADING_NAME=""),
        row_2025(CONTRACTOR_CODE="FQ205", LPC_NAME=""),
        row_2025(CONTRACTOR_CODE="FQ206", START_DATE="31/02/2024"),
    )

    problems = rejected(path)

    assert problems == [
        "contractor_details.csv line 3: CONTRACTOR_CODE: Enter a pharmacy ODS code of 5 characters, like FW844 "
        "or A1B2C (FFFFF for locums). (got 'Q12')",
        "contractor_details.csv line 4: POST_CODE: Enter a full UK postcode, like LS1 4AP. (got 'nowhere')",
        "contractor_details.csv line 5: CONTRACTOR_CODE 'FQ201' is also on line 2",
        "contractor_details.csv line 6: TRADING_NAME: enter a value",
        "contractor_details.csv line 7: LPC_NAME: enter a value (the row has an LPC_CODE)",
        "contractor_details.csv line 8: START_DATE: Enter a date as YYYYMMDD (or dd/mm/yyyy in 2023-24 files). "
        "(got '31/02/2024')",
    ]


def test_it_refuses_a_file_that_is_not_contractor_details(tmp_path):
    path = write(tmp_path, "FQ201,Acorn", header="ods_code,name")

    assert rejected(path) == [
        "contractor_details.csv line 1: missing required column(s): CONTRACTOR_CODE, CONTRACTOR_NAME, "
        "TRADING_NAME, POST_CODE; is this NHSBSA's Contractor Details?"
    ]


def test_it_refuses_an_lpc_name_that_belongs_to_another_code(tmp_path):
    LPCFactory.create(name="COMMUNITY PHARMACY NORTH DALES", code="9Z")

    problems = rejected(write(tmp_path, row_2025()))

    assert problems == [
        "contractor_details.csv line 2: LPC_NAME 'COMMUNITY PHARMACY NORTH DALES': the directory's LPC of that "
        "name has code 9Z, not 7X"
    ]


def test_it_warns_of_a_phone_number_it_cannot_read_and_leaves_it(tmp_path):
    PharmacyFactory.create(ods_code="FQ201", phone="0113 496 0999")

    output = run(write(tmp_path, row_2025(PHONE_NUMBER="ask at the counter")))

    assert "warning: contractor_details.csv line 2: PHONE_NUMBER:" in output
    assert Pharmacy.objects.get(ods_code="FQ201").phone == "0113 496 0999"


def test_the_command_shows_progress_and_problems(tmp_path):
    rows = [row_2025(CONTRACTOR_CODE=f"FQ{n:03d}") for n in range(300, 305)]
    output = run(write(tmp_path, *rows), "--progress-every=2")

    assert "checked 2 of 5 rows" in output and "checked 4 of 5 rows" in output

    err = StringIO()
    with pytest.raises(CommandError, match="Nothing was imported: 1 problem"):
        call_command("import_directory", f"--nhsbsa={write(tmp_path, row_2025(POST_CODE='x'))}", stderr=err)
    assert "line 2: POST_CODE" in err.getvalue()


def test_a_dry_run_writes_nothing():
    output = run(FILE_2025, "--dry-run")

    assert "4 created" in output and "Dry run: nothing was written." in output
    assert Pharmacy.objects.count() == 0


def test_it_takes_the_nhsbsa_file_alone(tmp_path):
    with pytest.raises(CommandError, match="Give --nhsbsa alone"):
        call_command("import_directory", f"--nhsbsa={FILE_2025}", f"--owners={FILE_2025}")


def test_the_layouts_are_the_documented_ones():
    assert len(COLUMNS_2025) == 21
    assert set(COLUMNS_2025) - set(COLUMNS_2023) == {
        "YEAR_MONTH",
        "REGION_CODE",
        "REGION_NAME",
        "HWB_CODE",
        "HWB_NAME",
        "LPC_CODE",
        "LPC_NAME",
    }


def test_it_keeps_a_name_the_directory_has_in_its_own_case(tmp_path):
    pharmacy = PharmacyFactory.create(ods_code="FQ201", name="Acorn Pharmacy", address="1 Main Street")
    LPCFactory.create(name="Community Pharmacy North Dales", code="7X")

    output = run(write(tmp_path, row_2025()))

    pharmacy.refresh_from_db()
    assert (pharmacy.name, pharmacy.address) == ("Acorn Pharmacy", "1 Main Street")
    assert LPC.objects.get(code="7X").name == "Community Pharmacy North Dales"
    assert "lpcs: 1 in the file: 0 created, 0 updated, 1 unchanged" in output
