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
   (for people who chose the daily digest) a NudgeDigestItem;
4. after commit, enqueue the delivery of the new outbox rows (one task per batch fans out).

A crash before the commit rolls the claim back with everything else, so the next sweep does the
same work again; after the commit the claim stops any other sweep. Each deadline is therefore
nudged exactly once, and each outbox row is sent at most once by the outbox's own claim.

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
import io
import json
import logging
import re
import string
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import F
from django.template import engines
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from jinja2 import Template
from markupsafe import escape

from directory.models import LPC, PharmacyOwner, User
from issues.clock import add_working_days
from issues.emails import new_message_id, queue_outbound_email
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

# The columns the sweep reads for each candidate: one query, no model instances.
CANDIDATE_FIELDS = (
    "id",
    "due_at",
    "due_kind",
    "reminders_sent",
    "state",
    "kind",
    "summary",
    "is_emergency",
    "contact_name",
    "contact_phone",
    "tracking_token",
    "reporter_id",
    "pharmacy__name",
    "pharmacy__ods_code",
    "pharmacy__owner_id",
    "pharmacy__owner__email",
    "pharmacy__lpc_id",
    "pharmacy__lpc__name",
    "pharmacy__lpc__email",
    "pharmacy__ra__name",
    "pharmacy__ra__phone",
    "pharmacy__ra__email",
)


# Settings and the cadence ---------------------------------------------------------------------


def batch_size() -> int:
    return max(1, int(settings.NUDGE_BATCH_SIZE))


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


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    name: str
    role: str
    user_id: int | None = None
    digest: bool = False

    def as_data(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "user_id": self.user_id,
            "delivery": "daily_digest" if self.digest else "email",
        }


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    email: str
    name: str
    wants_digest: bool


def _people(user_ids: Iterable[int]) -> dict[int, Person]:
    """Active users by id, with their delivery choice (one query)."""
    rows = User.objects.filter(pk__in=set(user_ids), is_active=True).values_list(
        "pk", "email", "full_name", "notification_preference__nudge_delivery"
    )
    return {
        pk: Person(pk, email, name or email, delivery == Delivery.DAILY_DIGEST)
        for pk, email, name, delivery in rows
        if email
    }


def _memberships(through: Any, group_field: str, group_ids: set[int]) -> dict[int, list[int]]:
    """{group id: [user ids]} from an M2M table, in one query."""
    members: dict[int, list[int]] = defaultdict(list)
    if group_ids:
        rows = through.objects.filter(**{f"{group_field}__in": group_ids}).order_by("pk")
        for group_id, user_id in rows.values_list(group_field, "user_id"):
            members[group_id].append(user_id)
    return members


