"""A batch of the sweep in Python and the ORM: read, claim (one compare-and-set per issue), work
out the recipients and the wording, write. The embedded default (SQLite) runs it; on PostgreSQL
the tests hold the set-based statement (issues.nudges.statement) to the same rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db.models import F

from issues.emails import AUTOMATIC_PURPOSES
from issues.models import (
    EventKind,
    Issue,
    IssueEvent,
    IssueOutboundEmail,
    MailPurpose,
    NudgeDigestItem,
    format_reference,
)
from issues.nudges.context import BatchWritten, due_issues
from issues.nudges.recipients import Recipient
from issues.nudges.rules import ROLE_LABELS, SUBJECTS, TEMPLATES, WAITED_FOR, london
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import new_message_id

if TYPE_CHECKING:
    from issues.nudges.context import Sweep


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


def nudge_batch(sweep: Sweep, size: int) -> BatchWritten:
    """Read, claim (one compare-and-set per issue), compose in Python, write with the ORM: the
    embedded default (SQLite), and the reference the PostgreSQL statement is tested against."""
    rows = list(due_issues(now=sweep.now).values(*CANDIDATE_FIELDS)[:size])
    for row in rows:
        _schedule(sweep, row)
    won = claim(rows, now=sweep.now)
    claimed = [row for row in rows if row["id"] in won]
    if not claimed:
        return BatchWritten(len(rows), 0, [], 0)
    nudges = _compose(sweep, claimed)
    email_ids = _write_portably(nudges, now=sweep.now)
    return BatchWritten(len(rows), len(claimed), email_ids, len(nudges.items))


def _schedule(sweep: Sweep, row: dict[str, Any]) -> None:
    """This reminder's number and when the next one is due, on a candidate row."""
    row["reminder"] = reminder = row["reminders_sent"] + 1
    row["next_due"] = sweep.cadence[(row["due_kind"], row["is_emergency"], reminder >= sweep.max_reminders)]


def claim(rows: list[dict[str, Any]], *, now: datetime) -> set[int]:
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
            purpose=MailPurpose.NUDGE,
            auto_submitted=MailPurpose.NUDGE in AUTOMATIC_PURPOSES,
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
    # Each row's link to its issue and NUDGE event (the mail layer knows no issue).
    IssueOutboundEmail.objects.bulk_create(
        IssueOutboundEmail(email_id=email.pk, issue_id=m.issue_id, event_id=event_of[m.issue_id])
        for email, m in zip(emails, nudges.emails, strict=True)
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
