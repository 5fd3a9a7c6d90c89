"""Work inside a step (the route table's Work rows: notes, phone calls, the RA's replies), the clock
change an RA reply makes, and what mail from the RA counts for.

An RA reply or a call with the RA is logged only where the route allows it (route.RA_ASKED: the RA
has been asked, and the issue is open), whoever logs it: the page, the API, inbound mail. Each
checks the row against the issue's row as it is in the database, locked for the transaction, so a
reply cannot land on an issue resolved a moment before.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from directory.models import User
from issues import route
from issues.events import record_event
from issues.models import Deadline, EventKind, Issue, IssueEvent
from issues.services.events import CLOCK_FIELDS, clear_clock, start_clock
from issues.services.steps import checked


def _locked(issue: Issue) -> Issue:
    """The issue's row, locked for this transaction (PostgreSQL), so clock changes serialise."""
    return Issue.objects.select_for_update().select_related("pharmacy").get(pk=issue.pk)


def _checked(action: route.Work, *, user: User, issue: Issue, given: dict[str, object]) -> dict[str, object]:
    """The row's checks (services.steps.checked) against the issue's locked row. Call inside a transaction."""
    return checked(action, user=user, issue=_locked(issue), given=given)


def issue_add_note(*, user: User, issue: Issue, text: str) -> IssueEvent:
    """A note on the timeline (route.NOTE), by anyone who can see the issue, open or closed."""
    with transaction.atomic():
        values = _checked(route.NOTE, user=user, issue=issue, given={"text": text})
        return record_event(issue, kind=EventKind.NOTE, actor=user, text=str(values["text"]))


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
    if fresh.due_kind != Deadline.RA_REPLY or not route.ra_asked(fresh):
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


def issue_log_phone_call(*, user: User, issue: Issue, with_ra: bool, text: str) -> IssueEvent:
    """Record a phone call (route.PHONE_CALL) while the issue is open. A call with the RA, only once
    the RA has been asked, counts as the RA's reply (DESIGN.md: "An RA reply (inbound email or a
    logged reply or call) stops the RA window"), so it stops the RA window and starts the
    pharmacy-update window, like `issue_log_ra_reply`."""
    now = timezone.now()
    with transaction.atomic():
        values = _checked(route.PHONE_CALL, user=user, issue=issue, given={"with_ra": with_ra, "text": text})
        ra_call = values["with_ra"] is True
        event = record_event(
            issue, kind=EventKind.PHONE_CALL, actor=user, text=str(values["text"]), data={"with_ra": ra_call}, now=now
        )
        if ra_call:
            issue_record_ra_response(issue=issue, actor=user, source="phone_call", now=now)
    return event


def issue_log_ra_reply(*, user: User, issue: Issue, text: str) -> IssueEvent:
    """Record the RA's reply received outside Smartcard Route, e.g. in someone's own mailbox
    (route.RA_REPLY: an open issue whose RA has been asked). Stops the RA window and starts the
    pharmacy-update window."""
    now = timezone.now()
    with transaction.atomic():
        values = _checked(route.RA_REPLY, user=user, issue=issue, given={"text": text})
        event = record_event(issue, kind=EventKind.RA_REPLY, actor=user, text=str(values["text"]), now=now)
        issue_record_ra_response(issue=issue, actor=user, source="ra_reply", now=now)
    return event


def not_counted_note(authentication_failure: str) -> str:
    return (
        f"The email provider reports that this email failed its sender checks ({authentication_failure}): "
        "it may not be from the RA, so it does not count as the RA's reply and stops no clock. "
        "If the RA did reply, log the reply."
    )


NOT_ASKED_MAIL = "The RA had not been asked about this issue yet, so this email does not count as the RA's reply."


def issue_record_ra_email(
    *, issue: Issue, event: IssueEvent, now: datetime, authentication_failure: str = ""
) -> list[str]:
    """Mail from the issue's RA, just recorded as `event` (EMAIL_IN), inside the caller's transaction.

    Where the route allows an RA reply (route.ra_asked), it counts as the RA's reply and stops the RA
    window (`issue_record_ra_response`). Otherwise it stays on the timeline as mail, never dropped,
    and its event says it does not count. Either way the event's data says which ("ra_reply"): the
    event just written is completed here, in the transaction that wrote it, as
    `issue_record_ra_response` completes its CLOCK event. Returns the notes for the stored email
    (none when it counted).

    Mail that failed the provider's sender checks (`authentication_failure`, the mail layer's
    rule: "SPF fail, DMARC fail") never counts, even from the RA's exact address: anyone can
    write that address in a From line. It stays on the timeline, shown as failing them."""
    fresh = _locked(issue)
    asked = route.ra_asked(fresh)
    counts = asked and not authentication_failure
    event.data = {**event.data, "ra_reply": counts}
    note = not_counted_note(authentication_failure) if authentication_failure else "" if asked else NOT_ASKED_MAIL
    if note:
        event.text = f"{event.text}. {note}"
    event.save(update_fields=["data", "text"])
    if counts:
        issue_record_ra_response(issue=issue, actor=None, source="email", now=now)
        return []
    return [note]