class RecipientDirectory:
    """Everyone a batch of nudges goes to, fetched in a handful of queries for the whole batch."""

    def __init__(self, rows: list[dict[str, Any]], cpe_it_people: list[Person]) -> None:
        owner_ids = {row["pharmacy__owner_id"] for row in rows if row["due_kind"] == Deadline.RA_REPLY}
        lpc_ids = {
            row["pharmacy__lpc_id"]
            for row in rows
            if row["due_kind"] == Deadline.LPC_ACTION and row["pharmacy__lpc_id"] is not None
        }
        self.owner_members = _memberships(PharmacyOwner.members.through, "pharmacyowner_id", owner_ids)
        self.lpc_officers = _memberships(LPC.officers.through, "lpc_id", lpc_ids)
        user_ids = {row["reporter_id"] for row in rows}
        for group in (*self.owner_members.values(), *self.lpc_officers.values()):
            user_ids.update(group)
        self.people = _people(user_ids)
        self.cpe_it_people = cpe_it_people

    def _person(self, user_id: int, role: str, *, force_digest: bool) -> Recipient | None:
        person = self.people.get(user_id)
        if person is None:
            return None
        return Recipient(person.email, person.name, role, person.user_id, force_digest or person.wants_digest)

    def for_issue(self, row: dict[str, Any], *, reminder_number: int) -> list[Recipient]:
        """The recipients of this reminder, one per address, in the audience's order of precedence.

        Past NUDGE_MAX_REMINDERS the reminders go to people through their daily digest. With nobody
        to tell (no active members, no addresses), the CPE IT mailbox is told so nothing is lost."""
        force_digest = reminder_number > max_reminders()
        found: list[Recipient] = []
        for role in AUDIENCES[row["due_kind"]]:
            found.extend(self._for_role(row, role, force_digest=force_digest))
        unique: dict[str, Recipient] = {}
        for recipient in found:
            unique.setdefault(recipient.email.lower(), recipient)
        if not unique:
            return [Recipient(settings.CPE_IT_EMAIL, "CPE IT team", Role.NOBODY_ELSE)]
        return list(unique.values())

    def _for_role(self, row: dict[str, Any], role: str, *, force_digest: bool) -> list[Recipient]:
        people: list[Recipient | None]
        if role == Role.REPORTER:
            return [r for r in [self._person(row["reporter_id"], role, force_digest=force_digest)] if r]
        if role == Role.OWNER:
            people = [
                self._person(pk, role, force_digest=force_digest)
                for pk in self.owner_members.get(row["pharmacy__owner_id"], [])
            ]
            found = [r for r in people if r]
            if not found and row["pharmacy__owner__email"]:
                found = [Recipient(row["pharmacy__owner__email"], "Pharmacy owner", role)]
            return found
        if role == Role.LPC_OFFICER:
            people = [
                self._person(pk, role, force_digest=force_digest)
                for pk in self.lpc_officers.get(row["pharmacy__lpc_id"], [])
            ]
            found = [r for r in people if r]
            if not found and row["pharmacy__lpc__email"]:
                found = [Recipient(row["pharmacy__lpc__email"], row["pharmacy__lpc__name"] or "LPC", role)]
            return found
        # CPE IT: the team's mailbox always, by email; CPE IT people as they chose.
        mailbox = [Recipient(settings.CPE_IT_EMAIL, "CPE IT team", role)] if settings.CPE_IT_EMAIL else []
        return mailbox + [
            Recipient(p.email, p.name, role, p.user_id, force_digest or p.wants_digest) for p in self.cpe_it_people
        ]


def cpe_it_people() -> list[Person]:
    users = User.objects.filter(is_cpe_it=True, is_active=True).order_by("pk").values_list("pk", flat=True)
    return list(_people(users).values())


# Links and addresses --------------------------------------------------------------------------


class Links:
    """Issue page addresses for a whole sweep, without a URL lookup per issue."""

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


# Rendering ------------------------------------------------------------------------------------


class Bodies:
    """The email templates of a sweep (templates/emails/<name>.txt and .html, Jinja2).

    Rendering twenty thousand emails one by one through Jinja2 costs more than a whole sweep may
    take, so each template is rendered once per *shape* of its context (the flags, and which values
    are empty) with markers in place of the values; each email then fills its values into that
    skeleton, HTML-escaped in the HTML part as autoescaping would. The first email of each shape
    is also rendered in full and compared: a template that transforms a value (a filter, a test on
    its content) fails the comparison, and that shape is then rendered in full for every email.
    The output is always exactly what Jinja2 renders.
    """

    _MARK = "\x00"

    def __init__(self) -> None:
        self._env = engines["jinja2"].env  # type: ignore[attr-defined]
        self._templates: dict[str, Template] = {}
        self._skeletons: dict[tuple[Any, ...], _Skeleton | None] = {}

    def _template(self, name: str) -> Template:
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = self._env.get_template(name)
        return template

    def render_in_full(self, name: str, context: dict[str, Any]) -> tuple[str, str]:
        text = self._template(f"emails/{name}.txt").render(context).strip() + "\n"
        html = self._template(f"emails/{name}.html").render(context)
        return text, html

    def render(self, name: str, values: TemplateValues) -> tuple[str, str]:
        key = (name, *values.shape)
        if key not in self._skeletons:
            self._skeletons[key] = self._skeleton(name, values)
        skeleton = self._skeletons[key]
        if skeleton is None:
            return self.render_in_full(name, values.context)
        return skeleton.fill(values)

    def _skeleton(self, name: str, values: TemplateValues) -> _Skeleton | None:
        marked = {
            key: f"{self._MARK}{key}{self._MARK}" if isinstance(value, str) and value else value
            for key, value in values.context.items()
        }
        text, html = self.render_in_full(name, marked)
        try:
            skeleton = _Skeleton(self._format_string(text), self._format_string(html))
            faithful = skeleton.fill(values) == self.render_in_full(name, values.context)
        except (KeyError, IndexError, ValueError):  # a marker the template changed
            faithful = False
        if not faithful:
            logger.warning("Template emails/%s transforms its values: rendering it in full for each email.", name)
            return None
        return skeleton

    def _format_string(self, rendered: str) -> str:
        """'a \x00key\x00 {b}' -> 'a {key} {{b}}' for str.format_map."""
        pieces = rendered.split(self._MARK)
        return "".join(
            "{" + piece + "}" if index % 2 else piece.replace("{", "{{").replace("}", "}}")
            for index, piece in enumerate(pieces)
        )


