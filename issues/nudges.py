"""Nudges: remind whoever must take the next step when a window ends (DESIGN.md, "Nudges").

`nudges_sweep` is the beat task's service (every minute). It works in bounded batches, each in
its own short transaction:

1. read up to NUDGE_BATCH_SIZE open issues whose `due_at` has passed, oldest deadline first,
   through the partial index `issue_due_at_waiting` (on PostgreSQL with FOR UPDATE SKIP LOCKED,
   so sweeps running at once share the work instead of queueing behind each other);
2. claim them with a conditional UPDATE on the deadline it read (compare-and-set: an issue whose
   `due_at` changed since, because another sweep or a person got there first, is not claimed),
   moving `due_at` to the next reminder and counting the reminder;
3. for the claimed issues only, write the NUDGE IssueEvent and, per recipient, an outbox row or
   (for people who chose the daily digest) a NudgeDigestItem: on PostgreSQL one INSERT ... SELECT
   FROM unnest(...) statement for the three tables;
4. after commit, enqueue the delivery of the new outbox rows (one task per batch fans out).

A crash before the commit rolls the claim back with everything else, so the next sweep does the
same work again; after the commit the claim stops any other sweep. Each deadline is therefore
nudged exactly once, and each outbox row is sent at most once by the outbox's own claim.

The outbox rows carry their subject, addresses and Message-ID, and the name of their template
with a small context (the recipient's role): the bodies are rendered when the row is sent
(`nudge_email_context`, called by issues.emails), from the issue and its NUDGE event, and stored
on the row then. Rendering twenty thousand emails inside the sweep would cost more than the whole
sweep may take.

The next reminder comes a further window of the same length after this one (counted from the
sweep, in working time), up to NUDGE_MAX_REMINDERS reminders; after that, once a working day,
delivered through the daily digest to people (a shared mailbox such as CPE IT's still gets an
email). `nudge_digests_send` (weekdays at DIGEST_TIME) sends each person with pending reminders
one email listing them, settling the items in the same transaction.

Recipients and wording follow DESIGN.md's table, keyed by what the issue waits for (`due_kind`):
RA reply: the reporter and the owner's members (owners also get the one-click "cc your LPC");
LPC action: the LPC's officers; CPE IT triage: the CPE IT mailbox and CPE IT users; pharmacy
update (after an RA reply): the reporter ("is it resolved?").
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, connections, models, transaction
from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from directory.models import LPC, Pharmacy, PharmacyOwner, User
from issues.clock import add_working_days
from issues.emails import new_message_id, queue_outbound_email, render_bodies
from issues.models import (
    OPEN_STATES,
    Deadline,
    EventKind,
    Issue,
    IssueEvent,
    NotificationPreference,
    NudgeDigestItem,
    OutboundEmail,
    format_reference,
)

logger = logging.getLogger(__name__)

Delivery = NotificationPreference.Delivery


class Role:
    REPORTER = "reporter"
    OWNER = "owner"
    LPC_OFFICER = "lpc_officer"
    CPE_IT = "cpe_it"
    NOBODY_ELSE = "nobody_else"  # CPE IT's mailbox, told because the directory had nobody to remind


ROLE_LABELS = {
    Role.REPORTER: "reporter",
    Role.OWNER: "owner",
    Role.LPC_OFFICER: "LPC",
    Role.CPE_IT: "CPE IT",
    Role.NOBODY_ELSE: "CPE IT, as nobody else could be reminded",
}

# Who is reminded when each kind of wait runs out, in order of precedence: a person holding two
# roles (an owner who reported the issue) gets the first one's email only.
AUDIENCES: dict[str, tuple[str, ...]] = {
    Deadline.RA_REPLY: (Role.OWNER, Role.REPORTER),
    Deadline.LPC_ACTION: (Role.LPC_OFFICER,),
    Deadline.CPE_TRIAGE: (Role.CPE_IT,),
    Deadline.PHARMACY_UPDATE: (Role.REPORTER,),
}
NUDGED_KINDS = tuple(AUDIENCES)
AUDIENCE_WORDS = {
    Deadline.RA_REPLY: "pharmacy's reporter and owner",
    Deadline.LPC_ACTION: "LPC",
    Deadline.CPE_TRIAGE: "CPE IT team",
    Deadline.PHARMACY_UPDATE: "reporter",
}

# templates/emails/<name>.txt and .html for each (wait, role).
TEMPLATES: dict[tuple[str, str], str] = {
    (Deadline.RA_REPLY, Role.REPORTER): "nudge_ra_reply_reporter",
    (Deadline.RA_REPLY, Role.OWNER): "nudge_ra_reply_owner",
    (Deadline.LPC_ACTION, Role.LPC_OFFICER): "nudge_lpc_action",
    (Deadline.CPE_TRIAGE, Role.CPE_IT): "nudge_cpe_triage",
    (Deadline.PHARMACY_UPDATE, Role.REPORTER): "nudge_pharmacy_update",
    **{(kind, Role.NOBODY_ELSE): "nudge_nobody_to_remind" for kind in NUDGED_KINDS},
}

SUBJECTS: dict[tuple[str, str], str] = {
    (Deadline.RA_REPLY, Role.REPORTER): "No reply from the RA yet: please chase them",
    (Deadline.RA_REPLY, Role.OWNER): "No reply from the RA yet: chase them or cc your LPC",
    (Deadline.LPC_ACTION, Role.LPC_OFFICER): "Waiting for the LPC: work with the RA or escalate to CPE IT",
    (Deadline.CPE_TRIAGE, Role.CPE_IT): "Escalation waiting for CPE IT triage",
    (Deadline.PHARMACY_UPDATE, Role.REPORTER): "Is it resolved? The RA replied and there has been no update",
    **{
        (kind, Role.NOBODY_ELSE): "Nobody to remind: the directory has no contact for this issue"
        for kind in NUDGED_KINDS
    },
}

# What the event says ran out, e.g. "Reminder 1: no reply from the RA by Wednesday ...".
WAITED_FOR = {
    Deadline.RA_REPLY: "no reply from the RA",
    Deadline.LPC_ACTION: "no action recorded by the LPC",
    Deadline.CPE_TRIAGE: "the escalation not yet triaged by CPE IT",
    Deadline.PHARMACY_UPDATE: "no update from the pharmacy since the RA replied",
}

# The columns the sweep reads for each candidate: one query, no model instances. What the emails
# show of the issue is read when they are sent.
CANDIDATE_FIELDS = (
    "id",
    "due_at",
    "due_kind",
    "reminders_sent",
    "state",
    "is_emergency",
    "tracking_token",
    "reporter_id",
    "reporter__email",
    "reporter__full_name",
    "reporter__is_active",
    "reporter__notification_preference__nudge_delivery",
    "pharmacy__owner_id",
    "pharmacy__owner__email",
    "pharmacy__lpc_id",
    "pharmacy__lpc__name",
    "pharmacy__lpc__email",
)


# Settings and the cadence ---------------------------------------------------------------------


def batch_size() -> int:
    return max(1, int(settings.NUDGE_BATCH_SIZE))


def sweep_connections() -> int:
    return max(1, int(getattr(settings, "NUDGE_SWEEP_CONNECTIONS", 2)))


def max_reminders() -> int:
    return max(1, int(settings.NUDGE_MAX_REMINDERS))


def window_days(due_kind: str, *, is_emergency: bool) -> float:
    """The length of the wait in working days (the windows of DESIGN.md, from settings)."""
    if due_kind == Deadline.RA_REPLY:
        return float(settings.WINDOW_RA_REPLY_EMERGENCY_DAYS if is_emergency else settings.WINDOW_RA_REPLY_DAYS)
    windows: dict[str, float] = {
        Deadline.LPC_ACTION: settings.WINDOW_LPC_ACTION_DAYS,
        Deadline.CPE_TRIAGE: settings.WINDOW_CPE_TRIAGE_DAYS,
        Deadline.PHARMACY_UPDATE: settings.WINDOW_PHARMACY_UPDATE_DAYS,
    }
    return float(windows[due_kind])


def reminder_gap_days(due_kind: str, *, is_emergency: bool, reminder_number: int) -> float:
    """Working days from reminder number `reminder_number` to the next one: the window again up to
    NUDGE_MAX_REMINDERS, then one working day."""
    if reminder_number < max_reminders():
        return window_days(due_kind, is_emergency=is_emergency)
    return 1.0


def in_words(days: float) -> str:
    if days == 0.5:
        return "half a working day"
    if days == int(days):
        return f"{int(days)} working day{'' if days == 1 else 's'}"
    return f"{days:g} working days"


@functools.lru_cache(maxsize=8192)
def london(moment: datetime) -> str:
    """'Wednesday 30 December 2026, 10:00' in the site's time zone (Europe/London)."""
    local = moment.astimezone(_zone(settings.TIME_ZONE))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M}"


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# Recipients -----------------------------------------------------------------------------------


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
    officers by group (the same owners and LPCs come back batch after batch)."""

    def __init__(self) -> None:
        self.people: dict[int, Person | None] = {}  # None: left (inactive) or without an address
        self.owner_members: dict[int, list[int]] = {}
        self.lpc_officers: dict[int, list[int]] = {}
        self.cpe_it_people: list[Person] | None = None
        self.cpe_it_email: str = settings.CPE_IT_EMAIL
        self.max_reminders = max_reminders()

    def prepare(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.people.setdefault(
                row["reporter_id"],
                _person(
                    row["reporter_id"],
                    row["reporter__email"],
                    row["reporter__full_name"],
                    active=row["reporter__is_active"],
                    delivery=row["reporter__notification_preference__nudge_delivery"],
                ),
            )
        owner_ids = {row["pharmacy__owner_id"] for row in rows if row["due_kind"] == Deadline.RA_REPLY}
        lpc_ids = {
            row["pharmacy__lpc_id"]
            for row in rows
            if row["due_kind"] == Deadline.LPC_ACTION and row["pharmacy__lpc_id"] is not None
        }
        members = _memberships(PharmacyOwner.members.through, "pharmacyowner_id", owner_ids - self.owner_members.keys())
        officers = _memberships(LPC.officers.through, "lpc_id", lpc_ids - self.lpc_officers.keys())
        self.owner_members.update(members)
        self.lpc_officers.update(officers)
        unknown = {user_id for group in (*members.values(), *officers.values()) for user_id in group}
        unknown -= self.people.keys()
        found = _people(unknown)
        self.people.update({user_id: found.get(user_id) for user_id in unknown})
        if self.cpe_it_people is None and any(row["due_kind"] == Deadline.CPE_TRIAGE for row in rows):
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
            found.extend(self._for_role(row, role, force_digest=force_digest))
        if len(found) > 1:
            unique: dict[str, Recipient] = {}
            for recipient in found:
                unique.setdefault(recipient.email.lower(), recipient)
            found = list(unique.values())
        if not found:
            return [Recipient(self.cpe_it_email, "CPE IT team", Role.NOBODY_ELSE)]
        return found

    def _for_role(self, row: dict[str, Any], role: str, *, force_digest: bool) -> list[Recipient]:
        if role == Role.REPORTER:
            return self._people_as((row["reporter_id"],), role, force_digest=force_digest)
        if role == Role.OWNER:
            members = self.owner_members.get(row["pharmacy__owner_id"], ())
            found = self._people_as(members, role, force_digest=force_digest)
            if not found and row["pharmacy__owner__email"]:
                found = [Recipient(row["pharmacy__owner__email"], "Pharmacy owner", role)]
            return found
        if role == Role.LPC_OFFICER:
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


# Links and addresses --------------------------------------------------------------------------


class Links:
    """Issue page addresses, without a URL lookup per issue."""

    _SAMPLE = "SC-000001"

    def __init__(self) -> None:
        try:
            path = reverse("issues:detail", kwargs={"reference": self._SAMPLE})
        except NoReverseMatch:
            path = f"/issues/{self._SAMPLE}/"
        self._prefix, _, self._suffix = f"{settings.SITE_URL}{path}".partition(self._SAMPLE)

    def issue(self, reference: str, anchor: str = "") -> str:
        return f"{self._prefix}{reference}{self._suffix}" + (f"#{anchor}" if anchor else "")


# The issue page shows each action it offers in an element with the id "action-<name>"
# (templates/issues/detail.jinja): links in the reminders go straight to it.
ACTION_ANCHORS = {name: f"action-{name}" for name in ("cc_lpc", "escalate_to_cpe", "resolve")}


def tracking_address_for(token: str) -> str:
    """The issue's tracking address (as issues.emails.tracking_address), from its token alone."""
    return f"{settings.INBOUND_LOCAL_PART}+{token}@{settings.INBOUND_DOMAIN}"


