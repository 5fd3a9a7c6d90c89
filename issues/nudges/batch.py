"""A batch of the sweep, on every database: read what is due, claim it (compare-and-set on the
cursor), work out who is told and what (issues.nudges.recipients and .rules, in Python: the one
definition of the rules), and write the NUDGE events, outbox rows and digest items set-based
(issues.nudges.bulk). A batch is seven statements however many issues it takes, plus a few the
first time the sweep meets an owner organisation or an LPC."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings

from issues.correspondence.outbound import AUTOMATIC_PURPOSES, tracking_address_for
from issues.models import (
    EventKind,
    IssueEvent,
    IssueOutboundEmail,
    MailPurpose,
    NudgeDigestItem,
    format_reference,
)
from issues.nudges.bulk import claim_cursors, insert_rows
from issues.nudges.context import BatchWritten, Sweep, due_issues
from issues.nudges.recipients import Recipient
from issues.nudges.rules import ROLE_LABELS, SUBJECTS, TEMPLATES, WAITED_FOR, london
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import new_message_id

# The columns the sweep reads for each issue due: one query, no model instances. What the emails
# show of the issue is read when they are sent.
CANDIDATE_FIELDS = (
    "id",
    "due_at",
    "next_nudge_at",
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


def nudge_batch(sweep: Sweep, size: int) -> BatchWritten:
    """Read up to `size` issues due (locked), claim them, compose their nudges, write them."""
    rows = list(due_issues(now=sweep.now).values(*CANDIDATE_FIELDS)[:size])
    for row in rows:
        _schedule(sweep, row)
    won = claim(rows, now=sweep.now)
    claimed = [row for row in rows if row["id"] in won]
    if not claimed:
        return BatchWritten(len(rows), 0, [], 0)
    nudges = _compose(sweep, claimed)
    email_ids, items = _write(nudges, now=sweep.now)
    return BatchWritten(len(rows), len(claimed), email_ids, items)


def _schedule(sweep: Sweep, row: dict[str, Any]) -> None:
    """This reminder's number and when the next one is due, on a row read as due."""
    row["reminder"] = reminder = row["reminders_sent"] + 1
    row["next_due"] = sweep.cadence[(row["due_kind"], row["is_emergency"], reminder >= sweep.max_reminders)]


def claim(rows: list[dict[str, Any]], *, now: datetime) -> set[int]:
    """Compare-and-set each issue's cursor from the one read (`next_nudge_at`) to the next
    reminder (`next_due`), counting the reminder, in one statement; returns the ids won. The
    deadline (`due_at`) stays where it is."""
    return claim_cursors([(row["id"], row["next_nudge_at"], row["next_due"]) for row in rows], now=now)


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


def _compose(sweep: Sweep, rows: list[dict[str, Any]]) -> _Nudges:
    directory = sweep.directory
    directory.prepare(rows)
    nudges = _Nudges()
    for row in rows:
        issue_id, due_kind = row["id"], row["due_kind"]
        people = directory.for_issue(row, reminder_number=row["reminder"])
        data = {
            "due_kind": due_kind,
            "deadline": row["due_at"].isoformat(),
            "reminder": row["reminder"],
            "next_due": _iso(row["next_due"]),
        }
        nudges.events.append(_Event(issue_id, row["state"], _event_text(row, people), data))
        reference = format_reference(issue_id)
        reply_to = tracking_address_for(row["tracking_token"])
        for person in people:
            if person.digest and person.user_id is not None:
                nudges.items.append(_DigestItem(person.user_id, issue_id, person.role, due_kind))
            else:
                key = (due_kind, person.role)
                subject = f"[{reference}] {SUBJECTS[key]}"
                nudges.emails.append(_Email(issue_id, person.email, person.role, TEMPLATES[key], subject, reply_to))
    return nudges


def _event_text(row: dict[str, Any], people: list[Recipient]) -> str:
    """'Reminder 2: no reply from the RA by <the deadline>. Reminded: ... Next reminder <when>.'"""
    told = ", ".join(map(_told, people))
    return (
        f"Reminder {row['reminder']}: {WAITED_FOR[row['due_kind']]} by {london(row['due_at'])}. "
        f"Reminded: {told}. Next reminder {london(row['next_due'])}."
    )


@functools.lru_cache(maxsize=4096)
def _told(person: Recipient) -> str:
    """'Olu Owner (owner, in the daily digest)'."""
    return f"{person.name} ({ROLE_LABELS[person.role]}{', in the daily digest' if person.digest else ''})"


@functools.lru_cache(maxsize=64)
def _iso(moment: datetime) -> str:
    """The next reminder's time as the event's data holds it (a sweep has a handful of them)."""
    return moment.isoformat()


def _write(nudges: _Nudges, *, now: datetime) -> tuple[list[int], int]:
    """The events, then the outbox rows, their links to the issue and event, and the digest items
    that join them: four statements. Returns the new outbox rows' ids and the number of digest
    items."""
    events = insert_rows(
        IssueEvent,
        # A nudge changes no state: it records the one it found as both.
        columns=("issue_id", "from_state", "to_state", "text", "data"),
        rows=[(e.issue_id, e.state, e.state, e.text, e.data) for e in nudges.events],
        constants={"kind": EventKind.NUDGE, "created_at": now},
        returning=("issue_id", "id"),
    )
    event_of: dict[int, int] = dict(events)
    # Each row's Message-ID is unique: what the INSERT returns is matched back to its issue by it,
    # whatever order the database returns the rows in.
    email_of = {new_message_id(): m for m in nudges.emails}
    emails = insert_rows(
        OutboundEmail,
        columns=("to", "reply_to", "subject", "template", "context", "message_id"),
        rows=[
            ([m.to], m.reply_to, m.subject, m.template, {"role": m.role}, message_id)
            for message_id, m in email_of.items()
        ],
        constants={
            "purpose": MailPurpose.NUDGE,
            "auto_submitted": MailPurpose.NUDGE in AUTOMATIC_PURPOSES,
            "from_email": settings.DEFAULT_FROM_EMAIL,
            "status": OutboundEmail.Status.QUEUED,
            "created_at": now,
            "status_changed_at": now,
        },
        returning=("id", "message_id"),
    )
    # The mail layer knows no issue: each row's link to its issue and NUDGE event.
    insert_rows(
        IssueOutboundEmail,
        columns=("email_id", "issue_id", "event_id"),
        rows=[
            (email_id, email_of[message_id].issue_id, event_of[email_of[message_id].issue_id])
            for email_id, message_id in emails
        ],
        constants={},
        returning=("email_id",),
    )
    items = insert_rows(
        NudgeDigestItem,
        columns=("user_id", "issue_id", "event_id", "role", "due_kind"),
        rows=[(d.user_id, d.issue_id, event_of[d.issue_id], d.role, d.due_kind) for d in nudges.items],
        constants={"created_at": now},
    )
    return sorted(email_id for email_id, _ in emails), len(items)
