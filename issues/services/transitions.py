"""The transitions of DESIGN.md's table, run by name through `issue_transition`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition, can_proceed

from directory.models import User
from issues import emails
from issues.emails import issue_ra_request_preview
from issues.exceptions import IssueActionForbidden, IssueChangedConcurrently, TransitionNotAllowedNow
from issues.models import EventKind, Issue, IssueEvent, MailPurpose, State, Step
from issues.permissions import Roles, permission_error, reopen_deadline, roles_for
from issues.services.correspondence import has_ra_correspondence, queue_forward, queue_lpc_forward, require_lpc
from issues.services.events import CLOCK_FIELDS, clear_clock, clock_for_state, record_event
from issues.services.fields import (
    MAX_NAME,
    FieldErrors,
    clean_bool,
    clean_choice,
    clean_phone,
    clean_smartcard,
    clean_text,
)

TRANSITIONS = ("try_cis", "contact_ra", "cc_lpc", "escalate_to_cpe", "resolve", "withdraw", "reopen")

# The inputs each transition takes (the API and forms pass these by name).
TRANSITION_FIELDS: dict[str, tuple[str, ...]] = {
    "try_cis": ("note",),
    "contact_ra": (
        "question",
        "contact_name",
        "contact_phone",
        "smartcard_number",
        "no_card_yet",
        "send_via",
        "cc_lpc",
    ),
    "cc_lpc": ("note",),
    "escalate_to_cpe": ("note",),
    "resolve": ("note", "fixed_by_step"),
    "withdraw": ("reason",),
    "reopen": ("reason",),
}

SEND_VIA_APP = "app"
SEND_VIA_OWN_MAIL = "own_mail"
SEND_VIA_CHOICES = (SEND_VIA_APP, SEND_VIA_OWN_MAIL)


def issue_transition(*, user: User, issue: Issue, transition: str, **fields: Any) -> Issue:
    """Run one transition of DESIGN.md's table by name (see TRANSITIONS); `fields` are its inputs
    (TRANSITION_FIELDS). Returns the issue, saved in its new state."""
    handler = _HANDLERS.get(transition)
    if handler is None:
        raise ValidationError({"transition": [f"Choose one of: {', '.join(TRANSITIONS)}."]})
    unknown = sorted(set(fields) - set(TRANSITION_FIELDS[transition]))
    if unknown:
        raise ValidationError({name: [f"'{transition}' does not take this field."] for name in unknown})
    try:
        with transaction.atomic():
            handler(user, issue, **fields)
    except ConcurrentTransition as error:
        issue.refresh_from_db()
        raise IssueChangedConcurrently() from error
    except BaseException:
        if issue.pk is not None:
            issue.refresh_from_db()
        raise
    return issue


def _check(user: User, issue: Issue, transition: str, *, cc_lpc: bool = False) -> Roles:
    roles = roles_for(user, issue)
    message = permission_error(transition, roles, cc_lpc=cc_lpc)
    if message:
        raise IssueActionForbidden(message)
    if not can_proceed(getattr(issue, transition)):
        raise TransitionNotAllowedNow(
            f"{_TRANSITION_LABELS[transition]} is not possible now: the issue is '{issue.get_state_display()}'."  # type: ignore[attr-defined]
        )
    return roles


_TRANSITION_LABELS = {
    "try_cis": "Recording a Care Identity Service attempt",
    "contact_ra": "Contacting the RA",
    "cc_lpc": "Copying the LPC in",
    "escalate_to_cpe": "Escalating to CPE IT",
    "resolve": "Resolving",
    "withdraw": "Withdrawing",
    "reopen": "Reopening",
}


def _save_transition(issue: Issue, *fields: str) -> None:
    issue.save(update_fields=["state", "updated_at", *CLOCK_FIELDS, *fields])


def _transition_event(
    issue: Issue,
    *,
    user: User,
    name: str,
    from_state: str,
    text: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> IssueEvent:
    return record_event(
        issue,
        kind=EventKind.TRANSITION,
        actor=user,
        from_state=from_state,
        to_state=issue.state,
        text=text,
        data={"transition": name, **(data or {})},
        now=now,
    )


def _try_cis(user: User, issue: Issue, *, note: str = "") -> None:
    _check(user, issue, "try_cis")
    errors = FieldErrors()
    note = clean_text(errors, "note", note, label="a note", required=False)
    errors.raise_if_any()
    now = timezone.now()
    from_state = issue.state
    issue.try_cis()
    clear_clock(issue, actor=user, now=now)
    _save_transition(issue)
    _transition_event(issue, user=user, name="try_cis", from_state=from_state, text=note, now=now)


def _contact_ra(
    user: User,
    issue: Issue,
    *,
    question: str = "",
    contact_name: str | None = None,
    contact_phone: str | None = None,
    smartcard_number: str | None = None,
    no_card_yet: bool | None = None,
    send_via: str | None = SEND_VIA_APP,
    cc_lpc: bool = False,
) -> None:
    errors = FieldErrors()
    cc = clean_bool(errors, "cc_lpc", cc_lpc)
    errors.raise_if_any()
    _check(user, issue, "contact_ra", cc_lpc=cc)
    question = clean_text(errors, "question", question, label="your question for the RA", required=True)
    name = clean_text(
        errors,
        "contact_name",
        issue.contact_name if contact_name is None else contact_name,
        label="a contact name",
        required=True,
        max_length=MAX_NAME,
    )
    phone = clean_phone(errors, "contact_phone", issue.contact_phone if contact_phone is None else contact_phone)
    no_card = clean_bool(errors, "no_card_yet", issue.no_card_yet if no_card_yet is None else no_card_yet)
    number = clean_smartcard(
        errors, issue.smartcard_number if smartcard_number is None else smartcard_number, no_card, required=True
    )
    via = clean_choice(errors, "send_via", send_via or SEND_VIA_APP, SEND_VIA_CHOICES, label="how the request is sent")
    errors.raise_if_any()

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
    lpc_recipients = require_lpc(issue) if cc else []

    now = timezone.now()
    from_state = issue.state
    issue.contact_name, issue.contact_phone = name, phone
    issue.smartcard_number, issue.no_card_yet = number, no_card
    issue.contact_ra(cc_lpc=cc)
    if cc and issue.lpc_involved_at is None:
        issue.lpc_involved_at = now
    clock_for_state(issue, actor=user, now=now)
    _save_transition(issue, "contact_name", "contact_phone", "smartcard_number", "no_card_yet", "lpc_involved_at")

    preview = issue_ra_request_preview(issue=issue, question=question)
    event = _transition_event(
        issue,
        user=user,
        name="contact_ra",
        from_state=from_state,
        text=question,
        now=now,
        data={"send_via": via, "cc_lpc": cc, "ra_id": ra.pk, "ra_name": ra.name, "ra_email": ra.email},
    )
    if via == SEND_VIA_APP:
        earlier = emails.thread_message_ids(issue)  # a reopened issue asks the RA again in the same thread
        request = emails.queue_outbound_email(
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
            now=now,
        )
        thread = emails.thread_message_ids(issue)
    if cc:
        queue_lpc_forward(issue, event=event, user=user, note="", recipients=lpc_recipients, thread=thread)


def _cc_lpc(user: User, issue: Issue, *, note: str = "") -> None:
    _check(user, issue, "cc_lpc")
    errors = FieldErrors()
    note = clean_text(errors, "note", note, label="a note for the LPC", required=False)
    errors.raise_if_any()
    recipients = require_lpc(issue)
    now = timezone.now()
    from_state = issue.state
    issue.cc_lpc()
    if issue.lpc_involved_at is None:
        issue.lpc_involved_at = now
    clock_for_state(issue, actor=user, now=now)
    _save_transition(issue, "lpc_involved_at")
    event = _transition_event(
        issue, user=user, name="cc_lpc", from_state=from_state, text=note, now=now, data={"to": recipients}
    )
    queue_lpc_forward(
        issue, event=event, user=user, note=note, recipients=recipients, thread=emails.thread_message_ids(issue)
    )


def _escalate_to_cpe(user: User, issue: Issue, *, note: str = "") -> None:
    _check(user, issue, "escalate_to_cpe")
    errors = FieldErrors()
    note = clean_text(errors, "note", note, label="what the LPC has tried and why it needs CPE IT", required=True)
    errors.raise_if_any()
    if not has_ra_correspondence(issue):
        raise TransitionNotAllowedNow(
            "CPE IT needs the RA correspondence: record the request to the RA, its reply or a call with the RA "
            "before escalating."
        )
    now = timezone.now()
    from_state = issue.state
    issue.escalate_to_cpe()
    clock_for_state(issue, actor=user, now=now)
    _save_transition(issue)
    event = _transition_event(
        issue,
        user=user,
        name="escalate_to_cpe",
        from_state=from_state,
        text=note,
        now=now,
        data={"to": settings.CPE_IT_EMAIL},
    )
    lpc = issue.pharmacy.lpc
    queue_forward(
        issue,
        event=event,
        purpose=MailPurpose.CPE_ESCALATION,
        template="issue_cpe_escalation",
        context={"officer": user, "note": note},
        to=[settings.CPE_IT_EMAIL],
        cc=[user.email] + ([lpc.email] if lpc is not None and lpc.email else []),
        subject=f"LPC escalation: {issue.pharmacy.name} ({issue.pharmacy.ods_code}), {issue.get_kind_display()}",  # type: ignore[attr-defined]
        thread=emails.thread_message_ids(issue),
    )


def _resolve(user: User, issue: Issue, *, note: str = "", fixed_by_step: str = "") -> None:
    _check(user, issue, "resolve")
    errors = FieldErrors()
    note = clean_text(errors, "note", note, label="how it was resolved", required=True)
    step = clean_choice(errors, "fixed_by_step", fixed_by_step, Step.values, label="the step that fixed it")
    errors.raise_if_any()
    now = timezone.now()
    from_state = issue.state
    issue.resolve()
    issue.resolution_note, issue.fixed_by_step, issue.resolved_at = note, step, now
    clear_clock(issue, actor=user, now=now)
    _save_transition(issue, "resolved_from_state", "resolution_note", "fixed_by_step", "resolved_at")
    _transition_event(
        issue, user=user, name="resolve", from_state=from_state, text=note, now=now, data={"fixed_by_step": step}
    )


def _withdraw(user: User, issue: Issue, *, reason: str = "") -> None:
    _check(user, issue, "withdraw")
    errors = FieldErrors()
    reason = clean_text(errors, "reason", reason, label="why the issue is withdrawn", required=True)
    errors.raise_if_any()
    now = timezone.now()
    from_state = issue.state
    issue.withdraw()
    issue.withdrawn_reason = reason
    clear_clock(issue, actor=user, now=now)
    _save_transition(issue, "withdrawn_reason")
    _transition_event(issue, user=user, name="withdraw", from_state=from_state, text=reason, now=now)


def _reopen(user: User, issue: Issue, *, reason: str = "") -> None:
    _check(user, issue, "reopen")
    errors = FieldErrors()
    reason = clean_text(errors, "reason", reason, label="why the issue is reopened", required=True)
    errors.raise_if_any()
    deadline = reopen_deadline(issue)
    if deadline is None or timezone.now() > deadline:
        raise TransitionNotAllowedNow(
            f"An issue can only be reopened within {settings.REOPEN_WITHIN_DAYS} days of being resolved. "
            "Report a new problem instead."
        )
    if issue.resolved_from_state not in State.values:
        raise TransitionNotAllowedNow("This issue does not record the step it was resolved from; report it again.")
    now = timezone.now()
    from_state = issue.state
    issue.reopen()
    issue.resolved_from_state, issue.resolution_note, issue.fixed_by_step, issue.resolved_at = "", "", "", None
    clock_for_state(issue, actor=user, now=now)
    _save_transition(issue, "resolved_from_state", "resolution_note", "fixed_by_step", "resolved_at")
    _transition_event(issue, user=user, name="reopen", from_state=from_state, text=reason, now=now)


_HANDLERS: dict[str, Callable[..., None]] = {
    "try_cis": _try_cis,
    "contact_ra": _contact_ra,
    "cc_lpc": _cc_lpc,
    "escalate_to_cpe": _escalate_to_cpe,
    "resolve": _resolve,
    "withdraw": _withdraw,
    "reopen": _reopen,
}