# The emails, rendered when sent ---------------------------------------------------------------


def nudge_email_context(email: OutboundEmail) -> dict[str, Any]:
    """The template context of a nudge's outbox row, when it is sent (issues.emails renders the
    row's template with it): the issue as it is then, and what the sweep recorded in the row's
    NUDGE event (which deadline passed, the reminder's number, when the next one comes)."""
    if email.issue_id is None or email.event_id is None:
        raise ValueError(f"Outbound email {email.pk} is a reminder without its issue or its NUDGE event.")
    issue = Issue.objects.select_related("pharmacy__ra", "pharmacy__lpc").get(pk=email.issue_id)
    facts = IssueEvent.objects.values_list("data", flat=True).get(pk=email.event_id, kind=EventKind.NUDGE)
    due_kind = Deadline(facts["due_kind"])
    pharmacy, links = issue.pharmacy, Links()
    ra, lpc = pharmacy.ra, pharmacy.lpc
    reference = issue.reference
    return {
        "reference": reference,
        "summary": issue.summary,
        "kind_label": issue.get_kind_display(),  # type: ignore[attr-defined]
        "pharmacy_name": pharmacy.name,
        "ods_code": pharmacy.ods_code,
        "ra_name": ra.name if ra else "",
        "ra_phone": ra.phone if ra else "",
        "ra_email": ra.email if ra else "",
        "lpc_name": lpc.name if lpc else "",
        "is_emergency": issue.is_emergency,
        "contact_name": issue.contact_name,
        "contact_phone": issue.contact_phone,
        "state_label": issue.get_state_display(),  # type: ignore[attr-defined]
        "deadline": london(datetime.fromisoformat(facts["deadline"])),
        "window": in_words(window_days(due_kind, is_emergency=issue.is_emergency)),
        "audience": AUDIENCE_WORDS[due_kind],
        "reminder": facts["reminder"],
        "max_reminders": max_reminders(),
        "next_reminder": london(datetime.fromisoformat(facts["next_due"])),
        "issue_url": links.issue(reference),
        "cc_lpc_url": links.issue(reference, ACTION_ANCHORS["cc_lpc"]),
        "escalate_url": links.issue(reference, ACTION_ANCHORS["escalate_to_cpe"]),
        "resolve_url": links.issue(reference, ACTION_ANCHORS["resolve"]),
        "tracking_address": tracking_address_for(issue.tracking_token),
        "site_url": settings.SITE_URL,
    }


