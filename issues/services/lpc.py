"""The LPC officer's work inside a step (route.LPC_WORK): work with the RA or the NHS England
regional team, logged as a note, a call, or an email sent from the site on the issue's thread.

The LPC's own windows are the LPC action window (started when the LPC is copied in) and the LPC
follow-up window (started by each piece of LPC work, settings.WINDOW_LPC_FOLLOW_UP_DAYS): logging
work stops whichever of the two runs and starts the follow-up, so the LPC is reminded to come back
to it (resolve, log more work, or escalate) instead of being told it did nothing. A wait for
someone else (CPE IT's triage) is left alone.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from directory.models import User
from issues import route
from issues.correspondence import outbound
from issues.correspondence.forwards import queue_forward
from issues.events import record_event
from issues.fields import FieldErrors
from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose
from issues.services.events import CLOCK_FIELDS, clear_clock, start_clock
from issues.services.steps import checked

# The waits that LPC work answers: the LPC's own (and none, e.g. after CPE IT returned the issue
# to the LPC and stopped its triage window).
LPC_WAITS = frozenset({Deadline.LPC_ACTION, Deadline.LPC_FOLLOW_UP, Deadline.NONE})


def issue_log_lpc_work(*, user: User, issue: Issue, with_whom: str, how: str, text: str, to: str = "") -> IssueEvent:
    """An LPC officer logs work with the RA or the NHS England regional team (route.LPC_WORK: in
    lpc_cc, or in escalated once CPE IT returned it to the LPC).

    1. the row's checks (who: an officer of the pharmacy's LPC; where; the fields: `to` is checked
       as an address, and only kept for an email);
    2. for an email to the RA with no address given, the RA's address in the directory (none: a
       field error on `to`);
    3. the LPC_WORK event (its data says with whom, how, and to whom an email went);
    4. for an email, an outbox row (MailPurpose.LPC_WORK) to the contact, cc the officer, as the
       next message of the issue's thread (In-Reply-To/References), its subject carrying the
       reference and its Reply-To the tracking address, so the reply lands on the timeline;
    5. stops the LPC's window and starts the LPC follow-up window (CLOCK events).
    """
    now = timezone.now()
    given = {"with_whom": with_whom, "how": how, "text": text, "to": to}
    with transaction.atomic():
        fresh = _locked(issue)
        values = checked(route.LPC_WORK, user=user, issue=fresh, given=given)
        address = str(values["to"])
        if values["how"] == route.LPC_BY_EMAIL and not address:
            address = _ra_address(fresh)
        described = route.lpc_work_in_words(with_whom=values["with_whom"], how=values["how"], to=address)
        event = record_event(
            fresh,
            kind=EventKind.LPC_WORK,
            actor=user,
            text=str(values["text"]),
            data={"with_whom": values["with_whom"], "how": values["how"], "to": address, "in_words": described},
            now=now,
        )
        if values["how"] == route.LPC_BY_EMAIL:
            _queue_email(fresh, event=event, user=user, to=address, with_whom=values["with_whom"])
        if fresh.due_kind in LPC_WAITS:
            clear_clock(fresh, actor=user, now=now)
            start_clock(fresh, kind=Deadline.LPC_FOLLOW_UP, actor=user, now=now)
            clock = {name: getattr(fresh, name) for name in CLOCK_FIELDS}
            Issue.objects.filter(pk=fresh.pk).update(**clock, updated_at=now)
            for name, value in clock.items():
                setattr(issue, name, value)
    return event


def _locked(issue: Issue) -> Issue:
    """The issue's row locked for this transaction (PostgreSQL), so clock changes serialise, with
    what the checks and the email read."""
    return (
        Issue.objects.select_for_update(of=("self",))
        .select_related("pharmacy", "pharmacy__ra", "pharmacy__lpc")
        .get(pk=issue.pk)
    )


def _ra_address(issue: Issue) -> str:
    """The RA's address in the directory, for an email to the RA with none given."""
    ra = issue.pharmacy.ra
    if ra is None or not ra.active or not ra.email:
        errors = FieldErrors()
        errors.add(
            "to",
            "The directory has no email address for this pharmacy's RA: enter the address of your contact at the RA.",
        )
        errors.raise_if_any()
    assert ra is not None
    return ra.email


def _queue_email(issue: Issue, *, event: IssueEvent, user: User, to: str, with_whom: str) -> None:
    lpc = issue.pharmacy.lpc
    thread = outbound.thread_message_ids(issue)
    queue_forward(
        issue,
        event=event,
        purpose=MailPurpose.LPC_WORK,
        template="issue_lpc_work",
        context={"officer": user, "text": event.text, "to_ra": with_whom == route.LPC_WITH_RA},
        to=[to],
        cc=[user.email],
        subject=(
            f"{lpc.name if lpc else 'The LPC'} about a Smartcard problem at {issue.pharmacy.name} "
            f"({issue.pharmacy.ods_code}): {issue.summary}"
        ),
        thread=thread,
    )
