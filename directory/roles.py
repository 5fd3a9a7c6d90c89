"""The one answer to "which roles has this user" (DESIGN.md, "People and what they may see").

A role is a membership (directory.models): staff of a pharmacy (`Pharmacy.staff`), member of the
organisation that owns it (`PharmacyOwner.members`, owner of each of its pharmacies), officer of an
LPC (`LPC.officers`); CPE IT and directory manager are flags on the user. An anonymous or inactive
user holds no role. The memberships are read here and nowhere else, in two shapes that share one
definition: as subqueries (`staff_of`, `owner_of`, `officer_of`), for querysets scoped to a user,
and as answers (`user_roles` for the header navigation, `pharmacy_roles` for permissions on one
pharmacy), each in one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import BooleanField, Case, Exists, Q, QuerySet, Value, When

from directory.models import LPC, Pharmacy, PharmacyOwner, User
from smartcard_route.expressions import CompiledOnce, InIds


def holds_roles(user: Any) -> bool:
    """Whether this user may hold roles at all: signed in, with an active account."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def staff_of(user: User) -> QuerySet[Any]:
    """Subquery: ids of the pharmacies the user is staff of."""
    return Pharmacy.staff.through.objects.filter(user_id=user.pk).values("pharmacy_id")


def owner_of(user: User) -> QuerySet[Any]:
    """Subquery: ids of the pharmacy owners (organisations) the user is a member of."""
    return PharmacyOwner.members.through.objects.filter(user_id=user.pk).values("pharmacyowner_id")


def officer_of(user: User) -> QuerySet[Any]:
    """Subquery: ids of the LPCs the user is an officer of."""
    return LPC.officers.through.objects.filter(user_id=user.pk).values("lpc_id")


def pharmacy_side(user: User) -> Q:
    """On Pharmacy: the pharmacies the user acts for as staff or as a member of their owner (each
    part served by an index, also inside the OR: smartcard_route.expressions.InIds)."""
    return Q(InIds("pk", staff_of(user))) | Q(InIds("owner_id", owner_of(user)))


@dataclass(frozen=True)
class Roles:
    """The roles a user holds anywhere (several at once is normal)."""

    pharmacy_staff: bool = False
    pharmacy_owner: bool = False
    lpc_officer: bool = False
    cpe_it: bool = False
    directory_manager: bool = False


def user_roles(user: Any) -> Roles:
    """The roles of a user, in one query for the memberships, asked once per user object: kept on
    it, as Django keeps a user's permissions (`_perm_cache`), so the scope (issues_visible_to) and
    the navigation of one request share the answer. A request loads its user afresh; code that
    changes a user's memberships and asks again on the same object calls `forget_roles` first."""
    if not holds_roles(user):
        return Roles()
    cached: Roles | None = getattr(user, "_roles_cache", None)
    if cached is None:
        row = _memberships.row(user.pk)
        staff, owner, officer = (bool(value) for value in row) if row else (False, False, False)
        cached = Roles(
            pharmacy_staff=staff,
            pharmacy_owner=owner,
            lpc_officer=officer,
            cpe_it=user.is_cpe_it,
            directory_manager=user.is_directory_manager,
        )
        user._roles_cache = cached
    return cached


def _memberships_query(user_id: int) -> QuerySet[Any]:
    user = User(pk=user_id)
    return _exists_query(
        user, pharmacy_staff=staff_of(user), pharmacy_owner=owner_of(user), lpc_officer=officer_of(user)
    )


# Every page asks it (the scope, the navigation): written once (CompiledOnce), run by its SQL.
_memberships = CompiledOnce(_memberships_query)


@dataclass(frozen=True)
class PharmacyScope:
    """The pharmacies a user's memberships reach, by id (none for CPE IT, whose scope is a flag).

    `acts_for`: those the user is staff of or whose owner they are a member of (every issue of
    them); `lpc_area`: those of the LPCs the user is an officer of (the issues the LPC is involved
    in); `ra_ids` and `lpc_ids`: the RAs and LPCs of either."""

    acts_for: tuple[int, ...] = ()
    lpc_area: tuple[int, ...] = ()
    ra_ids: tuple[int, ...] = ()
    lpc_ids: tuple[int, ...] = ()

    @property
    def pharmacy_ids(self) -> tuple[int, ...]:
        return tuple(sorted({*self.acts_for, *self.lpc_area}))