# The sweep ------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    nudged: int = 0
    emails: int = 0
    digest_items: int = 0
    batches: int = 0
    lost_claims: int = 0  # read as due, but another sweep or a person changed the deadline first

    FIELDS: ClassVar[tuple[str, ...]] = ("nudged", "emails", "digest_items", "batches", "lost_claims")


@dataclass
class _Sweep:
    """What a sweep shares across its batches (and lanes): the moment and the cadence."""

    now: datetime
    max_reminders: int = field(default_factory=max_reminders)
    # When the next reminder is due, by (wait, emergency, past NUDGE_MAX_REMINDERS): the next
    # window starts now, so every issue of the sweep in the same case shares it.
    cadence: dict[tuple[str, bool, bool], datetime] = field(default_factory=dict)
    directory: RecipientDirectory = field(default_factory=RecipientDirectory)  # the portable path's
    statements: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # PostgreSQL's, by batch size

    def __post_init__(self) -> None:
        next_due: dict[float, datetime] = {}
        for kind in NUDGED_KINDS:
            for emergency in (False, True):
                for later in (False, True):
                    number = self.max_reminders if later else self.max_reminders - 1
                    gap = reminder_gap_days(kind, is_emergency=emergency, reminder_number=number)
                    if gap not in next_due:
                        next_due[gap] = add_working_days(self.now, gap)
                    self.cadence[(kind, emergency, later)] = next_due[gap]


def due_issues(*, now: datetime):  # type: ignore[no-untyped-def]
    """Open issues whose deadline has passed, oldest first: the sweep's query (partial index
    `issue_due_at_waiting`; rows another transaction holds are skipped on PostgreSQL)."""
    return (
        Issue.objects.filter(due_at__lte=now, state__in=OPEN_STATES, due_kind__in=NUDGED_KINDS)
        .order_by("due_at")
        .select_for_update(skip_locked=True, of=("self",))
    )


