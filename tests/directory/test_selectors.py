"""directory.selectors.pharmacies_for_user: whom each role acts for."""

from __future__ import annotations

import pytest

from directory.selectors import pharmacies_for_user
from tests.issues.factories import PharmacyFactory, UserFactory

pytestmark = pytest.mark.django_db


def ods_codes(user) -> list[str]:
    return sorted(pharmacies_for_user(user=user).values_list("ods_code", flat=True))


def test_it_gives_staff_the_pharmacies_they_work_in(staff, outsider):
    assert ods_codes(staff) == ["FA123"]
    assert ods_codes(outsider) == ["FZ999"]


def test_it_gives_an_owner_every_pharmacy_of_their_organisation(owner, pharmacy, outsider):
    PharmacyFactory(ods_code="FA124", owner=pharmacy.owner)

    assert ods_codes(owner) == ["FA123", "FA124"]


def test_it_lists_a_pharmacy_once_for_someone_who_is_staff_and_owner(staff, pharmacy):
    pharmacy.owner.members.add(staff)

    assert ods_codes(staff) == ["FA123"]


def test_it_gives_cpe_it_every_pharmacy(cpe_it, pharmacy, outsider):
    assert ods_codes(cpe_it) == ["FA123", "FZ999"]


def test_it_gives_an_lpc_officer_or_the_directory_manager_no_pharmacy_to_act_for(lpc_officer, directory_manager):
    assert ods_codes(lpc_officer) == []
    assert ods_codes(directory_manager) == []


def test_it_gives_a_deactivated_user_nothing(pharmacy):
    former = UserFactory(is_active=False)
    pharmacy.staff.add(former)

    assert ods_codes(former) == []
