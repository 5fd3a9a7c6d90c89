"""Who a nudge goes to: the one definition of each role (issues.nudges.rules AUDIENCES says which
roles are told for which wait, in which order of precedence), applied to the rows a batch claimed
(issues.nudges.batch), on every database alike."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple

from django.conf import settings

from directory.models import LPC, PharmacyOwner, User
from issues.models import NotificationPreference
from issues.nudges.rules import AUDIENCES, Role, max_reminders

Delivery = NotificationPreference.Delivery


class Recipient(NamedTuple):
    email: str
    name: str
    role: str
    user_id: int | None = None
    digest: bool = False


class Person(NamedTuple):
    user_id: int
    email: str
    name: str
    wants_digest: bool


def _people(user_ids: Iterable[int]) -> dict[int, Person]:
    """Active users with an address, by id, with their delivery choice (one query)."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = (
        User.objects.filter(pk__in=ids)
        .order_by()
        .values_list("pk", "email", "full_name", "is_active", "notification_preference__nudge_delivery")
    )
    found = (_person(pk, email, name, active=active, delivery=delivery) for pk, email, name, active, delivery in rows)
    return {person.user_id: person for person in found if person is not None}


def _person(user_id: int, email: str, name: str, *, active: bool, delivery: str | None) -> Person | None:
    if not active or not email:
        return None
    return Person(user_id, email, name or email, delivery == Delivery.DAILY_DIGEST)


def _memberships(through: Any, group_field: str, group_ids: set[int]) -> dict[int, list[int]]:
    """{group id: [user ids]} from an M2M table, in one query; every group asked for is a key."""
    members: dict[int, list[int]] = {group_id: [] for group_id in group_ids}
    if group_ids:
        rows = through.objects.filter(**{f"{group_field}__in": group_ids}).order_by("pk")
        for group_id, user_id in rows.values_list(group_field, "user_id"):
            members[group_id].append(user_id)
    return members


