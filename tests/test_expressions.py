"""smartcard_route.expressions.CompiledOnce: a query written once and run as its SQL gives what the
ORM gives, and refuses a query that depends on anything but the id."""

from __future__ import annotations

import itertools
import json

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Value

from directory import roles
from directory.models import Pharmacy, User
from smartcard_route.expressions import CompiledOnce

pytestmark = pytest.mark.django_db

SENTINEL = CompiledOnce._FIRST


def test_the_memberships_are_those_the_orm_gives(staff, owner, lpc_officer, cpe_it, outsider, pharmacy):
    pharmacy.owner.members.add(lpc_officer)
    people = [staff, owner, lpc_officer, cpe_it, outsider]
    for user in people:
        by_orm = roles._exists_query(
            user,
            pharmacy_staff=roles.staff_of(user),
            pharmacy_owner=roles.owner_of(user),
            lpc_officer=roles.officer_of(user),
        ).first()
        assert by_orm is not None
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
    with pytest.raises(ValueError, match="does not depend on the ids alone"):
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


def test_it_puts_each_of_several_ids_in_its_places(staff, owner, pharmacy, outsider):
    compiled = CompiledOnce(
        lambda user_id, pharmacy_id: (
            User.objects.filter(pk=user_id)
            .annotate(works=Exists(Pharmacy.objects.filter(staff=OuterRef("pk"), pk=pharmacy_id)))
            .values("email", "works")
        ),
        ids=2,
    )
    elsewhere = Pharmacy.objects.exclude(pk=pharmacy.pk).get()
    assert compiled.row(staff.pk, pharmacy.pk) == (staff.email, True)
    assert compiled.row(staff.pk, elsewhere.pk) == (staff.email, False)
    assert compiled.row(outsider.pk, elsewhere.pk) == (outsider.email, True)
    assert compiled.row(owner.pk, pharmacy.pk) == (owner.email, False)
    with pytest.raises(TypeError):
        compiled.row(staff.pk)
    # An id the query never uses is refused too.
    with pytest.raises(ValueError, match="does not depend on the ids alone"):
        CompiledOnce(lambda user_id, unused: User.objects.filter(pk=user_id), ids=2).row(staff.pk, 1)


def test_the_roles_towards_a_pharmacy_are_those_the_orm_gives(staff, owner, lpc_officer, outsider, pharmacy):
    without_lpc = Pharmacy.objects.exclude(pk=pharmacy.pk).get()
    Pharmacy.objects.filter(pk=without_lpc.pk).update(lpc=None)
    without_lpc.refresh_from_db()
    without_lpc.staff.add(lpc_officer)
    answers = set()
    for user in (staff, owner, lpc_officer, outsider):
        for place in (pharmacy, without_lpc):
            officer = roles.officer_of(user).filter(lpc_id=place.lpc_id) if place.lpc_id is not None else None
            by_orm = roles._exists_query(
                user,
                staff=roles.staff_of(user).filter(pharmacy_id=place.pk),
                owner=roles.owner_of(user).filter(pharmacyowner_id=place.owner_id),
                lpc_officer=officer,
            ).first()
            compiled = roles.pharmacy_roles(user, place)
            assert by_orm is not None
            assert compiled == roles.PharmacyRoles(**{name[4:]: bool(value) for name, value in by_orm.items()})
            answers.add(compiled)
    assert len(answers) >= 4  # staff, owner, officer, officer and staff elsewhere, none


def test_in_list_keeps_the_rows_of_in_and_their_negation(pharmacy, staff, outsider):
    from issues.models import Issue
    from smartcard_route.expressions import InList
    from tests.issues.factories import IssueFactory

    mine = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    other = IssueFactory.create()
    assert list(Issue.objects.filter(InList("pharmacy_id", [pharmacy.pk]))) == [mine]
    assert list(Issue.objects.exclude(InList("pharmacy_id", [pharmacy.pk]))) == [other]
    assert list(Issue.objects.filter(InList("pharmacy_id", []))) == []
    assert set(Issue.objects.exclude(InList("pharmacy_id", []))) == {mine, other}
    both = Issue.objects.filter(InList("pharmacy_id", [pharmacy.pk]) | InList("pharmacy_id", [other.pharmacy_id]))
    assert set(both) == {mine, other}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the array and its cast are PostgreSQL's")
def test_in_list_names_the_ids_as_an_array_of_the_columns_own_type(pharmacy):
    """A bigint column against an integer[] compares across types, which PostgreSQL does not hash
    (a filter of 836 ids took 47 ms instead of 2.5): the array is cast to the column's type."""
    from issues.models import Issue
    from smartcard_route.expressions import InList

    sql, params = Issue.objects.filter(InList("pk", [3, 1, 2])).values("pk").query.sql_with_params()
    assert '"issues_issue"."id" = ANY(%s::bigint[])' in sql
    assert [3, 1, 2] not in params and [1, 2, 3] in params
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (VERBOSE, FORMAT JSON) {sql}", params)
        plan = json.dumps(cursor.fetchone()[0])
    assert "'{1,2,3}'::bigint[]" in plan


def test_the_pharmacy_scope_is_what_the_memberships_reach(staff, owner, lpc_officer, outsider, cpe_it, pharmacy):
    from directory.roles import PharmacyScope, forget_roles, pharmacy_scope
    from tests.issues.factories import PharmacyFactory

    elsewhere = Pharmacy.objects.exclude(pk=pharmacy.pk).get()
    same_lpc = PharmacyFactory.create(lpc=pharmacy.lpc)
    assert pharmacy_scope(staff) == PharmacyScope(
        acts_for=(pharmacy.pk,), ra_ids=(pharmacy.ra_id,), lpc_ids=(pharmacy.lpc_id,)
    )
    assert pharmacy_scope(owner).acts_for == (pharmacy.pk,)  # the owner's one pharmacy
    officer = pharmacy_scope(lpc_officer)
    assert officer.acts_for == () and officer.lpc_area == tuple(sorted([pharmacy.pk, same_lpc.pk]))
    assert set(officer.ra_ids) == {pharmacy.ra_id, same_lpc.ra_id} and officer.lpc_ids == (pharmacy.lpc_id,)
    assert pharmacy_scope(outsider).acts_for == (elsewhere.pk,)
    assert pharmacy_scope(cpe_it) == PharmacyScope()  # everything, by its flag
    # Kept on the user object until its memberships change and forget_roles is called.
    elsewhere.staff.add(staff)
    assert pharmacy_scope(staff).acts_for == (pharmacy.pk,)
    forget_roles(staff)
    assert pharmacy_scope(staff).acts_for == tuple(sorted([pharmacy.pk, elsewhere.pk]))
    assert pharmacy_scope(staff).pharmacy_ids == tuple(sorted([pharmacy.pk, elsewhere.pk]))