_NEEDS_ESCAPING = re.compile(r"[&<>'\"]")


def html_escape(value: str) -> str:
    """As Jinja2's autoescaping prints a string (markupsafe), skipping strings with nothing to escape."""
    return str(escape(value)) if _NEEDS_ESCAPING.search(value) else value


@dataclass
class TemplateValues:
    """One email's template context, with what its rendering needs worked out once per issue."""

    context: dict[str, Any]
    shape: tuple[Any, ...] = ()
    escaped: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shape = (
            *self.context,
            *(bool(value) if isinstance(value, str) else value for value in self.context.values()),
        )


@dataclass(frozen=True)
class _Skeleton:
    text_format: str
    html_format: str
    html_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        fields = tuple({name for _, name, _, _ in string.Formatter().parse(self.html_format) if name})
        object.__setattr__(self, "html_fields", fields)

    def fill(self, values: TemplateValues) -> tuple[str, str]:
        escaped = values.escaped
        for name in self.html_fields:
            if name not in escaped:
                escaped[name] = html_escape(values.context[name])
        return self.text_format.format_map(values.context).strip() + "\n", self.html_format.format_map(escaped)


def _issue_context(row: dict[str, Any], *, links: Links, now: datetime) -> dict[str, Any]:
    """The values the nudge templates show: strings, and booleans that choose wording."""
    reference = format_reference(row["id"])
    days = window_days(row["due_kind"], is_emergency=row["is_emergency"])
    return {
        "reference": reference,
        "summary": row["summary"] or "",
        "kind_label": _KIND_LABELS.get(row["kind"], row["kind"]),
        "pharmacy_name": row["pharmacy__name"],
        "ods_code": row["pharmacy__ods_code"],
        "ra_name": row["pharmacy__ra__name"] or "",
        "ra_phone": row["pharmacy__ra__phone"] or "",
        "ra_email": row["pharmacy__ra__email"] or "",
        "lpc_name": row["pharmacy__lpc__name"] or "",
        "is_emergency": bool(row["is_emergency"]),
        "contact_name": row["contact_name"] or "",
        "contact_phone": row["contact_phone"] or "",
        "state_label": _STATE_LABELS.get(row["state"], row["state"]),
        "deadline": london(row["due_at"]),
        "window": in_words(days),
        "audience": AUDIENCE_WORDS[row["due_kind"]],
        "waiting_since": london(now),
        "reminder": str(row["reminder"]),
        "max_reminders": str(max_reminders()),
        "next_reminder": london(row["next_due"]),
        "issue_url": links.issue(reference),
        "cc_lpc_url": links.issue(reference, ACTION_ANCHORS["cc_lpc"]),
        "escalate_url": links.issue(reference, ACTION_ANCHORS["escalate_to_cpe"]),
        "resolve_url": links.issue(reference, ACTION_ANCHORS["resolve"]),
        "tracking_address": tracking_address_for(row["tracking_token"]),
        "site_url": settings.SITE_URL,
    }


def _choices(model_field: str) -> dict[str, str]:
    return {str(value): str(label) for value, label in Issue._meta.get_field(model_field).choices or []}  # type: ignore[union-attr]


_KIND_LABELS = _choices("kind")
_STATE_LABELS = _choices("state")


# The sweep ------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    nudged: int = 0
    emails: int = 0
    digest_items: int = 0
    batches: int = 0
    lost_claims: int = 0  # read as due, but another sweep or a person changed the deadline first