def nudges_sweep(*, now: datetime | None = None, limit: int | None = None, lanes: int | None = None) -> SweepResult:
    """Nudge every issue whose deadline has passed: see the module docstring for the steps.

    Each batch commits on its own; a lane of batches stops when a batch finds fewer issues than it
    may take. `limit` caps the batch size (tests); it defaults to NUDGE_BATCH_SIZE.

    On PostgreSQL, called outside a transaction (as the beat task is), the sweep runs `lanes`
    (NUDGE_SWEEP_CONNECTIONS) lanes at once, each a thread on its own database connection, so
    that one batch's Python work overlaps another's database work. Lanes share the issues as
    concurrent sweeps do: each batch locks what it reads (SKIP LOCKED) and claims it.
    """
    sweep = _Sweep(now=now or timezone.now())
    size = limit or batch_size()
    lanes = lanes or sweep_connections()
    if lanes == 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return _sweep_lane(sweep, size)
    with ThreadPoolExecutor(max_workers=lanes - 1, thread_name_prefix="nudge-sweep") as pool:
        others = [pool.submit(_sweep_lane_on_own_connection, sweep, size) for _ in range(lanes - 1)]
        results = [_sweep_lane(sweep, size), *(other.result() for other in others)]
    return SweepResult(*(sum(getattr(result, name) for result in results) for name in SweepResult.FIELDS))


def _sweep_lane(sweep: _Sweep, size: int) -> SweepResult:
    result = SweepResult()
    while True:
        with transaction.atomic():
            seen, claimed = _sweep_batch(sweep, size, result)
        result.batches += 1
        if seen < size or claimed == 0:
            return result


def _sweep_lane_on_own_connection(sweep: _Sweep, size: int) -> SweepResult:
    try:
        return _sweep_lane(sweep, size)
    finally:
        connection.close()  # this thread's own connection


def _sweep_batch(sweep: _Sweep, size: int, result: SweepResult) -> tuple[int, int]:
    if connection.vendor == "postgresql":
        written = _nudge_batch_postgresql(sweep, size)
    else:
        written = _nudge_batch_portably(sweep, size)
    result.lost_claims += written.seen - written.claimed
    result.nudged += written.claimed
    result.emails += len(written.email_ids)
    result.digest_items += written.digest_items
    email_ids = written.email_ids
    if email_ids:
        transaction.on_commit(lambda: deliver_outbound_emails(email_ids))
    return written.seen, written.claimed


def _nudge_batch_portably(sweep: _Sweep, size: int) -> _BatchWritten:
    """Read, claim (one compare-and-set per issue), compose in Python, write with the ORM: the
    embedded default (SQLite), and the reference the PostgreSQL statement is tested against."""
    rows = list(due_issues(now=sweep.now).values(*CANDIDATE_FIELDS)[:size])
    for row in rows:
        _schedule(sweep, row)
    won = _claim(rows, now=sweep.now)
    claimed = [row for row in rows if row["id"] in won]
    if not claimed:
        return _BatchWritten(len(rows), 0, [], 0)
    nudges = _compose(sweep, claimed)
    email_ids = _write_portably(nudges, now=sweep.now)
    return _BatchWritten(len(rows), len(claimed), email_ids, len(nudges.items))


def _schedule(sweep: _Sweep, row: dict[str, Any]) -> None:
    """This reminder's number and when the next one is due, on a candidate row."""
    row["reminder"] = reminder = row["reminders_sent"] + 1
    row["next_due"] = sweep.cadence[(row["due_kind"], row["is_emergency"], reminder >= sweep.max_reminders)]


def _claim(rows: list[dict[str, Any]], *, now: datetime) -> set[int]:
    """Compare-and-set each issue's deadline from the one read (`due_at`) to the next one
    (`next_due`), one UPDATE per issue; returns the ids won. The portable path (SQLite)."""
    won: set[int] = set()
    for row in rows:
        updated = Issue.objects.filter(pk=row["id"], due_at=row["due_at"]).update(
            due_at=row["next_due"], reminders_sent=F("reminders_sent") + 1, updated_at=now
        )
        if updated:
            won.add(row["id"])
    return won


def _cadence_key(due_kind: str, is_emergency: bool, later: bool) -> str:
    """As the claim's SQL spells a case of the cadence: 'ra_reply 0 1'."""
    return f"{due_kind} {int(is_emergency)} {int(later)}"


def _table(model: type[models.Model]) -> str:
    """A model's quoted table name, for hand-written SQL."""
    return connection.ops.quote_name(model._meta.db_table)


class _Event(NamedTuple):
    issue_id: int
    state: str
    text: str
    data: dict[str, Any]


class _Email(NamedTuple):
    issue_id: int
    to: str
    role: str
    template: str
    subject: str
    reply_to: str


class _DigestItem(NamedTuple):
    user_id: int
    issue_id: int
    role: str
    due_kind: str


@dataclass
class _Nudges:
    """A claimed batch's rows to write: one NUDGE event per issue; per recipient, an outbox row (by
    email) or a digest item (by daily digest), each naming its issue, whose one event it joins."""

    events: list[_Event] = field(default_factory=list)
    emails: list[_Email] = field(default_factory=list)
    items: list[_DigestItem] = field(default_factory=list)


