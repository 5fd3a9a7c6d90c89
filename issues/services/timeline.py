"""Notes, phone calls and the RA's replies on an issue's timeline, and the clock change an RA reply makes."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from directory.models import User
from issues.exceptions import IssueActionForbidden
from issues.models import Deadline, EventKind, Issue, IssueEvent, State
from issues.permissions import Roles, roles_for
from issues.services.events import CLOCK_FIELDS, clear_clock, record_event, start_clock
from issues.services.fields import FieldErrors, clean_bool, clean_text


def _locked(issue: Issue) -> Issue:
    """The issue's row, locked for this transaction (PostgreSQL), so clock changes serialise."""
    return Issue.objects.select_for_update().select_related("pharmacy").get(pk=issue.pk)


def _require_any_role(user: User, issue: Issue) -> Roles:
    roles = roles_for(user, issue)
    if not roles.any:
        raise IssueActionForbidden("You cannot add to this issue.")
    return roles


def issue_add_note(*, user: User, issue: Issue, text: str) -> IssueEvent:
    """A note on the timeline, by anyone who can see the issue (open or closed)."""
    _require_any_role(user, issue)
    errors = FieldErrors()
    text = clean_text(errors, "text", text, label="the note", required=True)
    errors.raise_if_any()
    with transaction.atomic():
        return record_event(issue, kind=EventKind.NOTE, actor=user, text=text)


def issue_record_ra_response(
    *, issue: Issue, actor: User | None, source: str, now: datetime | None = None
) -> IssueEvent | None:
    """The RA answered (a logged reply, a call with the RA, or inbound mail from the RA's address).

    When the issue is waiting for the RA's reply, stop that window and start the pharmacy-update
    window (the pharmacy should now resolve or take the next step). Any other wait (the LPC's,
    CPE IT's) is left alone: the RA answering does not discharge them. Call inside a transaction;
    returns the CLOCK event, or None when the clock did not change. Inbound mail calls this too.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("issue_record_ra_response must be called inside a transaction.")
    now = now or timezone.now()
    fresh = _locked(issue)
    if fresh.due_kind != Deadline.RA_REPLY or fresh.state not in (State.RA_CONTACTED, State.LPC_CC):
        return None
    clear_clock(fresh, actor=actor, now=now)
    event = start_clock(fresh, kind=Deadline.PHARMACY_UPDATE, actor=actor, now=now)
    event.data = {**event.data, "after": source}
    event.save(update_fields=["data"])
    clock = {name: getattr(fresh, name) for name in CLOCK_FIELDS}
    Issue.objects.filter(pk=fresh.pk).update(**clock, updated_at=now)
    for name, value in clock.items():
        setattr(issue, name, value)
    return event


def issue_log_phone_call(*, user: User, issue: Issue, text: str, with_ra: bool) -> IssueEvent:
    """Record a phone call. A call with the RA counts as the RA's reply (DESIGN.md: "An RA reply
    (inbound email or a logged reply or call) stops the RA window"), so it stops the RA window and
    starts the pharmacy-update window, like `issue_log_ra_reply`."""
    _require_any_role(user, issue)
    errors = FieldErrors()
    text = clean_text(errors, "text", text, label="what was said on the call", required=True)
    ra_call = clean_bool(errors, "with_ra", with_ra)
    errors.raise_if_any()
    now = timezone.now()
    with transaction.atomic():
        event = record_event(
            issue, kind=EventKind.PHONE_CALL, actor=user, text=text, data={"with_ra": ra_call}, now=now
        )
        if ra_call:
            issue_record_ra_response(issue=issue, actor=user, source="phone_call", now=now)
    return event


def issue_log_ra_reply(*, user: User, issue: Issue, text: str) -> IssueEvent:
    """Record the RA's reply (received outside Smartcard Route, e.g. in someone's own mailbox).
    Stops the RA window and starts the pharmacy-update window."""
    _require_any_role(user, issue)
    errors = FieldErrors()
    text = clean_text(errors, "text", text, label="what the RA said", required=True)
    errors.raise_if_any()
    now = timezone.now()
    with transaction.atomic():
        event = record_event(issue, kind=EventKind.RA_REPLY, actor=user, text=text, now=now)
        issue_record_ra_response(issue=issue, actor=user, source="ra_reply", now=now)
    return event