@dataclass
class _Sweep:
    """What a sweep shares across its batches: the moment, the cadence, links, templates."""

    now: datetime
    links: Links = field(default_factory=Links)
    bodies: Bodies = field(default_factory=Bodies)
    _next_due: dict[float, datetime] = field(default_factory=dict)
    _cpe_it: list[Person] | None = None

    def next_due(self, gap_days: float) -> datetime:
        # The next window starts now, so every issue of the sweep with the same gap shares it.
        if gap_days not in self._next_due:
            self._next_due[gap_days] = add_working_days(self.now, gap_days)
        return self._next_due[gap_days]

    def cpe_it(self) -> list[Person]:
        if self._cpe_it is None:
            self._cpe_it = cpe_it_people()
        return self._cpe_it


def due_issues(*, now: datetime):  # type: ignore[no-untyped-def]
    """Open issues whose deadline has passed, oldest first: the sweep's query (partial index
    `issue_due_at_waiting`; rows another transaction holds are skipped on PostgreSQL)."""
    return (
        Issue.objects.filter(due_at__lte=now, state__in=OPEN_STATES, due_kind__in=NUDGED_KINDS)
        .order_by("due_at")
        .select_for_update(skip_locked=True, of=("self",))
    )


def nudges_sweep(*, now: datetime | None = None, limit: int | None = None) -> SweepResult:
    """Nudge every issue whose deadline has passed: see the module docstring for the steps.

    Each batch commits on its own; the loop stops when a batch finds fewer issues than it may take.
    `limit` caps the batch size (tests); it defaults to NUDGE_BATCH_SIZE.
    """
    sweep = _Sweep(now=now or timezone.now())
    size = limit or batch_size()
    result = SweepResult()
    while True:
        with transaction.atomic():
            seen, claimed = _sweep_batch(sweep, size, result)
        result.batches += 1
        if seen < size or claimed == 0:
            return result


def _sweep_batch(sweep: _Sweep, size: int, result: SweepResult) -> tuple[int, int]:
    rows = list(due_issues(now=sweep.now).values(*CANDIDATE_FIELDS)[:size])
    if not rows:
        return 0, 0
    _compress_quickly()
    for row in rows:
        row["reminder"] = row["reminders_sent"] + 1
        gap = reminder_gap_days(row["due_kind"], is_emergency=row["is_emergency"], reminder_number=row["reminder"])
        row["next_due"] = sweep.next_due(gap)
    won = _claim(rows, now=sweep.now)
    claimed = [row for row in rows if row["id"] in won]
    result.lost_claims += len(rows) - len(claimed)
    if claimed:
        email_ids, digest_items = _write_nudges(sweep, claimed)
        result.nudged += len(claimed)
        result.emails += len(email_ids)
        result.digest_items += digest_items
        if email_ids:
            transaction.on_commit(lambda: deliver_outbound_emails(email_ids))
    return len(rows), len(claimed)


_LZ4_AVAILABLE: dict[str, bool] = {}


def _compress_quickly() -> None:
    """Use lz4 rather than pglz for the rest of this transaction, where the server has it.

    Each outbox row carries its bodies (a few kB), which PostgreSQL compresses as it stores them;
    lz4 does that several times faster than the default pglz, and a sweep writes thousands of rows.
    """
    if connection.vendor != "postgresql":
        return
    alias = connection.alias
    with connection.cursor() as cursor:
        if alias not in _LZ4_AVAILABLE:
            cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
            found = cursor.fetchone()
            _LZ4_AVAILABLE[alias] = bool(found and found[0])
        if _LZ4_AVAILABLE[alias]:
            cursor.execute("SET LOCAL default_toast_compression = 'lz4'")


def _claim(rows: list[dict[str, Any]], *, now: datetime) -> set[int]:
    """Compare-and-set each issue's deadline from the one read to the next one; the ids won.

    On PostgreSQL one UPDATE ... FROM unnest(...) RETURNING does the whole batch, each row still
    conditional on its own `due_at`; elsewhere (SQLite, the embedded default) one UPDATE per issue.
    """
    if connection.vendor == "postgresql":
        return _claim_postgresql(rows, now=now)
    won: set[int] = set()
    for row in rows:
        updated = Issue.objects.filter(pk=row["id"], due_at=row["due_at"]).update(
            due_at=row["next_due"], reminders_sent=F("reminders_sent") + 1, updated_at=now
        )
        if updated:
            won.add(row["id"])
    return won