class RecipientDirectory:
    """Everyone a sweep's nudges go to. Each batch fetches, in a handful of queries, what it needs
    and the sweep has not seen yet: reporters come with the claimed rows, owners' members and LPC
    officers by group (the same owners and LPCs come back batch after batch). The lanes of a sweep
    share it, one `prepare` at a time."""

    # The row's column naming the reporter, owner organisation or LPC a role's holders depend on.
    _GROUP_OF: ClassVar[dict[str, str]] = {
        Role.REPORTER: "reporter_id",
        Role.OWNER: "pharmacy__owner_id",
        Role.LPC_OFFICER: "pharmacy__lpc_id",
    }

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.people: dict[int, Person | None] = {}  # None: left (inactive) or without an address
        self.owner_members: dict[int, list[int]] = {}
        self.lpc_officers: dict[int, list[int]] = {}
        self.cpe_it_people: list[Person] | None = None
        self.cpe_it_email: str = settings.CPE_IT_EMAIL
        self.max_reminders = max_reminders()
        # Who holds a role, by (role, the reporter's, owner organisation's or LPC's id, past
        # NUDGE_MAX_REMINDERS).
        self._groups: dict[tuple[str, int | None, bool], list[Recipient]] = {}

    def prepare(self, rows: list[dict[str, Any]]) -> None:
        """Fetch whoever these rows' reminders may go to and is not known yet."""
        with self._lock:
            self._prepare(rows)

    def _prepare(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["reporter_id"] not in self.people:
                self.people[row["reporter_id"]] = _person(
                    row["reporter_id"],
                    row["reporter__email"],
                    row["reporter__full_name"],
                    active=row["reporter__is_active"],
                    delivery=row["reporter__notification_preference__nudge_delivery"],
                )
        owner_ids = {row["pharmacy__owner_id"] for row in rows if Role.OWNER in AUDIENCES[row["due_kind"]]}
        lpc_ids = {
            row["pharmacy__lpc_id"]
            for row in rows
            if Role.LPC_OFFICER in AUDIENCES[row["due_kind"]] and row["pharmacy__lpc_id"] is not None
        }
        members = _memberships(PharmacyOwner.members.through, "pharmacyowner_id", owner_ids - self.owner_members.keys())
        officers = _memberships(LPC.officers.through, "lpc_id", lpc_ids - self.lpc_officers.keys())
        self.owner_members.update(members)
        self.lpc_officers.update(officers)
        unknown = {user_id for group in (*members.values(), *officers.values()) for user_id in group}
        unknown -= self.people.keys()
        found = _people(unknown)
        self.people.update({user_id: found.get(user_id) for user_id in unknown})
        if self.cpe_it_people is None and any(Role.CPE_IT in AUDIENCES[row["due_kind"]] for row in rows):
            self.cpe_it_people = cpe_it_people()

    def _people_as(self, user_ids: Iterable[int], role: str, *, force_digest: bool) -> list[Recipient]:
        found = []
        for user_id in user_ids:
            person = self.people.get(user_id)
            if person is not None:
                found.append(Recipient(person.email, person.name, role, user_id, force_digest or person.wants_digest))
        return found

    def for_issue(self, row: dict[str, Any], *, reminder_number: int) -> list[Recipient]:
        """The recipients of this reminder, one per address, in the audience's order of precedence.

        Past NUDGE_MAX_REMINDERS the reminders go to people through their daily digest. With nobody
        to tell (no active members, no addresses), the CPE IT mailbox is told so nothing is lost."""
        force_digest = reminder_number > self.max_reminders
        found: list[Recipient] = []
        for role in AUDIENCES[row["due_kind"]]:
            found += self._for_role(row, role, force_digest)
        if len(found) > 1:
            addresses: set[str] = set()
            unique = []
            for recipient in found:
                address = recipient.email.lower()
                if address not in addresses:
                    addresses.add(address)
                    unique.append(recipient)
            found = unique
        if not found:
            return [Recipient(self.cpe_it_email, "CPE IT team", Role.NOBODY_ELSE)]
        return found

    def _for_role(self, row: dict[str, Any], role: str, force_digest: bool) -> list[Recipient]:
        """Who holds `role` for this row's issue: the same for every issue of the same reporter,
        owner organisation or LPC in the sweep, so worked out once for each."""
        key = (role, row[self._GROUP_OF[role]] if role in self._GROUP_OF else None, force_digest)
        found = self._groups.get(key)
        if found is None:
            found = self._groups[key] = self._holders(row, role, force_digest=force_digest)
        return found

    def _holders(self, row: dict[str, Any], role: str, *, force_digest: bool) -> list[Recipient]:
        if role == Role.REPORTER:
            return self._people_as((row["reporter_id"],), role, force_digest=force_digest)
        if role == Role.OWNER:
            # The owner organisation's active members with an address, else its own address.
            members = self.owner_members.get(row["pharmacy__owner_id"], ())
            found = self._people_as(members, role, force_digest=force_digest)
            if not found and row["pharmacy__owner__email"]:
                found = [Recipient(row["pharmacy__owner__email"], "Pharmacy owner", role)]
            return found
        if role == Role.LPC_OFFICER:
            # The LPC's active officers with an address, else the LPC's own address.
            officers = self.lpc_officers.get(row["pharmacy__lpc_id"], ())
            found = self._people_as(officers, role, force_digest=force_digest)
            if not found and row["pharmacy__lpc__email"]:
                found = [Recipient(row["pharmacy__lpc__email"], row["pharmacy__lpc__name"] or "LPC", role)]
            return found
        # CPE IT: the team's mailbox always, by email; CPE IT people as they chose.
        mailbox = [Recipient(self.cpe_it_email, "CPE IT team", role)] if self.cpe_it_email else []
        return mailbox + [
            Recipient(p.email, p.name, role, p.user_id, force_digest or p.wants_digest)
            for p in self.cpe_it_people or []
        ]


def cpe_it_people() -> list[Person]:
    users = User.objects.filter(is_cpe_it=True, is_active=True).order_by("pk").values_list("pk", flat=True)
    return sorted(_people(users).values())