def _compose(sweep: _Sweep, rows: list[dict[str, Any]]) -> _Nudges:
    directory = sweep.directory
    directory.prepare(rows)
    tracking = f"{settings.INBOUND_LOCAL_PART}+{{}}@{settings.INBOUND_DOMAIN}"
    nudges = _Nudges()
    for row in rows:
        issue_id, due_kind = row["id"], row["due_kind"]
        people = directory.for_issue(row, reminder_number=row["reminder"])
        data = {
            "due_kind": due_kind,
            "deadline": row["due_at"].isoformat(),
            "reminder": row["reminder"],
            "next_due": row["next_due"].isoformat(),
        }
        nudges.events.append(_Event(issue_id, row["state"], _event_text(row, people), data))
        reference = format_reference(issue_id)
        reply_to = tracking.format(row["tracking_token"])
        for person in people:
            if person.digest and person.user_id is not None:
                nudges.items.append(_DigestItem(person.user_id, issue_id, person.role, due_kind))
            else:
                key = (due_kind, person.role)
                subject = f"[{reference}] {SUBJECTS[key]}"
                nudges.emails.append(_Email(issue_id, person.email, person.role, TEMPLATES[key], subject, reply_to))
    return nudges


def _event_text(row: dict[str, Any], people: list[Recipient]) -> str:
    told = ", ".join(f"{p.name} ({ROLE_LABELS[p.role]}{', in the daily digest' if p.digest else ''})" for p in people)
    return (
        f"Reminder {row['reminder']}: {WAITED_FOR[row['due_kind']]} by {london(row['due_at'])}. "
        f"Reminded: {told}. Next reminder {london(row['next_due'])}."
    )


def _insert_select(model: type[models.Model], values: dict[str, str], source: str, params: dict[str, Any]) -> str:
    """`INSERT INTO <table> (<every column>) SELECT <values> FROM <source>`, the values given as SQL
    by attname; the other columns take their field's default, added to `params`."""
    quote = connection.ops.quote_name
    meta = model._meta
    unknown = set(values) - {f.attname for f in meta.concrete_fields}
    if unknown:
        raise ValueError(f"{meta.label} has no column(s) {sorted(unknown)}")
    columns, expressions = [], []
    for model_field in meta.concrete_fields:
        if model_field.primary_key and model_field.attname not in values:
            continue  # numbered by its sequence
        columns.append(quote(str(model_field.column)))
        if model_field.attname in values:
            expressions.append(values[model_field.attname])
        else:
            name = f"default_{meta.model_name}_{model_field.attname}"
            params[name] = model_field.get_db_prep_save(model_field.get_default(), connection)
            expressions.append(f"CAST(%({name})s AS {model_field.db_type(connection)})")
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(expressions)} FROM {source}"
    )


def _write_portably(nudges: _Nudges, *, now: datetime) -> list[int]:
    """The same rows with the ORM's bulk_create (SQLite, the embedded default)."""
    events = IssueEvent.objects.bulk_create(
        IssueEvent(
            issue_id=e.issue_id,
            kind=EventKind.NUDGE,
            from_state=e.state,
            to_state=e.state,
            text=e.text,
            data=e.data,
            created_at=now,
        )
        for e in nudges.events
    )
    event_of = {event.issue_id: event.pk for event in events}
    emails = OutboundEmail.objects.bulk_create(
        OutboundEmail(
            issue_id=m.issue_id,
            event_id=event_of[m.issue_id],
            purpose=OutboundEmail.Purpose.NUDGE,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[m.to],
            reply_to=m.reply_to,
            subject=m.subject,
            template=m.template,
            context={"role": m.role},
            message_id=new_message_id(),
            status=OutboundEmail.Status.QUEUED,
            created_at=now,
            status_changed_at=now,
        )
        for m in nudges.emails
    )
    NudgeDigestItem.objects.bulk_create(
        NudgeDigestItem(
            user_id=d.user_id,
            issue_id=d.issue_id,
            event_id=event_of[d.issue_id],
            role=d.role,
            due_kind=d.due_kind,
            created_at=now,
        )
        for d in nudges.items
    )
    return [int(email.pk) for email in emails]


# The sweep on PostgreSQL: one statement per batch ---------------------------------------------


def _nudge_batch_postgresql(sweep: _Sweep, size: int) -> _BatchWritten:
    """Claim a batch and write all its rows in one statement (set-based): no row goes through
    Python. It applies the rules of the portable path (`RecipientDirectory`, `_compose`, which
    the tests hold it to), with this module's tables (audiences, wording, templates) as JSON
    parameters; the steps are in `_batch_sql`."""
    if size not in sweep.statements:  # the same for every batch of the sweep
        params = _batch_parameters(sweep)
        due = due_issues(now=sweep.now).values("id", "due_at", "due_kind", "is_emergency", "reminders_sent")[:size]
        due_sql, due_params = due.query.sql_with_params()
        names = [f"due_{n}" for n in range(len(due_params))]
        params.update(zip(names, due_params, strict=True))
        sweep.statements[size] = (_batch_sql(due_sql % tuple(f"%({name})s" for name in names), params), params)
    sql, params = sweep.statements[size]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        seen, claimed, email_ids, items = cursor.fetchone()
    return _BatchWritten(seen, claimed, list(email_ids), items)


@dataclass(frozen=True)
class _BatchWritten:
    seen: int  # issues read as due
    claimed: int  # of those, issues claimed (and nudged)
    email_ids: list[int]
    digest_items: int


