"""The directory manager's own pages: create, edit, deactivate, history, the ICB -> RA table, the
NHSBSA upload, and handling a correction report (issue 11, part 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from directory.importer import SPECS
from directory.models import CorrectionReport, IcbRegistrationAuthority, Pharmacy, PharmacyOwner, RegistrationAuthority
from directory.services import correction_report_create
from smartcard_route.mail.models import OutboundEmail
from tests.issues.factories import (
    LPCFactory,
    PharmacyFactory,
    PharmacyOwnerFactory,
    RegistrationAuthorityFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NHSBSA_2025 = Path(__file__).resolve().parent / "fixtures" / "nhsbsa" / "contractor_details_2025.csv"


@pytest.fixture
def manager_client(client, directory_manager):
    client.force_login(directory_manager)
    return client


def ra_data(**values: str | None) -> dict[str, str]:
    data: dict[str, str | None] = {
        "name": "North Dales ICB RA",
        "kind": "icb",
        "email": "RA.Team@NHS.example",
        "phone": " 0113  496 0500 ",
        "website": "https://ra.dales.example",
        "postal_address": "1 Main Street\r\n\r\nOtley",
        "areas_covered": "",
        "last_verified": "",
        "source": "",
        "active": "on",
    }
    data.update(values)
    return {name: value for name, value in data.items() if value is not None}


def import_message(kind: str, column: str, value: str) -> str:
    """What the CSV import says of this value (the forms must say the same)."""
    with pytest.raises(ValidationError) as caught:
        SPECS[kind].column(column).clean(value)
    return " ".join(caught.value.messages)


def test_it_adds_an_ra_tidied_as_the_import_tidies_it(manager_client, directory_manager):
    response = manager_client.post(reverse("directory:entry_create", args=["ras"]), ra_data())

    ra = RegistrationAuthority.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("directory:entry_edit", args=["ras", ra.pk])
    assert (ra.email, ra.phone, ra.postal_address) == ("ra.team@nhs.example", "0113 496 0500", "1 Main Street\nOtley")
    record = ra.history.get()
    assert record.history_type == "+" and record.history_user == directory_manager


@pytest.mark.parametrize(
    ("field", "value", "column"),
    [
        ("phone", "012345", "phone"),
        ("email", "not an address", "email"),
        ("website", "ra.dales.example", "website"),
        ("name", "x" * 201, "name"),
    ],
)
def test_it_refuses_what_the_import_refuses_with_the_same_message(manager_client, field, value, column):
    response = manager_client.post(reverse("directory:entry_create", args=["ras"]), ra_data(**{field: value}))

    content = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in content and f'href="#id_{field}"' in content
    assert import_message("ras", column, value) in content
    assert RegistrationAuthority.objects.count() == 0


def test_it_says_what_to_enter_when_a_required_value_is_missing(manager_client):
    response = manager_client.post(reverse("directory:entry_create", args=["ras"]), ra_data(name=""))

    assert response.status_code == 400 and "Enter the name" in response.content.decode()


def test_it_refuses_a_second_entry_of_the_same_name_whatever_the_case(manager_client):
    RegistrationAuthorityFactory.create(name="North Dales ICB RA")

    response = manager_client.post(reverse("directory:entry_create", args=["ras"]), ra_data(name="north dales icb ra"))

    assert response.status_code == 400
    assert "There is already a Registration Authority called north dales icb ra" in response.content.decode()


def test_it_edits_an_ra_and_its_history_shows_who_and_before_and_after(manager_client, directory_manager):
    ra = RegistrationAuthorityFactory.create(name="North Dales ICB RA", email="old@nhs.example")

    response = manager_client.post(
        reverse("directory:entry_edit", args=["ras", ra.pk]), ra_data(email="new@nhs.example")
    )

    assert response.status_code == 302
    ra.refresh_from_db()
    assert ra.email == "new@nhs.example"
    latest = ra.history.latest()
    assert latest.history_user == directory_manager and latest.history_type == "~"
    page = manager_client.get(reverse("directory:entry_history", args=["ras", ra.pk])).content.decode()
    assert "Changed" in page and directory_manager.full_name in page
    changed_row = page.index("old@nhs.example")
    assert changed_row < page.index("new@nhs.example", changed_row)  # before, then after, in one row
    assert "Created" in page


def test_it_deactivates_rather_than_deletes(manager_client):
    ra = RegistrationAuthorityFactory.create(name="North Dales ICB RA")

    manager_client.post(reverse("directory:entry_edit", args=["ras", ra.pk]), ra_data(active=None))

    ra.refresh_from_db()
    assert ra.active is False
    history = manager_client.get(reverse("directory:entry_history", args=["ras", ra.pk])).content.decode()
    assert "Active" in history and "Yes" in history and "No" in history


def test_it_adds_a_pharmacy_by_its_owners_name(manager_client):
    owner = PharmacyOwnerFactory.create(name="Oak Pharmacy Ltd")
    ra = RegistrationAuthorityFactory.create()
    data = {"ods_code": " fq123 ", "name": "Oak Pharmacy", "postcode": "ls14ap", "owner_name": "oak  pharmacy ltd"}

    response = manager_client.post(
        reverse("directory:entry_create", args=["pharmacies"]), {**data, "ra": ra.pk, "active": "on"}
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    pharmacy = Pharmacy.objects.get()
    assert (pharmacy.ods_code, pharmacy.postcode, pharmacy.owner, pharmacy.ra) == ("FQ123", "LS1 4AP", owner, ra)


def test_it_refuses_an_unknown_owner_a_bad_ods_code_and_a_taken_one(manager_client):
    PharmacyFactory.create(ods_code="FQ123")
    url = reverse("directory:entry_create", args=["pharmacies"])

    unknown = manager_client.post(
        url, {"ods_code": "FQ124", "name": "Oak", "postcode": "LS1 4AP", "owner_name": "Nobody"}
    )
    bad = manager_client.post(url, {"ods_code": "Q12", "name": "Oak", "postcode": "LS1 4AP", "owner_name": "x"})
    taken = manager_client.post(url, {"ods_code": "fq123", "name": "Oak", "postcode": "LS1 4AP", "owner_name": "x"})

    assert "There is no pharmacy owner called Nobody in the directory" in unknown.content.decode()
    assert import_message("pharmacies", "ods_code", "Q12") in bad.content.decode()
    assert "There is already a pharmacy with the ODS code FQ123" in taken.content.decode()
    assert {unknown.status_code, bad.status_code, taken.status_code} == {400}
    assert Pharmacy.objects.count() == 1


def test_saving_an_icbs_ra_sets_it_on_the_icbs_pharmacies_but_not_the_exceptions(manager_client, directory_manager):
    ra = RegistrationAuthorityFactory.create(name="Dales RA")
    follows = PharmacyFactory.create(icb_code="QX1", ra=None)
    exception = PharmacyFactory.create(icb_code="QX1")
    exception.ra_is_exception = True
    exception.save()
    elsewhere = PharmacyFactory.create(icb_code="QX2", ra=None)

    response = manager_client.post(
        reverse("directory:entry_create", args=["icbs"]), {"icb_code": "qx1", "icb_name": "NHS Dales ICB", "ra": ra.pk}
    )

    assert response.status_code == 302
    assert IcbRegistrationAuthority.objects.get().icb_code == "QX1"
    follows.refresh_from_db()
    exception.refresh_from_db()
    elsewhere.refresh_from_db()
    assert follows.ra == ra and exception.ra != ra and elsewhere.ra is None
    assert follows.history.latest().history_user == directory_manager


def test_it_refuses_an_lpc_code_another_lpc_has(manager_client):
    LPCFactory.create(name="Dales LPC", code="7X")

    response = manager_client.post(
        reverse("directory:entry_create", args=["lpcs"]), {"name": "Moors LPC", "code": "7x", "active": "on"}
    )

    assert response.status_code == 400 and "Another LPC has the code 7X" in response.content.decode()


def test_it_lists_and_searches_entries(manager_client, django_assert_max_num_queries):
    for n in range(60):
        PharmacyFactory.create(name=f"Dales Pharmacy {n}")
    PharmacyFactory.create(name="Moorside Chemist", ods_code="FM001")

    with django_assert_max_num_queries(8):
        listed = manager_client.get(reverse("directory:entry_list", args=["pharmacies"]))
    found = manager_client.get(reverse("directory:entry_list", args=["pharmacies"]), {"q": "moorside"})

    assert listed.status_code == 200 and "61 found" in listed.content.decode()
    assert "1 found" in found.content.decode() and "FM001" in found.content.decode()


def test_the_history_page_takes_a_fixed_number_of_queries(manager_client, django_assert_max_num_queries):
    pharmacy = PharmacyFactory.create()
    for n in range(20):
        pharmacy.name = f"Renamed {n}"
        pharmacy.owner = PharmacyOwnerFactory.create()
        pharmacy.save()

    with django_assert_max_num_queries(9):
        response = manager_client.get(reverse("directory:entry_history", args=["pharmacies", pharmacy.pk]))

    content = response.content.decode()
    assert response.status_code == 200 and content.count('class="nhsuk-card__heading') == 21
    assert pharmacy.owner.name in content  # a foreign key shown by name


def test_a_superuser_may_use_the_pages_and_nobody_else(client, cpe_it):
    client.force_login(cpe_it)
    assert client.get(reverse("directory:manage")).status_code == 404

    client.force_login(UserFactory.create(email="root@cpe.example", is_superuser=True, is_staff=True))
    assert client.get(reverse("directory:manage")).status_code == 200


def test_the_admin_is_for_superusers_only(client):
    staff_manager = UserFactory.create(email="dm@cpe.example", is_directory_manager=True, is_staff=True)
    client.force_login(staff_manager)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))

    client.force_login(UserFactory.create(email="root@cpe.example", is_superuser=True, is_staff=True))
    assert client.get(reverse("admin:index")).status_code == 200


def test_it_lists_pharmacies_without_an_ra_and_their_icbs(manager_client):
    PharmacyFactory.create(ods_code="FN001", ra=None, icb_code="QX7", icb_name="NHS Moors ICB")
    PharmacyFactory.create(ods_code="FN002", ra=None, active=False)
    PharmacyFactory.create(ods_code="FN003")

    content = manager_client.get(reverse("directory:pharmacies_without_ra")).content.decode()

    assert "FN001" in content and "FN002" not in content and "FN003" not in content
    assert "QX7 NHS Moors ICB: 1 open pharmacy" in content


# --- the NHSBSA upload --------------------------------------------------------------------------


def test_it_imports_an_uploaded_nhsbsa_file(manager_client, directory_manager):
    with NHSBSA_2025.open("rb") as handle:
        response = manager_client.post(reverse("directory:nhsbsa_upload"), {"file": handle})

    content = response.content.decode()
    assert response.status_code == 200
    assert "pharmacies: 4 in the file: 4 created" in content
    assert Pharmacy.objects.count() == 4
    assert Pharmacy.history.filter(history_user=directory_manager).count() == 4


def test_a_checked_only_upload_changes_nothing(manager_client):
    with NHSBSA_2025.open("rb") as handle:
        response = manager_client.post(reverse("directory:nhsbsa_upload"), {"file": handle, "dry_run": "on"})

    assert "What would change (nothing was written)" in response.content.decode()
    assert Pharmacy.objects.count() == 0


def test_a_bad_upload_lists_its_problems_and_imports_nothing(manager_client, tmp_path):
    bad = tmp_path / "march.csv"
    bad.write_text(NHSBSA_2025.read_text().replace("FQ102", "Q102"), encoding="utf-8")

    with bad.open("rb") as handle:
        response = manager_client.post(reverse("directory:nhsbsa_upload"), {"file": handle})

    content = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported: the file has 1 problem(s)" in content
    assert "march.csv line 3: CONTRACTOR_CODE" in content
    assert Pharmacy.objects.count() == 0


def test_an_upload_without_a_file_says_so(manager_client):
    response = manager_client.post(reverse("directory:nhsbsa_upload"), {})

    assert response.status_code == 400 and "Choose the CSV file to import" in response.content.decode()


# --- correction reports -------------------------------------------------------------------------


@pytest.fixture
def report(staff, pharmacy):
    return correction_report_create(reporter=staff, target=pharmacy.ra, details="The email is now new@nhs.example.")


def test_the_report_links_to_the_entrys_edit_page_and_back(manager_client, report):
    edit = reverse("directory:entry_edit", args=["ras", report.ra.pk]) + f"?report={report.pk}"

    page = manager_client.get(reverse("directory:correction_report_detail", args=[report.pk])).content.decode()
    saved = manager_client.post(edit, ra_data(name=report.ra.name, email="new@nhs.example"))

    assert edit.replace("&", "&amp;") in page
    assert saved.status_code == 302
    assert saved["Location"] == reverse("directory:correction_report_detail", args=[report.pk])


def test_marking_a_report_done_keeps_the_note_and_tells_the_reporter(manager_client, report, staff):
    response = manager_client.post(
        reverse("directory:correction_report_done", args=[report.pk]), {"handling_note": "Changed the email."}
    )

    assert response.status_code == 302
    report.refresh_from_db()
    assert report.status == CorrectionReport.Status.DONE and report.handling_note == "Changed the email."
    told = OutboundEmail.objects.get(purpose="correction_handled")
    assert told.to == [staff.email]
    assert "Changed the email." in told.body_text and report.ra.name in told.subject


def test_a_note_too_long_is_refused_and_nothing_is_done(manager_client, report):
    response = manager_client.post(
        reverse("directory:correction_report_done", args=[report.pk]), {"handling_note": "x" * 2001}
    )

    assert response.status_code == 400 and "2000 characters or fewer" in response.content.decode()
    report.refresh_from_db()
    assert report.status == CorrectionReport.Status.OPEN
    assert not OutboundEmail.objects.filter(purpose="correction_handled").exists()


def test_anyone_may_report_wrong_details_of_a_pharmacy(client, staff, pharmacy, settings):
    settings.DIRECTORY_MANAGER_EMAIL = "manager@directory.example"
    client.force_login(staff)
    page = client.get(reverse("directory:pharmacy_detail", args=[pharmacy.ods_code])).content.decode()
    assert reverse("directory:pharmacy_report", args=[pharmacy.ods_code]) in page

    response = client.post(
        reverse("directory:pharmacy_report", args=[pharmacy.ods_code]), {"details": "It closed last week."}
    )

    assert response.status_code == 302
    report = CorrectionReport.objects.get()
    assert report.pharmacy == pharmacy and report.email is not None
    assert reverse("directory:entry_edit", args=["pharmacies", pharmacy.pk]) in report.email.body_text


def test_the_demo_directory_manager_is_not_a_superuser_and_may_edit(client, db):
    from directory.demo import seed_directory

    manager = seed_directory().directory_manager
    assert not manager.is_superuser and not manager.is_staff
    client.force_login(manager)

    assert client.get(reverse("directory:entry_list", args=["ras"])).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302
    assert PharmacyOwner.objects.exists()
