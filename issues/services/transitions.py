"""The transitions of the route table (issues.route), one typed, keyword-only function each.

Each takes its row's fields as keyword arguments (tests/issues/test_route.py holds the signature
to the row) and:

1. checks the row (services.steps.checked): who, where, the fields;
2. checks what the directory or the timeline must hold (an RA with an email, an LPC address, RA
   correspondence): TransitionNotAllowedNow, saying what to report missing;
3. runs the django-fsm method and its own changes to the issue;
4. starts the window of the state it leads to or stops the clock (route.STATE_WINDOWS), saves with
   update_fields (optimistic locking on the state), and writes the TRANSITION event;
5. writes its outbox rows (sent after commit).

All inside one transaction (`_taking`); a lost race is IssueChangedConcurrently, caught outside
it, and after any failure the `issue` passed in is reloaded. Each returns the issue, saved in its
new state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition

from directory.models import RegistrationAuthority, User
from issues import route
from issues.correspondence import outbound
from issues.correspondence.forwards import has_ra_correspondence, queue_forward, queue_lpc_forward, require_lpc
from issues.correspondence.outbound import RaRequest, issue_ra_request_preview
from issues.events import record_event
from issues.exceptions import IssueChangedConcurrently, TransitionNotAllowedNow
from issues.models import EventKind, Issue, IssueEvent, MailPurpose, State
from issues.services.events import CLOCK_FIELDS, clock_for_state
from issues.services.steps import checked


@dataclass
class _Step:
    """A transition being taken: its checked values, and the moment it happens."""

    transition: route.Transition
    user: User
    issue: Issue
    values: dict[str, Any]
    now: datetime
    from_state: str

    def done(self, *fields: str, text: str = "", data: dict[str, Any] | None = None) -> IssueEvent:
        """Once the FSM method has run: the clock of the new state, when the state was entered, the
        save and the TRANSITION event."""
        issue = self.issue
        clock_for_state(issue, actor=self.user, now=self.now)
        if issue.state == State.ESCALATED and self.from_state != State.ESCALATED:
            # A new escalation (escalated, or reopened into escalated): CPE IT's triage of an earlier
            # one no longer holds, so the issue awaits triage again (issues.selectors.cpe), the LPC
            # may not act on old advice (route.LPC_WORK) and the guidance asks for triage. The
            # TRIAGE events keep the earlier triage; its owner stays as a hint.
            issue.triage_outcome, issue.triaged_at = "", None
            fields = (*fields, "triage_outcome", "triaged_at")
        issue.state_changed_at = self.now  # the moment of the TRANSITION event below (Issue.in_state_since)
        issue.save(update_fields=["state", "state_changed_at", "updated_at", *CLOCK_FIELDS, *fields])
        return record_event(
            issue,
            kind=EventKind.TRANSITION,
            actor=self.user,
            from_state=self.from_state,
            to_state=issue.state,
            text=text,
            data={"transition": self.transition.name, **(data or {})},
            now=self.now,
        )


@contextmanager
def _taking(transition: route.Transition, *, user: User, issue: Issue, given: dict[str, Any]) -> Iterator[_Step]:
    """One transaction around a transition: the row's checks, then the body's work. Nothing is saved
    when anything fails; a lost race becomes IssueChangedConcurrently once the transaction is gone."""
    try:
        with transaction.atomic():
            values = checked(transition, user=user, issue=issue, given=given)
            yield _Step(transition, user, issue, values, now=timezone.now(), from_state=issue.state)
    except ConcurrentTransition as error:
        issue.refresh_from_db()
        raise IssueChangedConcurrently() from error
    except BaseException:
        if issue.pk is not None:
            issue.refresh_from_db()
        raise


def issue_try_cis(*, user: User, issue: Issue, note: str = "") -> Issue:
    """The checks in the pharmacy did not fix it: move on to Care Identity Service self-service
    (route.TRY_CIS; never for a kind of problem only the RA can fix)."""
    with _taking(route.TRY_CIS, user=user, issue=issue, given={"note": note}) as step:
        issue.try_cis()
        step.done(text=step.values["note"])
    return issue


def issue_contact_ra(
    *,
    user: User,
    issue: Issue,
    question: str,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    smartcard_number: str | None = None,
    no_card_yet: bool | None = None,
    cc_lpc: bool = False,
    send_via: str | None = None,
) -> Issue:
    """Ask the pharmacy's RA for help (route.CONTACT_RA), with the contact details confirmed on the
    way (saved on the issue; not given: the issue's). send_via "app" queues the request to the RA
    (cc the sender, Reply-To the tracking address); "own_mail" records that the user sent it from
    their own mailbox (a REQUEST_CONFIRMED event with its text). The owner may copy the LPC in at
    once (cc_lpc: the issue goes to lpc_cc and the thread is forwarded to the LPC). A reopened
    issue asks the RA again in the same email thread."""
    given = {
        "question": question,
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "smartcard_number": smartcard_number,
        "no_card_yet": no_card_yet,
        "cc_lpc": cc_lpc,
        "send_via": send_via,
    }
    with _taking(route.CONTACT_RA, user=user, issue=issue, given=given) as step:
        values = step.values
        ra = _require_ra(issue)
        cc = values["cc_lpc"]
        lpc_recipients = require_lpc(issue) if cc else []
        issue.contact_name, issue.contact_phone = values["contact_name"], values["contact_phone"]
        issue.smartcard_number, issue.no_card_yet = values["smartcard_number"], values["no_card_yet"]
        issue.contact_ra(cc_lpc=cc)
        if cc and issue.lpc_involved_at is None:
            issue.lpc_involved_at = step.now
        event = step.done(
            "contact_name",
            "contact_phone",
            "smartcard_number",
            "no_card_yet",
            "lpc_involved_at",
            text=values["question"],
            data={
                "send_via": values["send_via"],
                "cc_lpc": cc,
                "ra_id": ra.pk,
                "ra_name": ra.name,
                "ra_email": ra.email,
            },
        )
        preview = issue_ra_request_preview(issue=issue, question=values["question"])
        if values["send_via"] == route.SEND_VIA_APP:
            earlier = outbound.thread_message_ids(issue)
            request = outbound.queue_outbound_email(
                purpose=MailPurpose.RA_REQUEST,
                issue=issue,
                event=event,
                to=[ra.email],
                cc=[user.email],
                subject=preview.subject,
                body_text=preview.body_text,
                body_html=preview.body_html,
                in_reply_to=earlier[-1] if earlier else "",
                references=earlier,
            )
            thread = [*earlier, request.message_id]
        else:
            record_event(
                issue,
                kind=EventKind.REQUEST_CONFIRMED,
                actor=user,
                text=preview.body_text,
                data={"to": ra.email, "cc": preview.cc, "subject": preview.subject},
                now=step.now,
            )
            thread = outbound.thread_message_ids(issue)
        if cc:
            queue_lpc_forward(issue, event=event, user=user, note="", recipients=lpc_recipients, thread=thread)
    return issue


def issue_contact_ra_preview(*, user: User, issue: Issue, **fields: Any) -> RaRequest:
    """The request `issue_contact_ra` would record with these fields (its keyword arguments),
    checked exactly as it checks them, saving nothing: the page shows it to copy into the user's
    own mailbox before they confirm they sent it."""
    unknown = sorted(set(fields) - set(route.CONTACT_RA.field_names))
    if unknown:
        raise TypeError(f"issue_contact_ra takes no {', '.join(unknown)}")
    values = checked(route.CONTACT_RA, user=user, issue=issue, given=fields)
    _require_ra(issue)
    return issue_ra_request_preview(
        issue=issue,
        question=values["question"],
        contact_name=values["contact_name"],
        contact_phone=values["contact_phone"],
        smartcard_number=values["smartcard_number"],
        no_card_yet=values["no_card_yet"],
    )


def _require_ra(issue: Issue) -> RegistrationAuthority:
    ra = issue.pharmacy.ra
    if ra is None or not ra.active:
        raise TransitionNotAllowedNow(
            "The directory has no Registration Authority for this pharmacy. Report the missing details to the "
            "directory manager, and ask your LPC who your RA is."
        )
    if not ra.email:
        raise TransitionNotAllowedNow(
            f"The directory has no email address for {ra.name}. Report the missing details to the directory "
            "manager; in the meantime phone the RA if it is urgent."
        )
    return ra


def issue_cc_lpc(*, user: User, issue: Issue, note: str = "") -> Issue:
    """The owner copies the LPC in (route.CC_LPC): the RA thread is forwarded to the LPC's address
    and its officers, who see the issue from now on."""
    with _taking(route.CC_LPC, user=user, issue=issue, given={"note": note}) as step:
        recipients = require_lpc(issue)
        issue.cc_lpc()
        if issue.lpc_involved_at is None:
            issue.lpc_involved_at = step.now
        event = step.done("lpc_involved_at", text=step.values["note"], data={"to": recipients})
        queue_lpc_forward(
            issue,
            event=event,
            user=user,
            note=step.values["note"],
            recipients=recipients,
            thread=outbound.thread_message_ids(issue),
        )
    return issue


def issue_escalate_to_cpe(*, user: User, issue: Issue, note: str) -> Issue:
    """An LPC officer escalates to CPE IT (route.ESCALATE_TO_CPE): needs RA correspondence on the
    issue, which is forwarded with the note to settings.CPE_IT_EMAIL (cc the officer and the LPC)."""
    with _taking(route.ESCALATE_TO_CPE, user=user, issue=issue, given={"note": note}) as step:
        if not has_ra_correspondence(issue):
            raise TransitionNotAllowedNow(
                "CPE IT needs the RA correspondence: record the request to the RA, its reply or a call with the RA "
                "before escalating."
            )
        issue.escalate_to_cpe()
        event = step.done(text=step.values["note"], data={"to": settings.CPE_IT_EMAIL})
        lpc = issue.pharmacy.lpc
        queue_forward(
            issue,
            event=event,
            purpose=MailPurpose.CPE_ESCALATION,
            template="issue_cpe_escalation",
            context={"officer": user, "note": step.values["note"]},
            to=[settings.CPE_IT_EMAIL],
            cc=[user.email] + ([lpc.email] if lpc is not None and lpc.email else []),
            subject=f"LPC escalation: {issue.pharmacy.name} ({issue.pharmacy.ods_code}), {issue.get_kind_display()}",  # type: ignore[attr-defined]
            thread=outbound.thread_message_ids(issue),
        )
    return issue


def issue_resolve(*, user: User, issue: Issue, fixed_by_step: str, note: str) -> Issue:
    """Anyone in scope marks it resolved (route.RESOLVE), with how and the step of the route that
    fixed it; the state it was resolved from is kept for reopening."""
    given = {"fixed_by_step": fixed_by_step, "note": note}
    with _taking(route.RESOLVE, user=user, issue=issue, given=given) as step:
        issue.resolve()
        issue.resolution_note, issue.fixed_by_step = step.values["note"], step.values["fixed_by_step"]
        issue.resolved_at = step.now
        step.done(
            "resolved_from_state",
            "resolution_note",
            "fixed_by_step",
            "resolved_at",
            text=step.values["note"],
            data={"fixed_by_step": step.values["fixed_by_step"]},
        )
    return issue


def issue_reopen(*, user: User, issue: Issue, reason: str) -> Issue:
    """The problem is back (route.REOPEN, within the reopen window): the issue returns to the state it
    was resolved from, whose window starts again."""
    with _taking(route.REOPEN, user=user, issue=issue, given={"reason": reason}) as step:
        issue.reopen()
        issue.resolved_from_state, issue.resolution_note, issue.fixed_by_step, issue.resolved_at = "", "", "", None
        step.done("resolved_from_state", "resolution_note", "fixed_by_step", "resolved_at", text=step.values["reason"])
    return issue


def issue_withdraw(*, user: User, issue: Issue, reason: str) -> Issue:
    """The reporter or the owner withdraws it (route.WITHDRAW), with the reason."""
    with _taking(route.WITHDRAW, user=user, issue=issue, given={"reason": reason}) as step:
        issue.withdraw()
        issue.withdrawn_reason = step.values["reason"]
        step.done("withdrawn_reason", text=step.values["reason"])
    return issue
