"""CPE IT's triage of an escalation (route.TRIAGE; DESIGN.md, "Work inside a step").

Triage records who in CPE IT owns the escalation, a note and the outcome, on the issue (its
latest triage: cpe_owner, triage_outcome, triaged_at) and as a TRIAGE event (each triage, so a
re-triage that changes the owner or the outcome is on the timeline too). It ends the wait for
CPE IT's triage. Returned to the LPC, the note is the advice: it is emailed to the LPC on the
issue's thread and the LPC is awaited again (the LPC follow-up window). Linked to a systemic case,
it is only recorded here: the case itself is linked by the cases' services.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from directory.models import User
from issues import route
from issues.correspondence import outbound
from issues.correspondence.forwards import lpc_recipients
from issues.events import record_event
from issues.exceptions import TransitionNotAllowedNow
from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose, TriageOutcome
from issues.services.events import CLOCK_FIELDS, clear_clock, start_clock
from issues.services.steps import checked
from issues.windows import window_in_words

TRIAGE_FIELDS = ["cpe_owner", "triage_outcome", "triaged_at"]

NO_LPC_TO_ADVISE = (
    "The directory has no LPC (or no LPC email address) for this pharmacy, so the advice cannot be sent to "
    "the LPC. Report the missing details to the directory manager, or choose another outcome."
)


def issue_triage(*, user: User, issue: Issue, outcome: str, note: str, owner: User | str | None = None) -> IssueEvent:
    """CPE IT triage an escalation (route.TRIAGE: the CPE IT team, in escalated).

    1. Inside one transaction, lock the issue's row and run the row's checks on it (who, where,
       the fields: `owner` a User or the email address of an active member of CPE IT, the user
       themself when none is given; `outcome` a TriageOutcome; `note` required).
    2. Set cpe_owner, triage_outcome and triaged_at, and write the TRIAGE event (the note as its
       text; the owner, the outcome and the previous ones in its data).
    3. End the current wait (clear_clock, a CLOCK event): CPE IT has triaged it.
    4. Returned to the LPC: email the advice to the LPC's address and officers (MailPurpose.TRIAGE,
       on the issue's thread, sent after commit; none in the directory: TransitionNotAllowedNow)
       and start the LPC follow-up window.
    5. Save the triage and the clock with update_fields; the `issue` passed in gets them too.
    Nothing is saved when any step fails. Returns the TRIAGE event.
    """
    now = timezone.now()
    with transaction.atomic():
        # Only the issue's row is locked: the LPC, if any, is on the nullable side of a join.
        locked = Issue.objects.select_for_update(of=("self",)).select_related("pharmacy__lpc").get(pk=issue.pk)
        values = checked(
            route.TRIAGE, user=user, issue=locked, given={"owner": owner, "outcome": outcome, "note": note}
        )
        chosen: User = values["owner"] or user
        outcome, note = values["outcome"], values["note"]
        returned = outcome == TriageOutcome.RETURNED_TO_LPC
        recipients = lpc_recipients(locked) if returned else []
        if returned and not recipients:
            raise TransitionNotAllowedNow(NO_LPC_TO_ADVISE)
        previous = {"previous_outcome": locked.triage_outcome, "previous_owner_id": locked.cpe_owner_id}
        locked.cpe_owner, locked.triage_outcome, locked.triaged_at = chosen, outcome, now
        event = record_event(
            locked,
            kind=EventKind.TRIAGE,
            actor=user,
            text=note,
            data={
                "outcome": outcome,
                "outcome_label": str(TriageOutcome(outcome).label),
                "owner_id": chosen.pk,
                "owner_name": chosen.full_name,
                **previous,
                **({"to": recipients} if returned else {}),
            },
            now=now,
        )
        clear_clock(locked, actor=user, now=now)
        if returned:
            _queue_advice(locked, event=event, user=user, owner=chosen, note=note, recipients=recipients)
            start_clock(locked, kind=Deadline.LPC_FOLLOW_UP, actor=user, now=now)
        locked.save(update_fields=[*TRIAGE_FIELDS, *CLOCK_FIELDS, "updated_at"])
    for name in [*TRIAGE_FIELDS, *CLOCK_FIELDS, "updated_at"]:
        setattr(issue, name, getattr(locked, name))
    return event


def _queue_advice(
    issue: Issue, *, event: IssueEvent, user: User, owner: User, note: str, recipients: list[str]
) -> None:
    """The advice to the LPC, as the next message of the issue's thread (Reply-To its tracking address)."""
    text, html = outbound.render_bodies(
        "issue_triage_advice",
        {
            "issue": issue,
            "pharmacy": issue.pharmacy,
            "lpc": issue.pharmacy.lpc,
            "triager": user,
            "owner": owner,
            "note": note,
            "follow_up": window_in_words(Deadline.LPC_FOLLOW_UP, is_emergency=issue.is_emergency),
            "tracking_address": outbound.tracking_address(issue),
            "issue_url": outbound.issue_url(issue),
            "site_url": settings.SITE_URL,
        },
    )
    thread = outbound.thread_message_ids(issue)
    pharmacy = issue.pharmacy
    subject = f"CPE IT's advice for {pharmacy.name} ({pharmacy.ods_code}): {issue.summary}"
    outbound.queue_outbound_email(
        purpose=MailPurpose.TRIAGE,
        issue=issue,
        event=event,
        to=recipients,
        cc=list(dict.fromkeys(address for address in (user.email, owner.email) if address)),
        subject=outbound.subject_for(issue, subject),
        body_text=text,
        body_html=html,
        in_reply_to=thread[-1] if thread else "",
        references=thread,
    )