def _claim_postgresql(rows: list[dict[str, Any]], *, now: datetime) -> set[int]:
    meta = Issue._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk, due_at, reminders, updated = (
        quote(meta.get_field(name).column) for name in ("id", "due_at", "reminders_sent", "updated_at")
    )
    sql = (
        f"UPDATE {table} AS issue SET {due_at} = claim.next_due, {reminders} = issue.{reminders} + 1, "  # noqa: S608
        f"{updated} = %s "
        "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS claim(id, seen_due, next_due) "
        f"WHERE issue.{pk} = claim.id AND issue.{due_at} = claim.seen_due "
        f"RETURNING issue.{pk}"
    )
    params: list[Any] = [
        now,
        [row["id"] for row in rows],
        [row["due_at"] for row in rows],
        [row["next_due"] for row in rows],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {issue_id for (issue_id,) in cursor.fetchall()}


def _write_nudges(sweep: _Sweep, rows: list[dict[str, Any]]) -> tuple[list[int], int]:
    """The NUDGE events, outbox rows and digest items of a claimed batch: one INSERT each."""
    directory = RecipientDirectory(
        rows, sweep.cpe_it() if any(r["due_kind"] == Deadline.CPE_TRIAGE for r in rows) else []
    )
    recipients = [directory.for_issue(row, reminder_number=row["reminder"]) for row in rows]
    event_ids = insert_rows(
        IssueEvent,
        {
            "issue_id": [row["id"] for row in rows],
            "kind": [EventKind.NUDGE.value] * len(rows),
            "from_state": [row["state"] for row in rows],
            "to_state": [row["state"] for row in rows],
            "text": [_event_text(row, people) for row, people in zip(rows, recipients, strict=True)],
            "data": [
                {
                    "due_kind": row["due_kind"],
                    "deadline": row["due_at"].isoformat(),
                    "reminder": row["reminder"],
                    "next_due": row["next_due"].isoformat(),
                    "recipients": [recipient.as_data() for recipient in people],
                }
                for row, people in zip(rows, recipients, strict=True)
            ],
            "created_at": [sweep.now] * len(rows),
        },
    )
    emails: dict[str, list[Any]] = defaultdict(list)
    items: list[NudgeDigestItem] = []
    for row, people, event_id in zip(rows, recipients, event_ids, strict=True):
        values: TemplateValues | None = None
        rendered: dict[str, tuple[str, str, str]] = {}
        for recipient in people:
            if recipient.digest and recipient.user_id is not None:
                items.append(
                    NudgeDigestItem(
                        user_id=recipient.user_id,
                        issue_id=row["id"],
                        event_id=event_id,
                        role=recipient.role,
                        due_kind=row["due_kind"],
                        created_at=sweep.now,
                    )
                )
                continue
            if recipient.role not in rendered:
                if values is None:
                    values = TemplateValues(_issue_context(row, links=sweep.links, now=sweep.now))
                key = (row["due_kind"], recipient.role)
                text, html = sweep.bodies.render(TEMPLATES[key], values)
                rendered[recipient.role] = (f"[{format_reference(row['id'])}] {SUBJECTS[key]}", text, html)
            subject, text, html = rendered[recipient.role]
            emails["issue_id"].append(row["id"])
            emails["event_id"].append(event_id)
            emails["to"].append([recipient.email])
            emails["reply_to"].append(tracking_address_for(row["tracking_token"]))
            emails["subject"].append(subject)
            emails["body_text"].append(text)
            emails["body_html"].append(html)
            emails["message_id"].append(new_message_id())
    email_ids: list[int] = []
    if emails:
        count = len(emails["issue_id"])
        emails["purpose"] = [OutboundEmail.Purpose.NUDGE.value] * count
        emails["from_email"] = [settings.DEFAULT_FROM_EMAIL] * count
        emails["status"] = [OutboundEmail.Status.QUEUED.value] * count
        emails["created_at"] = emails["status_changed_at"] = [sweep.now] * count
        email_ids = insert_rows(OutboundEmail, emails)
    NudgeDigestItem.objects.bulk_create(items)
    return email_ids, len(items)


def insert_rows(model: type[models.Model], columns: dict[str, list[Any]]) -> list[int]:
    """Insert rows given as columns ({attname: [one value per row]}) and return their ids, in row
    order. Fields left out take their model default.

    On PostgreSQL the ids are taken from the table's sequence first and the rows go in with COPY:
    building a model instance and an INSERT parameter per value (bulk_create) costs more than the
    whole budget of a sweep of ten thousand issues. Elsewhere (SQLite): bulk_create.
    """
    count = len(next(iter(columns.values()), []))
    if count == 0:
        return []
    if connection.vendor != "postgresql":
        objects = model._default_manager.bulk_create(
            [model(**{name: values[i] for name, values in columns.items()}) for i in range(count)]
        )
        return [int(obj.pk) for obj in objects]
    meta = model._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [quote(meta.db_table), str(meta.pk.column), count],  # type: ignore[union-attr]
        )
        ids = [row[0] for row in cursor.fetchall()]
        names = [quote(str(meta.pk.column))]  # type: ignore[union-attr]
        encoded = [[str(pk) for pk in ids]]
        for model_field in meta.concrete_fields:
            if model_field.primary_key:
                continue
            names.append(quote(str(model_field.column)))
            is_json = isinstance(model_field, models.JSONField)
            if model_field.attname in columns:
                encoded.append(_csv_column(columns[model_field.attname], is_json=is_json))
            else:
                encoded.append(_csv_column([model_field.get_default()], is_json=is_json) * count)
        data = io.StringIO("".join(",".join(row) + "\n" for row in zip(*encoded, strict=True)))
        cursor.cursor.copy_expert(
            f"COPY {quote(meta.db_table)} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)", data, size=1 << 20
        )
    return ids


