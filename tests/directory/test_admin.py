"""The Django admin of the directory, as a superuser uses it. (It used to be the directory manager's
tool; now the admin is for superusers only and the directory manager works on their own pages:
tests/directory/test_manage_pages.py, which also checks that staff alone is refused here.)"""

from __future__ import annotations

import pytest
from django.urls import reverse

from directory.models import CorrectionReport, Pharmacy, PharmacyOwner, RegistrationAuthority, User
from tests.issues.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    manager = UserFactory(email="admin@cpe.example", is_directory_manager=True, is_staff=True, is_superuser=True)
    client.force_login(manager)
    client.manager = manager
    return client


@pytest.mark.parametrize(
    "model", ["user", "registrationauthority", "lpc", "pharmacyowner", "pharmacy", "correctionreport"]
)
def test_it_lists_and_searches_every_directory_model(admin_client_, pharmacy, model):
    response = admin_client_.get(reverse(f"admin:directory_{model}_changelist"), {"q": "a"})

    assert response.status_code == 200


@pytest.mark.parametrize("model", ["user", "registrationauthority", "lpc", "pharmacyowner", "pharmacy"])
def test_it_opens_the_add_page_of_every_directory_model(admin_client_, model):
    assert admin_client_.get(reverse(f"admin:directory_{model}_add")).status_code == 200


def test_it_offers_owners_by_autocomplete(admin_client_, pharmacy):
    response = admin_client_.get(
        reverse("admin:autocomplete"),
        {"app_label": "directory", "model_name": "pharmacy", "field_name": "owner", "term": pharmacy.owner.name[:5]},
    )

    assert [result["text"] for result in response.json()["results"]] == [pharmacy.owner.name]


def test_it_tidies_ods_code_postcode_and_phone_when_a_pharmacy_is_added(admin_client_):
    owner = PharmacyOwner.objects.create(name="Oak Pharmacy Ltd")

    response = admin_client_.post(
        reverse("admin:directory_pharmacy_add"),
        {
            "ods_code": " fq123 ",
            "name": "Oak Pharmacy",
            "postcode": "ls14ap",
            "phone": " 0113  496 0000 ",
            "owner": owner.pk,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    pharmacy = Pharmacy.objects.get()
    assert (pharmacy.ods_code, pharmacy.postcode, pharmacy.phone) == ("FQ123", "LS1 4AP", "0113 496 0000")


def test_it_refuses_a_bad_ods_code(admin_client_):
    owner = PharmacyOwner.objects.create(name="Oak Pharmacy Ltd")

    response = admin_client_.post(
        reverse("admin:directory_pharmacy_add"), {"ods_code": "Q12", "name": "Oak", "owner": owner.pk}
    )

    assert response.status_code == 200
    assert "Enter a pharmacy ODS code of 5 characters" in response.content.decode()
    assert Pharmacy.objects.count() == 0


def test_it_adds_a_user_by_email(admin_client_):
    response = admin_client_.post(
        reverse("admin:directory_user_add"),
        {
            "email": "new.person@pharmacy.example",
            "full_name": "New Person",
            "usable_password": "true",
            "password1": "a-long-enough-password",
            "password2": "a-long-enough-password",
        },
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    assert User.objects.get(email="new.person@pharmacy.example").check_password("a-long-enough-password")


def test_it_marks_reports_done_through_the_service(admin_client_, staff):
    ra = RegistrationAuthority.objects.create(name="Oak RA")
    report = CorrectionReport.objects.create(ra=ra, reporter=staff, details="Wrong phone")

    admin_client_.post(
        reverse("admin:directory_correctionreport_changelist"),
        {"action": "mark_done", "_selected_action": [report.pk]},
    )

    report.refresh_from_db()
    assert report.status == CorrectionReport.Status.DONE
    assert report.resolved_by == admin_client_.manager


def test_it_does_not_add_correction_reports_in_the_admin(admin_client_):
    assert admin_client_.get(reverse("admin:directory_correctionreport_add")).status_code == 403