def _batch_parameters(sweep: _Sweep) -> dict[str, Any]:
    """The batch statement's values: the sweep's moment and cadence, and this module's tables."""
    return {
        "now": sweep.now,
        "max_reminders": sweep.max_reminders,
        "time_zone": settings.TIME_ZONE,
        "cadence": json.dumps(
            {
                _cadence_key(*case): {"at": next_due.isoformat(), "words": london(next_due)}
                for case, next_due in sweep.cadence.items()
            }
        ),
        "audiences": json.dumps(
            [[kind, role, rank] for kind, roles in AUDIENCES.items() for rank, role in enumerate(roles)]
        ),
        "owner_kinds": [kind for kind, roles in AUDIENCES.items() if Role.OWNER in roles],
        "reporter_kinds": [kind for kind, roles in AUDIENCES.items() if Role.REPORTER in roles],
        "lpc_kinds": [kind for kind, roles in AUDIENCES.items() if Role.LPC_OFFICER in roles],
        "cpe_kinds": [kind for kind, roles in AUDIENCES.items() if Role.CPE_IT in roles],
        "labels": json.dumps(ROLE_LABELS),
        "waited_for": json.dumps(WAITED_FOR),
        "mail": json.dumps(
            {f"{kind} {role}": [TEMPLATES[kind, role], SUBJECTS[kind, role]] for kind, role in TEMPLATES}
        ),
        "event_ids": _id_sequence(connection.alias, IssueEvent._meta.db_table, IssueEvent._meta.pk.column),  # type: ignore[union-attr]
        "cpe_it_email": settings.CPE_IT_EMAIL,
        "digest": Delivery.DAILY_DIGEST.value,
        "nudge": EventKind.NUDGE.value,
        "purpose": OutboundEmail.Purpose.NUDGE.value,
        "queued": OutboundEmail.Status.QUEUED.value,
        "from_email": settings.DEFAULT_FROM_EMAIL,
        "tracking_prefix": f"{settings.INBOUND_LOCAL_PART}+",
        "tracking_suffix": f"@{settings.INBOUND_DOMAIN}",
        "domain": settings.INBOUND_DOMAIN,
    }


@functools.cache
def _id_sequence(alias: str, table: str, column: str) -> str:
    """The name of the sequence that numbers a table's rows."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        (name,) = cursor.fetchone()
    return str(name)


def _batch_sql(due_sql: str, params: dict[str, Any]) -> str:
    """The batch statement. Each step reads the one before; none joins two of them (their row
    counts are unknown to the planner, which would loop over one for each row of the other):

    - `due`: the sweep's query (`due_issues`: the partial index, FOR UPDATE SKIP LOCKED);
    - `claimed`: moves each issue's deadline, still conditional on the one read, to the next one
      from the sweep's cadence (by wait, emergency, past NUDGE_MAX_REMINDERS), counts the
      reminder, and numbers its NUDGE event;
    - `candidate`: everyone who could be told, by role: the owner organisation's active members
      with an address (else its own address), the LPC's officers (else its address), the
      reporter, CPE IT's mailbox and people; and for every issue CPE IT's mailbox as the last
      resort ("nobody else");
    - `chosen`: the candidates of each issue's audience (AUDIENCES), one per address, the first
      by the audience's order then by membership (as `RecipientDirectory.for_issue`);
    - `told`: the last resort only where nobody else is left;
    - `nudge`, `email`, `item`: the NUDGE event (its text as `_event_text`), an outbox row per
      recipient by email, a digest item per person by daily digest.

    `_insert_select` adds the defaults of the columns it does not set to `params`."""
    table = _table
    members, officers = PharmacyOwner.members.through, LPC.officers.through
    issue = (
        "c.id AS issue_id, c.event_id, c.due_kind, c.state, c.due_at, c.reminder, c.next_at, c.next_words, c.reply_to"
    )
    person = "coalesce(nullif(u.full_name, ''), u.email)"
    wants_digest = "coalesce(np.nudge_delivery = %(digest)s, false)"
    active = "u.is_active AND u.email <> ''"
    events = _insert_select(
        IssueEvent,
        {
            "id": "t.event_id",
            "issue_id": "t.issue_id",
            "kind": "%(nudge)s",
            "from_state": "t.state",
            "to_state": "t.state",
            "text": (
                "'Reminder ' || t.reminder || ': ' || (%(waited_for)s::jsonb ->> t.due_kind) || ' by ' "
                "|| to_char(t.due_at AT TIME ZONE %(time_zone)s, 'FMDay FMDD FMMonth YYYY, HH24:MI') "
                "|| '. Reminded: ' || string_agg(t.name || ' (' || (%(labels)s::jsonb ->> t.role) "
                "|| CASE WHEN t.by_digest THEN ', in the daily digest' ELSE '' END || ')', ', ' "
                "ORDER BY t.rank, t.position) || '. Next reminder ' || t.next_words || '.'"
            ),
            "data": (
                "jsonb_build_object('due_kind', t.due_kind, 'deadline', "
                # as Python's datetime.isoformat() of the UTC deadline, which the portable path writes
                "to_char(t.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
                "|| CASE WHEN mod(date_part('microseconds', t.due_at)::int, 1000000) <> 0 "
                "THEN to_char(t.due_at AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00', "
                "'reminder', t.reminder, 'next_due', t.next_at)"
            ),
            "created_at": "%(now)s",
        },
        # One group per issue: the issue's columns are the same on each of its rows.
        "told AS t GROUP BY t.event_id, t.issue_id, t.due_kind, t.state, t.due_at, t.reminder, t.next_at, t.next_words",
        params,
    )
    emails = _insert_select(
        OutboundEmail,
        {
            "issue_id": "t.issue_id",
            "event_id": "t.event_id",
            "purpose": "%(purpose)s",
            "from_email": "%(from_email)s",
            "to": "jsonb_build_array(t.email)",
            "reply_to": "t.reply_to",
            "subject": "t.subject",
            "template": "t.template",
            "context": "jsonb_build_object('role', t.role)",
            "message_id": (  # as issues.emails.new_message_id
                "'<' || to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint) || '.' "
                "|| replace(gen_random_uuid()::text, '-', '') || '@' || %(domain)s || '>'"
            ),
            "status": "%(queued)s",
            "created_at": "%(now)s",
            "status_changed_at": "%(now)s",
        },
        "told AS t WHERE NOT t.by_digest",
        params,
    )
    items = _insert_select(
        NudgeDigestItem,
        {
            "user_id": "t.user_id",
            "issue_id": "t.issue_id",
            "event_id": "t.event_id",
            "role": "t.role",
            "due_kind": "t.due_kind",
            "created_at": "%(now)s",
        },
        "told AS t WHERE t.by_digest",
        params,
    )
    # Names come from the models; values are parameters.
    return f"""
