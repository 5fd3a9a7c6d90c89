"""smartcard_route.expressions.CompiledOnce: a query written once and run as its SQL gives what the
ORM gives, and refuses a query that depends on anything but the id."""

from __future__ import annotations

import itertools

import pytest
from django.db.models import Exists, OuterRef, Value

from directory import roles
from directory.models import Pharmacy, User
from smartcard_route.expressions import CompiledOnce

pytestmark = pytest.mark.django_db

SENTINEL = CompiledOnce.SENTINELS[0]


def test_the_memberships_are_those_the_orm_gives(staff, owner, lpc_officer, cpe_it, outsider, pharmacy):
    pharmacy.owner.members.add(lpc_officer)
    people = [staff, owner, lpc_officer, cpe_it, outsider]
    for user in people:
        by_orm = roles._exists(
            user,
            pharmacy_staff=roles.staff_of(user),
            pharmacy_owner=roles.owner_of(user),
            lpc_officer=roles.officer_of(user),
        )
        assert roles._memberships.row(user.pk) == tuple(by_orm.values())
    # The answers differ from person to person: the id reaches every place it is used.
    assert len({roles._memberships.row(user.pk) for user in people}) >= 3
    assert roles._memberships.row(-1) is None


def test_it_runs_one_query_and_compiles_once(staff, django_assert_num_queries):
    compiled = CompiledOnce(lambda user_id: User.objects.filter(pk=user_id).values("email"))
    calls = itertools.count()
    build = compiled._build
    compiled._build = lambda user_id: (next(calls), build(user_id))[1]  # type: ignore[method-assign]
    for _ in range(3):
        with django_assert_num_queries(1):
            assert compiled.row(staff.pk) == (staff.email,)
    assert next(calls) == 2  # the two sentinel builds, once


@pytest.mark.parametrize(
    "build",
    [
        # A parameter that is not the id: the query would not be the same for another id.
        lambda user_id: User.objects.filter(pk=user_id, email=f"{user_id % 7}@example.org"),
        # SQL that changes with the id.
        lambda user_id: User.objects.filter(pk=user_id, **({"is_active": True} if user_id == SENTINEL else {})),
        # No id at all.
        lambda user_id: User.objects.filter(is_active=True),
    ],
)
def test_it_refuses_a_query_that_depends_on_more_than_the_id(staff, build):
    with pytest.raises(ValueError, match="does not depend on the id alone"):
        CompiledOnce(build).row(staff.pk)


def test_it_keeps_the_constant_parameters_of_the_query(staff, pharmacy):
    # Exists() writes `SELECT 1 AS "a"` with 1 as a parameter: kept as it is, the id put in its places.
    compiled = CompiledOnce(
        lambda user_id: (
            User.objects.filter(pk=user_id)
            .annotate(works=Exists(Pharmacy.objects.filter(staff=OuterRef("pk"))), label=Value("x"))
            .values("works", "label")
        )
    )
    assert compiled.row(staff.pk) == (True, "x")
