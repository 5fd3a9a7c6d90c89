"""directory.roles: the one answer to "which roles has this user", anywhere and towards one pharmacy."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from directory.models import Pharmacy
from directory.roles import PharmacyRoles, Roles, pharmacy_roles, pharmacy_side, user_roles
from tests.issues.factories import LPCFactory, PharmacyFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("staff", Roles(pharmacy_staff=True)),
        ("owner", Roles(pharmacy_owner=True)),
        ("lpc_officer", Roles(lpc_officer=True)),
        ("cpe_it", Roles(cpe_it=True)),
        ("directory_manager", Roles(directory_manager=True)),
        ("outsider", Roles(pharmacy_staff=True)),
    ],
)
def test_it_gives_each_persona_its_roles(request, persona, expected):
    assert user_roles(request.getfixturevalue(persona)) == expected


def test_it_gives_every_role_someone_holds_in_one_query(staff, pharmacy, django_assert_num_queries):
    pharmacy.owner.members.add(staff)
    LPCFactory.create().officers.add(staff)
    staff.is_cpe_it = staff.is_directory_manager = True

    with django_assert_num_queries(1):
        roles = user_roles(staff)

    assert roles == Roles(True, True, True, True, True)


def test_it_gives_no_role_to_an_anonymous_visitor_or_a_closed_account(staff, cpe_it, pharmacy):
    staff.is_active = cpe_it.is_active = False

    assert user_roles(AnonymousUser()) == user_roles(None) == user_roles(staff) == user_roles(cpe_it) == Roles()
    assert pharmacy_roles(AnonymousUser(), pharmacy) == pharmacy_roles(staff, pharmacy) == PharmacyRoles()


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("staff", PharmacyRoles(staff=True)),
        ("owner", PharmacyRoles(owner=True)),
        ("lpc_officer", PharmacyRoles(lpc_officer=True)),
        ("cpe_it", PharmacyRoles()),  # a flag, not a role towards a pharmacy: user.is_cpe_it
        ("directory_manager", PharmacyRoles()),
        ("outsider", PharmacyRoles()),  # staff of another pharmacy
    ],
)
def test_it_gives_each_persona_its_roles_towards_one_pharmacy(request, pharmacy, persona, expected):
    assert pharmacy_roles(request.getfixturevalue(persona), pharmacy) == expected


def test_it_counts_only_the_pharmacys_own_team_owner_and_lpc(staff, owner, lpc_officer, pharmacy):
    neighbour = PharmacyFactory.create()  # another owner and another LPC
    sister = PharmacyFactory.create(owner=pharmacy.owner, lpc=None)  # same owner, no LPC

    assert pharmacy_roles(staff, neighbour) == pharmacy_roles(owner, neighbour) == PharmacyRoles()
    assert pharmacy_roles(lpc_officer, neighbour) == PharmacyRoles()
    assert pharmacy_roles(owner, sister) == PharmacyRoles(owner=True)
    assert pharmacy_roles(staff, sister) == pharmacy_roles(lpc_officer, sister) == PharmacyRoles()


def test_it_gives_the_roles_towards_a_pharmacy_in_one_query(staff, pharmacy, django_assert_num_queries):
    pharmacy.owner.members.add(staff)
    pharmacy.lpc.officers.add(staff)

    with django_assert_num_queries(1):
        roles = pharmacy_roles(staff, pharmacy)

    assert roles == PharmacyRoles(staff=True, owner=True, lpc_officer=True)
    assert roles.pharmacy_side


def test_it_scopes_pharmacies_to_those_the_user_works_at_or_owns(staff, owner, lpc_officer, pharmacy, outsider):
    sister = PharmacyFactory.create(owner=pharmacy.owner)

    def acted_for(user):
        return sorted(Pharmacy.objects.filter(pharmacy_side(user)).values_list("pk", flat=True))

    assert acted_for(staff) == [pharmacy.pk]
    assert acted_for(owner) == sorted([pharmacy.pk, sister.pk])
    assert acted_for(lpc_officer) == []