WITH due AS ({due_sql}),
claimed AS (
    UPDATE {table(Issue)} AS issue
    SET due_at = (s.next ->> 'at')::timestamptz, reminders_sent = issue.reminders_sent + 1, updated_at = %(now)s
    FROM (
        SELECT id, due_at, reminders_sent + 1 AS reminder, reminders_sent + 1 > %(max_reminders)s AS past_max,
            %(cadence)s::jsonb
            -> concat_ws(' ', due_kind, is_emergency::int, (reminders_sent + 1 >= %(max_reminders)s)::int) AS next
        FROM due
    ) AS s
    WHERE issue.id = s.id AND issue.due_at = s.due_at
    RETURNING issue.id, nextval(%(event_ids)s::regclass) AS event_id, s.due_at, s.reminder, s.past_max,
        s.next ->> 'at' AS next_at, s.next ->> 'words' AS next_words, issue.due_kind, issue.state,
        issue.reporter_id, issue.pharmacy_id,
        %(tracking_prefix)s || issue.tracking_token || %(tracking_suffix)s AS reply_to,
        -- "SC-000123", as issues.models.format_reference
        'SC-' || CASE WHEN issue.id < 1000000 THEN lpad(issue.id::text, 6, '0') ELSE issue.id::text END AS reference
),
cpe_it AS MATERIALIZED (
    SELECT 0 AS position, NULL::bigint AS user_id, %(cpe_it_email)s AS email, 'CPE IT team' AS name,
        false AS wants_digest
    WHERE %(cpe_it_email)s <> ''
    UNION ALL
    SELECT u.id, u.id, u.email, {person}, {wants_digest}
    FROM {table(User)} AS u LEFT JOIN {table(NotificationPreference)} AS np ON np.user_id = u.id
    WHERE u.is_cpe_it AND {active}
),
candidate AS (
    -- The owner organisation's active members, or its own address when it has none.
    SELECT {issue}, c.reference, 'owner' AS role, coalesce(m.id, 0) AS position, u.id AS user_id,
        coalesce(u.email, o.email) AS email, coalesce({person}, 'Pharmacy owner') AS name,
        u.id IS NOT NULL AND (c.past_max OR {wants_digest}) AS by_digest
    FROM claimed AS c
    JOIN {table(Pharmacy)} AS p ON p.id = c.pharmacy_id
    JOIN {table(PharmacyOwner)} AS o ON o.id = p.owner_id
    LEFT JOIN ({table(members)} AS m JOIN {table(User)} AS u ON u.id = m.user_id AND {active}
        LEFT JOIN {table(NotificationPreference)} AS np ON np.user_id = u.id) ON m.pharmacyowner_id = p.owner_id
    WHERE c.due_kind = ANY(%(owner_kinds)s) AND (u.id IS NOT NULL OR o.email <> '')
    UNION ALL
    -- The LPC's active officers, or its own address when it has none.
    SELECT {issue}, c.reference, 'lpc_officer', coalesce(m.id, 0), u.id, coalesce(u.email, l.email),
        coalesce({person}, nullif(l.name, ''), 'LPC'), u.id IS NOT NULL AND (c.past_max OR {wants_digest})
    FROM claimed AS c
    JOIN {table(Pharmacy)} AS p ON p.id = c.pharmacy_id
    JOIN {table(LPC)} AS l ON l.id = p.lpc_id
    LEFT JOIN ({table(officers)} AS m JOIN {table(User)} AS u ON u.id = m.user_id AND {active}
        LEFT JOIN {table(NotificationPreference)} AS np ON np.user_id = u.id) ON m.lpc_id = p.lpc_id
    WHERE c.due_kind = ANY(%(lpc_kinds)s) AND (u.id IS NOT NULL OR l.email <> '')
    UNION ALL
    SELECT {issue}, c.reference, 'reporter', 0, u.id, u.email, {person}, c.past_max OR {wants_digest}
    FROM claimed AS c
    JOIN {table(User)} AS u ON u.id = c.reporter_id AND {active}
    LEFT JOIN {table(NotificationPreference)} AS np ON np.user_id = u.id
    WHERE c.due_kind = ANY(%(reporter_kinds)s)
    UNION ALL
    -- CPE IT's mailbox and people.
    SELECT {issue}, c.reference, 'cpe_it', u.position, u.user_id, u.email, u.name,
        u.user_id IS NOT NULL AND (c.past_max OR u.wants_digest)
    FROM claimed AS c CROSS JOIN cpe_it AS u
    WHERE c.due_kind = ANY(%(cpe_kinds)s)
),
chosen AS (
    SELECT DISTINCT ON (k.issue_id, lower(k.email)) k.*
    FROM (
        SELECT k.*, (a ->> 2)::int AS rank
        FROM candidate AS k
        JOIN jsonb_array_elements(%(audiences)s::jsonb) AS a ON a ->> 0 = k.due_kind AND a ->> 1 = k.role
        UNION ALL
        -- The last resort, for every issue; kept below only where nobody else is left.
        SELECT {issue}, c.reference, 'nobody_else', 0, NULL, %(cpe_it_email)s, 'CPE IT team', false, 99
        FROM claimed AS c
    ) AS k
    ORDER BY k.issue_id, lower(k.email), k.rank, k.position
),
told AS (
    SELECT t.*, '[' || t.reference || '] ' || (t.mail ->> 1) AS subject, t.mail ->> 0 AS template
    FROM (
        SELECT chosen.*, count(*) OVER (PARTITION BY chosen.issue_id) AS recipients,
            %(mail)s::jsonb -> (chosen.due_kind || ' ' || chosen.role) AS mail
        FROM chosen
    ) AS t
    WHERE t.role <> 'nobody_else' OR t.recipients = 1
),
nudge AS ({events} RETURNING id),
email AS ({emails} RETURNING id),
item AS ({items} RETURNING id)
SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM claimed), ARRAY(SELECT id FROM email ORDER BY id),
    (SELECT count(*) FROM item)