def pharmacy_scope(user: Any) -> PharmacyScope:
    """The pharmacies of the user's memberships (PharmacyScope), in one query, asked once per user
    object and kept on it as `user_roles` keeps the roles: every scoped query of a request (the
    list's page and count, its RA and LPC choices) then names the ids, instead of each writing,
    and PostgreSQL planning, the same subqueries over the memberships."""
    if not holds_roles(user):
        return PharmacyScope()
    cached: PharmacyScope | None = getattr(user, "_scope_cache", None)
    if cached is None:
        rows = _scope_rows.rows(user.pk)
        cached = PharmacyScope(
            acts_for=tuple(sorted(pk for pk, _, _, acts, _ in rows if acts)),
            lpc_area=tuple(sorted(pk for pk, _, _, _, officer in rows if officer)),
            ra_ids=tuple(sorted({ra_id for _, ra_id, _, _, _ in rows if ra_id is not None})),
            lpc_ids=tuple(sorted({lpc_id for _, _, lpc_id, _, _ in rows if lpc_id is not None})),
        )
        user._scope_cache = cached
    return cached


def _scope_query(user_id: int) -> QuerySet[Any]:
    user = User(pk=user_id)
    acts_for = pharmacy_side(user)
    officer = Q(InIds("lpc_id", officer_of(user)))
    return (
        Pharmacy.objects.filter(acts_for | officer)
        .annotate(
            acts_for=Case(When(acts_for, then=Value(True)), default=Value(False), output_field=BooleanField()),
            officer=Case(When(officer, then=Value(True)), default=Value(False), output_field=BooleanField()),
        )
        .order_by()
        .values_list("pk", "ra_id", "lpc_id", "acts_for", "officer")
    )


_scope_rows = CompiledOnce(_scope_query)


def forget_roles(user: Any) -> None:
    """Drop the roles `user_roles` and the pharmacies `pharmacy_scope` kept on this user object
    (after changing its memberships). Through attribute access, so that a lazy `request.user`
    forwards it to the user itself."""
    for kept in ("_roles_cache", "_scope_cache"):
        if getattr(user, kept, None) is not None:
            delattr(user, kept)


@dataclass(frozen=True)
class PharmacyRoles:
    """The roles a user holds towards one pharmacy."""

    staff: bool = False
    owner: bool = False
    lpc_officer: bool = False  # an officer of the pharmacy's LPC

    @property
    def pharmacy_side(self) -> bool:
        return self.staff or self.owner


def pharmacy_roles(user: Any, pharmacy: Pharmacy) -> PharmacyRoles:
    """The user's roles towards this pharmacy, in one query. (CPE IT is a flag: `user.is_cpe_it`.)"""
    if not holds_roles(user):
        return PharmacyRoles()
    if pharmacy.lpc_id is None:
        row = _pharmacy_memberships_without_lpc.row(user.pk, pharmacy.pk, pharmacy.owner_id)
    else:
        row = _pharmacy_memberships.row(user.pk, pharmacy.pk, pharmacy.owner_id, pharmacy.lpc_id)
    staff, owner, officer = (bool(value) for value in row) if row else (False, False, False)
    return PharmacyRoles(staff=staff, owner=owner, lpc_officer=officer)


def _pharmacy_memberships_query(user_id: int, pharmacy_id: int, owner_id: int, lpc_id: int | None) -> QuerySet[Any]:
    user = User(pk=user_id)
    return _exists_query(
        user,
        staff=staff_of(user).filter(pharmacy_id=pharmacy_id),
        owner=owner_of(user).filter(pharmacyowner_id=owner_id),
        lpc_officer=officer_of(user).filter(lpc_id=lpc_id) if lpc_id is not None else None,
    )


# Every issue page and action asks it: written once, as user_roles's.
_pharmacy_memberships = CompiledOnce(_pharmacy_memberships_query, ids=4)
_pharmacy_memberships_without_lpc = CompiledOnce(
    lambda user_id, pharmacy_id, owner_id: _pharmacy_memberships_query(user_id, pharmacy_id, owner_id, None), ids=3
)


def _exists_query(user: User, **subqueries: QuerySet[Any] | None) -> QuerySet[Any]:
    """One row (the user's) saying whether each subquery has a row (None: known to be False)."""
    # Prefixed so that no annotation collides with a field or relation of User.
    annotations = {
        f"has_{name}": Exists(query) if query is not None else Value(False) for name, query in subqueries.items()
    }
    return User.objects.filter(pk=user.pk).annotate(**annotations).values(*annotations)


def may_edit_directory(user: Any) -> bool:
    """The directory manager (and a superuser) edits the directory and handles correction reports."""
    return holds_roles(user) and bool(user.is_directory_manager or user.is_superuser)
