"""manage.py seed_demo: the demo directory and one account per role, idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from directory.demo import DEFAULT_PASSWORD, seed_directory
from directory.models import LPC, Pharmacy, PharmacyOwner, RegistrationAuthority, User
from directory.selectors import pharmacies_for_user

pytestmark = pytest.mark.django_db

DEMO_VARIABLES = (
    "DEMO_PASSWORD",
    "DEMO_STAFF_EMAIL",
    "DEMO_OWNER_EMAIL",
    "DEMO_LPC_OFFICER_EMAIL",
    "DEMO_CPE_IT_EMAIL",
    "DEMO_DIRECTORY_MANAGER_EMAIL",
)


@pytest.fixture(autouse=True)
def default_demo_environment(monkeypatch):
    for name in DEMO_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def seed_demo(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, object]:
    return {
        "ras": sorted(RegistrationAuthority.objects.values_list("pk", "name", "updated_at")),
        "lpcs": sorted(LPC.objects.values_list("pk", "name", "updated_at")),
        "owners": sorted(PharmacyOwner.objects.values_list("pk", "name")),
        "pharmacies": sorted(Pharmacy.objects.values_list("pk", "ods_code", "updated_at")),
        "users": sorted(User.objects.values_list("pk", "email", "password", "is_cpe_it", "is_directory_manager")),
        "staff": sorted(Pharmacy.staff.through.objects.values_list("pharmacy_id", "user_id")),
        "members": sorted(PharmacyOwner.members.through.objects.values_list("pharmacyowner_id", "user_id")),
        "officers": sorted(LPC.officers.through.objects.values_list("lpc_id", "user_id")),
    }


def test_it_seeds_a_realistic_directory_and_a_user_for_each_role():
    output = seed_demo()

    assert RegistrationAuthority.objects.count() >= 4
    assert LPC.objects.count() >= 3
    assert Pharmacy.objects.count() >= 12
    assert PharmacyOwner.objects.filter(pharmacies__isnull=False).distinct().count() >= 3
    staff = User.objects.get(email="pharmacy.staff@example.com")
    owner = User.objects.get(email="pharmacy.owner@example.com")
    officer = User.objects.get(email="lpc.officer@example.com")
    cpe_it = User.objects.get(email="cpe.it@example.com")
    manager = User.objects.get(email="directory.manager@example.com")
    assert staff.pharmacies.count() == 2
    assert owner.owned_organisations.get().pharmacies.count() == 4
    assert officer.lpcs.get().pharmacies.count() >= 3
    assert cpe_it.is_cpe_it and not cpe_it.is_staff
    assert manager.is_directory_manager and not manager.is_staff and not manager.is_superuser
    assert staff.check_password(DEFAULT_PASSWORD)
    assert set(pharmacies_for_user(user=staff)) < set(pharmacies_for_user(user=owner))
    assert "Demo data ready: 5 RAs, 4 LPCs, 12 pharmacies" in output
    assert "http://" in output and "/login/" in output
    for email in ("pharmacy.staff@", "pharmacy.owner@", "lpc.officer@", "cpe.it@", "directory.manager@"):
        assert email in output
    assert DEFAULT_PASSWORD in output


def test_it_changes_nothing_when_run_twice():
    seed_demo()
    before = snapshot()

    seed_demo()

    assert snapshot() == before


def test_it_takes_emails_and_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("DEMO_STAFF_EMAIL", "Priya.Shah@Pharmacy.example")
    monkeypatch.setenv("DEMO_PASSWORD", "another-demo-password")

    output = seed_demo("--quiet")

    staff = User.objects.get(email="priya.shah@pharmacy.example")
    assert staff.check_password("another-demo-password")
    assert "priya.shah@pharmacy.example" in output
    assert "another-demo-password" in output
    assert "Demo data ready" not in output  # --quiet prints the accounts only


def test_it_resets_existing_accounts_to_a_new_demo_password(monkeypatch):
    seed_demo()
    monkeypatch.setenv("DEMO_PASSWORD", "changed-demo-password")

    seed_demo()

    assert User.objects.get(email="cpe.it@example.com").check_password("changed-demo-password")


def test_it_prints_the_accounts_without_touching_the_database():
    output = seed_demo("--print-accounts-only")

    assert "pharmacy.staff@example.com" in output
    assert User.objects.count() == 0
    assert Pharmacy.objects.count() == 0


def test_it_returns_the_accounts_for_the_demo_issues():
    accounts = seed_directory()

    assert accounts.staff.email == "pharmacy.staff@example.com"
    assert accounts.directory_manager.is_directory_manager
    assert accounts.password == DEFAULT_PASSWORD