def _csv_column(values: list[Any], *, is_json: bool = False) -> list[str]:
    """A column's values as COPY's CSV fields: NULL unquoted and empty, text quoted (so an empty
    string stays one), values of other types encoded once each."""
    if is_json:
        return ['"' + json.dumps(value).replace('"', '""') + '"' for value in values]
    memo: dict[Any, str] = {}
    fields = []
    for value in values:
        if isinstance(value, str):
            fields.append('"' + value.replace('"', '""') + '"')
            continue
        field = memo.get(value)
        if field is None:
            if value is None:
                field = ""
            elif isinstance(value, bool):
                field = "t" if value else "f"
            elif isinstance(value, datetime):
                field = value.isoformat()
            else:
                field = str(value)
            memo[value] = field
        fields.append(field)
    return fields


def _event_text(row: dict[str, Any], people: list[Recipient]) -> str:
    told = ", ".join(f"{p.name} ({ROLE_LABELS[p.role]}{', in the daily digest' if p.digest else ''})" for p in people)
    return (
        f"Reminder {row['reminder']}: {WAITED_FOR[row['due_kind']]} by {london(row['due_at'])}. "
        f"Reminded: {told}. Next reminder {london(row['next_due'])}."
    )


def deliver_outbound_emails(email_ids: list[int]) -> None:
    """Enqueue delivery of these outbox rows (after commit). With the broker down the rows stay
    queued, and the outbox's requeue beat task enqueues them once it is back."""
    from issues.tasks import enqueue_outbound_emails

    try:
        enqueue_outbound_emails.delay(email_ids)
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
    bodies = Bodies()
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
            _send_digest(user_id=user_id, now=now, links=links, bodies=bodies, result=result)
        after = user_ids[-1]


class _LostRace(Exception):
    pass


def _send_digest(*, user_id: int, now: datetime, links: Links, bodies: Bodies, result: DigestResult) -> None:
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
                email = _queue_digest(user=user, items=listed, links=links, bodies=bodies, now=now)
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


def _queue_digest(
    *, user: User, items: list[NudgeDigestItem], links: Links, bodies: Bodies, now: datetime
) -> OutboundEmail:
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
    text, html = bodies.render_in_full("digest_nudges", context)
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