"""  # noqa: S608


def deliver_outbound_emails(email_ids: list[int]) -> None:
    """Enqueue delivery of these outbox rows (after commit). With the broker down the rows stay
    queued, and the outbox's requeue beat task enqueues them once it is back."""
    from issues.tasks import enqueue_outbound_emails

    try:
        # argsrepr: Celery would otherwise write out the thousand ids for its logs.
        enqueue_outbound_emails.apply_async(  # type: ignore[call-arg]  # Celery takes it; its stubs do not list it
            (email_ids,), argsrepr=f"({len(email_ids)} outbox ids,)"
        )
    except Exception:
        logger.exception("Could not enqueue %s nudge emails; the requeue sweep will retry.", len(email_ids))


# The daily digest -----------------------------------------------------------------------------


@dataclass
class DigestResult:
    emails: int = 0
    items: int = 0
    dropped: int = 0  # settled without listing: the issue has moved on since the reminder


def nudge_digests_send(*, now: datetime | None = None, users_per_query: int = 500) -> DigestResult:
    """One email per person with pending digest items, listing them; exactly once.

    For each person, in a transaction of their own:
    1. lock their pending items (FOR UPDATE SKIP LOCKED on PostgreSQL: a digest run at the same time
       skips them);
    2. drop items whose issue has moved on (closed, or no longer waiting for the same thing);
    3. queue one digest email (sent after commit) listing the rest, newest reminder per issue;
    4. settle every item with a conditional UPDATE (only items still pending): if another run
       settled any first, roll back this person's digest.
    """
    now = now or timezone.now()
    result = DigestResult()
    links = Links()
    after = 0
    while True:
        user_ids = list(
            NudgeDigestItem.objects.filter(settled_at__isnull=True, user_id__gt=after)
            .order_by("user_id")
            .values_list("user_id", flat=True)
            .distinct()[:users_per_query]
        )
        if not user_ids:
            return result
        for user_id in user_ids:
            _send_digest(user_id=user_id, now=now, links=links, result=result)
        after = user_ids[-1]


class _LostRace(Exception):
    pass


def _send_digest(*, user_id: int, now: datetime, links: Links, result: DigestResult) -> None:
    try:
        with transaction.atomic():
            items = list(
                NudgeDigestItem.objects.filter(user_id=user_id, settled_at__isnull=True, created_at__lte=now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("user", "issue", "issue__pharmacy", "event")
                .order_by("created_at", "pk")
            )
            if not items:
                return
            user = items[0].user
            current: dict[int, NudgeDigestItem] = {}
            for item in items:
                issue = item.issue
                if issue.state in OPEN_STATES and issue.due_kind == item.due_kind:
                    current[issue.pk] = item  # the newest reminder per issue wins
            listed = list(current.values())
            email: OutboundEmail | None = None
            if listed and user.is_active and user.email:
                email = _queue_digest(user=user, items=listed, links=links, now=now)
            settled = NudgeDigestItem.objects.filter(pk__in=[i.pk for i in items], settled_at__isnull=True).update(
                settled_at=now, digest_email=email
            )
            if settled != len(items):
                raise _LostRace
    except _LostRace:
        logger.info("Digest for user %s was settled by another run; nothing sent twice.", user_id)
        return
    result.items += len(items)
    result.dropped += len(items) - len(listed)
    result.emails += 1 if email is not None else 0


def _queue_digest(*, user: User, items: list[NudgeDigestItem], links: Links, now: datetime) -> OutboundEmail:
    entries = []
    for item in items:
        issue = item.issue
        reference = issue.reference
        key = (item.due_kind, item.role)
        entries.append(
            {
                "reference": reference,
                "summary": issue.summary,
                "pharmacy_name": issue.pharmacy.name,
                "ods_code": issue.pharmacy.ods_code,
                "state_label": issue.get_state_display(),  # type: ignore[attr-defined]
                "step": SUBJECTS.get(key, "Please take the next step"),
                "what": item.event.text,
                "reminder": item.event.data.get("reminder"),
                "is_emergency": issue.is_emergency,
                "issue_url": links.issue(reference),
                "cc_lpc_url": links.issue(reference, ACTION_ANCHORS["cc_lpc"])
                if key == (Deadline.RA_REPLY, Role.OWNER)
                else "",
            }
        )
    count = len(entries)
    context = {"name": user.full_name or user.email, "entries": entries, "date": london(now), "count": count}
    text, html = render_bodies("digest_nudges", context)
    references = ", ".join(f"[{entry['reference']}]" for entry in entries[:5])
    more = f" and {count - 5} more" if count > 5 else ""
    subject = f"Smartcard Route: {count} issue{'' if count == 1 else 's'} waiting for your next step {references}{more}"
    return queue_outbound_email(
        purpose=OutboundEmail.Purpose.DIGEST,
        to=[user.email],
        subject=subject,
        body_text=text,
        body_html=html,
        reply_to="",
    )


# Preferences ----------------------------------------------------------------------------------


def notification_preference_set(*, user: User, nudge_delivery: str) -> NotificationPreference:
    """Choose immediate reminders or the daily digest. Reminders already waiting for a digest stay
    there; new ones follow the new choice."""
    if nudge_delivery not in Delivery.values:
        raise ValidationError({"nudge_delivery": ["Choose how you want your reminders."]})
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user, defaults={"nudge_delivery": nudge_delivery}
    )
    return preference
