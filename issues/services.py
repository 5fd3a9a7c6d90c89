"""Every write to an issue.

Each service is keyword-only and runs in one transaction. A transition (see `issue_transition`):

1. checks the user's permission for this issue (issues.permissions): IssueActionForbidden;
2. checks the issue's current state allows it: TransitionNotAllowedNow, naming the state;
3. validates its fields: ValidationError({field: [messages]});
4. checks its guard (an RA in the directory, RA correspondence, the reopen window):
   TransitionNotAllowedNow;
5. runs the django-fsm transition and saves with update_fields (optimistic locking on the state);
6. writes the TRANSITION IssueEvent, any outbox rows (sent after commit), and sets or clears the
   clock with a CLOCK event.

Nothing is saved when any step fails. A lost race (someone else changed the state since the issue
was loaded) raises IssueChangedConcurrently, caught outside the atomic block so the whole
transaction is rolled back. After any failure the `issue` object passed in is reloaded from the
database, so callers never hold a half-changed issue.

Text is stored as typed (stripped of surrounding white space); escaping is the templates' job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition, can_proceed

from directory.models import Pharmacy, User
from directory.validators import normalise_phone, normalise_smartcard_number
from issues import emails
from issues.clock import add_working_days
from issues.emails import RaRequest, issue_ra_request_preview
from issues.exceptions import IssueActionForbidden, IssueChangedConcurrently, TransitionNotAllowedNow
from issues.models import Deadline, EventKind, InboundEmail, Issue, IssueEvent, Kind, OutboundEmail, State, Step
from issues.permissions import Roles, permission_error, reopen_deadline, roles_for

__all__ = [
    "TRANSITIONS",
    "TRANSITION_FIELDS",
    "RaRequest",
    "issue_add_note",
    "issue_log_phone_call",
    "issue_log_ra_reply",
    "issue_ra_request_preview",
    "issue_record_ra_response",
    "issue_report",
    "issue_transition",
]

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

MAX_SUMMARY = 200
MAX_NAME = 150
MAX_TEXT = 5000


# Validation -----------------------------------------------------------------------------------


class _Errors:
    """Collects field errors so one ValidationError names every bad field at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def add_validation_error(self, name: str, error: ValidationError) -> None:
        for message in error.messages:
            self.add(name, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _text(errors: _Errors, name: str, value: Any, *, label: str, required: bool, max_length: int = MAX_TEXT) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(name, f"Enter {label} as text.")
        return ""
    text = value.strip()
    if "\x00" in text:
        errors.add(name, f"{label[0].upper()}{label[1:]} contains a character that cannot be stored.")
        return ""
    if required and not text:
        errors.add(name, f"Enter {label}.")
    elif len(text) > max_length:
        errors.add(name, f"{label[0].upper()}{label[1:]} must be {max_length} characters or fewer.")
    return text


def _bool(errors: _Errors, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, ""):
        return False
    errors.add(name, "Choose yes or no.")
    return False


def _phone(errors: _Errors, name: str, value: Any) -> str:
    if not isinstance(value, str):
        errors.add(name, "Enter a phone number.")
        return ""
    try:
        return normalise_phone(value)
    except ValidationError as error:
        errors.add_validation_error(name, error)
        return ""


def _smartcard(errors: _Errors, value: Any, no_card_yet: bool, *, required: bool) -> str:
    """The Smartcard number normalised to 12 digits, or "" with no_card_yet."""
    number = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        errors.add("smartcard_number", "Enter the Smartcard number as text.")
        return ""
    if no_card_yet:
        if number:
            errors.add("smartcard_number", "Enter a Smartcard number or say there is no card yet, not both.")
        return ""
    if not number:
        if required:
            errors.add(
                "smartcard_number",
                "Enter the 12-digit Smartcard number from the front of the card, or say there is no card yet.",
            )
        return ""
    try:
        return normalise_smartcard_number(number)
    except ValidationError as error:
        errors.add_validation_error("smartcard_number", error)
        return ""


def _choice(errors: _Errors, name: str, value: Any, choices: Any, *, label: str) -> str:
    valid = [str(choice) for choice in choices]
    if value in (None, ""):
        errors.add(name, f"Choose {label}.")
        return ""
    if not isinstance(value, str) or value not in valid:
        errors.add(name, f"Choose {label} from the list.")
        return ""
    return value


# Events and the clock -------------------------------------------------------------------------


def _event(
    issue: Issue,
    *,
    kind: str,
    actor: User | None,
    text: str = "",
    from_state: str = "",
    to_state: str = "",
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> IssueEvent:
    return IssueEvent.objects.create(
        issue=issue,
        kind=kind,
        actor=actor,
        text=text,
        from_state=from_state,
        to_state=to_state,
        data=data or {},
        created_at=now or timezone.now(),
    )


WINDOW_LABELS: dict[str, str] = {
    Deadline.RA_REPLY: "RA reply",
    Deadline.LPC_ACTION: "LPC action",
    Deadline.CPE_TRIAGE: "CPE IT triage",
    Deadline.PHARMACY_UPDATE: "Pharmacy update",
}


WAITING_FOR: dict[str, str] = {
    Deadline.RA_REPLY: "the RA's reply",
    Deadline.LPC_ACTION: "the LPC",
    Deadline.CPE_TRIAGE: "CPE IT's triage",
    Deadline.PHARMACY_UPDATE: "the pharmacy's update",
}


def window_days(kind: str, issue: Issue) -> float:
    if kind == Deadline.RA_REPLY:
        return float(settings.WINDOW_RA_REPLY_EMERGENCY_DAYS if issue.is_emergency else settings.WINDOW_RA_REPLY_DAYS)
    windows: dict[str, float] = {
        Deadline.LPC_ACTION: settings.WINDOW_LPC_ACTION_DAYS,
        Deadline.CPE_TRIAGE: settings.WINDOW_CPE_TRIAGE_DAYS,
        Deadline.PHARMACY_UPDATE: settings.WINDOW_PHARMACY_UPDATE_DAYS,
    }
    return float(windows[kind])


def _days_in_words(days: float) -> str:
    if days == 0.5:
        return "half a working day"
    if days == int(days):
        return f"{int(days)} working day{'s' if days != 1 else ''}"
    return f"{days:g} working days"


def _start_clock(issue: Issue, *, kind: str, actor: User | None, now: datetime) -> IssueEvent:
    """Set issue.due_at/due_kind (the caller saves) and write the CLOCK event."""
    days = window_days(kind, issue)
    issue.due_at = add_working_days(now, days)
    issue.due_kind = kind
    issue.reminders_sent = 0
    when = timezone.localtime(issue.due_at).strftime("%A %-d %B %Y, %H:%M")
    return _event(
        issue,
        kind=EventKind.CLOCK,
        actor=actor,
        text=f"{WINDOW_LABELS[kind]} due by {when} ({_days_in_words(days)}).",
        data={"due_at": issue.due_at.isoformat(), "due_kind": kind, "window_days": days},
        now=now,
    )


def _clear_clock(issue: Issue, *, actor: User | None, now: datetime) -> IssueEvent | None:
    if issue.due_at is None and not issue.due_kind:
        return None
    previous = issue.due_kind
    issue.due_at = None
    issue.due_kind = Deadline.NONE
    issue.reminders_sent = 0
    waited_for = WAITING_FOR.get(previous, "anyone")
    return _event(
        issue,
        kind=EventKind.CLOCK,
        actor=actor,
        text=f"No longer waiting for {waited_for}.",
        data={"due_at": None, "due_kind": "", "cleared": previous},
        now=now,
    )


CLOCK_FIELDS = ["due_at", "due_kind", "reminders_sent"]

# The window each state starts on entry (reopen re-enters a state the same way).
STATE_WINDOWS: dict[str, str] = {
    State.RA_CONTACTED: Deadline.RA_REPLY,
    State.LPC_CC: Deadline.LPC_ACTION,
    State.ESCALATED: Deadline.CPE_TRIAGE,
}


def _clock_for_state(issue: Issue, *, actor: User | None, now: datetime) -> None:
    window = STATE_WINDOWS.get(issue.state)
    if window:
        _start_clock(issue, kind=window, actor=actor, now=now)
    else:
        _clear_clock(issue, actor=actor, now=now)


# Reporting ------------------------------------------------------------------------------------


def issue_report(
    *,
    user: User,
    pharmacy: Pharmacy,
    kind: str,
    summary: str,
    details: str = "",
    tried_in_pharmacy: str = "",
    smartcard_number: str = "",
    no_card_yet: bool = False,
    contact_name: str,
    contact_phone: str,
    is_emergency: bool = False,
) -> Issue:
    """Report a new issue for a pharmacy the user works at or owns.

    Validates every field (the Smartcard number is optional at this point, and normalised to 12
    digits when given), creates the issue in `in_pharmacy` and writes the REPORTED event.
    """
    is_member = (
        user.is_authenticated
        and user.is_active
        and (pharmacy.staff.filter(pk=user.pk).exists() or pharmacy.owner.members.filter(pk=user.pk).exists())
    )
    if not is_member:
        raise IssueActionForbidden("Only the pharmacy's staff or owner can report a problem for it.")
    errors = _Errors()
    kind = _choice(errors, "kind", kind, Kind.values, label="the kind of problem")
    summary = _text(errors, "summary", summary, label="a short summary", required=True, max_length=MAX_SUMMARY)
    details = _text(errors, "details", details, label="the details", required=False)
    tried = _text(errors, "tried_in_pharmacy", tried_in_pharmacy, label="what was already tried", required=False)
    no_card = _bool(errors, "no_card_yet", no_card_yet)
    number = _smartcard(errors, smartcard_number, no_card, required=False)
    name = _text(errors, "contact_name", contact_name, label="a contact name", required=True, max_length=MAX_NAME)
    phone = _phone(errors, "contact_phone", contact_phone)
    emergency = _bool(errors, "is_emergency", is_emergency)
    errors.raise_if_any()

    now = timezone.now()
    with transaction.atomic():
        issue = Issue.objects.create(
            pharmacy=pharmacy,
            reporter=user,
            kind=kind,
            summary=summary,
            details=details,
            tried_in_pharmacy=tried,
            smartcard_number=number,
            no_card_yet=no_card,
            contact_name=name,
            contact_phone=phone,
            is_emergency=emergency,
            created_at=now,
        )
        _event(
            issue,
            kind=EventKind.REPORTED,
            actor=user,
            to_state=issue.state,
            text=summary,
            data={"kind": kind, "is_emergency": emergency},
            now=now,
        )
    return issue


# Transitions ----------------------------------------------------------------------------------


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
    return _event(
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
    errors = _Errors()
    note = _text(errors, "note", note, label="a note", required=False)
    errors.raise_if_any()
    now = timezone.now()
    from_state = issue.state
    issue.try_cis()
    _clear_clock(issue, actor=user, now=now)
    _save_transition(issue)
    _transition_event(issue, user=user, name="try_cis", from_state=from_state, text=note, now=now)


def _lpc_recipients(issue: Issue) -> list[str]:
    lpc = issue.pharmacy.lpc
    if lpc is None:
        return []
    addresses = [lpc.email] if lpc.email else []
    addresses += [officer.email for officer in lpc.officers.filter(is_active=True).order_by("pk")]
    return list(dict.fromkeys(address for address in addresses if address))


def _require_lpc(issue: Issue) -> list[str]:
    recipients = _lpc_recipients(issue)
    if not recipients:
        raise TransitionNotAllowedNow(
            "The directory has no LPC (or no LPC email address) for this pharmacy, so the LPC cannot be "
            "copied in. Report the missing details to the directory manager."
        )
    return recipients


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
    errors = _Errors()
    cc = _bool(errors, "cc_lpc", cc_lpc)
    errors.raise_if_any()
    _check(user, issue, "contact_ra", cc_lpc=cc)
    question = _text(errors, "question", question, label="your question for the RA", required=True)
    name = _text(
        errors,
        "contact_name",
        issue.contact_name if contact_name is None else contact_name,
        label="a contact name",
        required=True,
        max_length=MAX_NAME,
    )
    phone = _phone(errors, "contact_phone", issue.contact_phone if contact_phone is None else contact_phone)
    no_card = _bool(errors, "no_card_yet", issue.no_card_yet if no_card_yet is None else no_card_yet)
    number = _smartcard(
        errors, issue.smartcard_number if smartcard_number is None else smartcard_number, no_card, required=True
    )
    via = _choice(errors, "send_via", send_via or SEND_VIA_APP, SEND_VIA_CHOICES, label="how the request is sent")
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
    lpc_recipients = _require_lpc(issue) if cc else []

    now = timezone.now()
    from_state = issue.state
    issue.contact_name, issue.contact_phone = name, phone
    issue.smartcard_number, issue.no_card_yet = number, no_card
    issue.contact_ra(cc_lpc=cc)
    if cc and issue.lpc_involved_at is None:
        issue.lpc_involved_at = now
    _clock_for_state(issue, actor=user, now=now)
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
            purpose=OutboundEmail.Purpose.RA_REQUEST,
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
        _event(
            issue,
            kind=EventKind.REQUEST_CONFIRMED,
            actor=user,
            text=preview.body_text,
            data={"to": ra.email, "cc": preview.cc, "subject": preview.subject},
            now=now,
        )
        thread = emails.thread_message_ids(issue)
    if cc:
        _queue_lpc_forward(issue, event=event, user=user, note="", recipients=lpc_recipients, thread=thread)


def _correspondence_context(issue: Issue) -> list[dict[str, Any]]:
    """The RA correspondence on the issue as items for the forward templates, oldest first."""
    items: list[dict[str, Any]] = []
    requests = OutboundEmail.objects.filter(issue=issue, purpose=OutboundEmail.Purpose.RA_REQUEST)
    for row in requests:
        items.append(
            {
                "when": row.created_at,
                "title": f"Request to the RA, sent from Smartcard Route to {', '.join(row.to)}",
                "subject": row.subject,
                "text": row.body_text,
            }
        )
    events = emails.correspondence_for(issue)
    inbound_ids = [event.data.get("inbound_email_id") for event in events if event.kind == EventKind.EMAIL_IN]
    inbound_bodies = dict(
        InboundEmail.objects.filter(pk__in=[pk for pk in inbound_ids if pk]).values_list("pk", "body_text")
    )
    for event in events:
        data = event.data or {}
        if event.kind == EventKind.EMAIL_OUT:
            continue  # delivery receipts of the rows above and of forwards
        if event.kind == EventKind.PHONE_CALL and not data.get("with_ra"):
            continue
        if event.kind == EventKind.EMAIL_IN and data.get("automatic"):
            continue  # auto-replies are not correspondence
        who = event.actor.full_name if event.actor else str(data.get("from", ""))
        text = event.text
        inbound_id = data.get("inbound_email_id")
        body = inbound_bodies.get(int(inbound_id)) if inbound_id else None
        if body:
            text = f"{event.text}\n\n{body.strip()}"
        items.append(
            {
                "when": event.created_at,
                "title": f"{event.get_kind_display()}" + (f" ({who})" if who else ""),  # type: ignore[attr-defined]
                "subject": str(data.get("subject", "")),
                "text": text,
            }
        )
    items.sort(key=lambda item: item["when"])
    return items


def _has_ra_correspondence(issue: Issue) -> bool:
    if OutboundEmail.objects.filter(issue=issue, purpose=OutboundEmail.Purpose.RA_REQUEST).exists():
        return True
    events = IssueEvent.objects.filter(issue=issue)
    if events.filter(kind__in=[EventKind.REQUEST_CONFIRMED, EventKind.EMAIL_IN, EventKind.RA_REPLY]).exists():
        return True
    return events.filter(kind=EventKind.PHONE_CALL, data__with_ra=True).exists()


def _queue_lpc_forward(
    issue: Issue, *, event: IssueEvent, user: User, note: str, recipients: list[str], thread: list[str]
) -> OutboundEmail:
    text, html = emails.render_bodies(
        "issue_lpc_cc",
        {
            "issue": issue,
            "pharmacy": issue.pharmacy,
            "lpc": issue.pharmacy.lpc,
            "owner": user,
            "note": note,
            "correspondence": _correspondence_context(issue),
            "tracking_address": emails.tracking_address(issue),
            "site_url": settings.SITE_URL,
            "issue_url": emails.issue_url(issue),
        },
    )
    return emails.queue_outbound_email(
        purpose=OutboundEmail.Purpose.LPC_CC,
        issue=issue,
        event=event,
        to=recipients,
        cc=[user.email],
        subject=emails.subject_for(
            issue, f"{issue.pharmacy.name} ({issue.pharmacy.ods_code}) asks the LPC for help: {issue.summary}"
        ),
        body_text=text,
        body_html=html,
        in_reply_to=thread[-1] if thread else "",
        references=thread,
    )


def _cc_lpc(user: User, issue: Issue, *, note: str = "") -> None:
    _check(user, issue, "cc_lpc")
    errors = _Errors()
    note = _text(errors, "note", note, label="a note for the LPC", required=False)
    errors.raise_if_any()
    recipients = _require_lpc(issue)
    now = timezone.now()
    from_state = issue.state
    issue.cc_lpc()
    if issue.lpc_involved_at is None:
        issue.lpc_involved_at = now
    _clock_for_state(issue, actor=user, now=now)
    _save_transition(issue, "lpc_involved_at")
    event = _transition_event(
        issue, user=user, name="cc_lpc", from_state=from_state, text=note, now=now, data={"to": recipients}
    )
    _queue_lpc_forward(
        issue, event=event, user=user, note=note, recipients=recipients, thread=emails.thread_message_ids(issue)
    )


def _escalate_to_cpe(user: User, issue: Issue, *, note: str = "") -> None:
    _check(user, issue, "escalate_to_cpe")
    errors = _Errors()
    note = _text(errors, "note", note, label="what the LPC has tried and why it needs CPE IT", required=True)
    errors.raise_if_any()
    if not _has_ra_correspondence(issue):
        raise TransitionNotAllowedNow(
            "CPE IT needs the RA correspondence: record the request to the RA, its reply or a call with the RA "
            "before escalating."
        )
    now = timezone.now()
    from_state = issue.state
    issue.escalate_to_cpe()
    _clock_for_state(issue, actor=user, now=now)
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
    text, html = emails.render_bodies(
        "issue_cpe_escalation",
        {
            "issue": issue,
            "pharmacy": issue.pharmacy,
            "lpc": lpc,
            "officer": user,
            "note": note,
            "correspondence": _correspondence_context(issue),
            "tracking_address": emails.tracking_address(issue),
            "site_url": settings.SITE_URL,
            "issue_url": emails.issue_url(issue),
        },
    )
    thread = emails.thread_message_ids(issue)
    emails.queue_outbound_email(
        purpose=OutboundEmail.Purpose.CPE_ESCALATION,
        issue=issue,
        event=event,
        to=[settings.CPE_IT_EMAIL],
        cc=[user.email] + ([lpc.email] if lpc is not None and lpc.email else []),
        subject=emails.subject_for(
            issue,
            f"LPC escalation: {issue.pharmacy.name} ({issue.pharmacy.ods_code}), {issue.get_kind_display()}",  # type: ignore[attr-defined]
        ),
        body_text=text,
        body_html=html,
        in_reply_to=thread[-1] if thread else "",
        references=thread,
    )


def _resolve(user: User, issue: Issue, *, note: str = "", fixed_by_step: str = "") -> None:
    _check(user, issue, "resolve")
    errors = _Errors()
    note = _text(errors, "note", note, label="how it was resolved", required=True)
    step = _choice(errors, "fixed_by_step", fixed_by_step, Step.values, label="the step that fixed it")
    errors.raise_if_any()
    now = timezone.now()
    from_state = issue.state
    issue.resolve()
    issue.resolution_note, issue.fixed_by_step, issue.resolved_at = note, step, now
    _clear_clock(issue, actor=user, now=now)
    _save_transition(issue, "resolved_from_state", "resolution_note", "fixed_by_step", "resolved_at")
    _transition_event(
        issue, user=user, name="resolve", from_state=from_state, text=note, now=now, data={"fixed_by_step": step}
    )


def _withdraw(user: User, issue: Issue, *, reason: str = "") -> None:
    _check(user, issue, "withdraw")
    errors = _Errors()
    reason = _text(errors, "reason", reason, label="why the issue is withdrawn", required=True)
    errors.raise_if_any()
    now = timezone.now()
    from_state = issue.state
    issue.withdraw()
    issue.withdrawn_reason = reason
    _clear_clock(issue, actor=user, now=now)
    _save_transition(issue, "withdrawn_reason")
    _transition_event(issue, user=user, name="withdraw", from_state=from_state, text=reason, now=now)


def _reopen(user: User, issue: Issue, *, reason: str = "") -> None:
    _check(user, issue, "reopen")
    errors = _Errors()
    reason = _text(errors, "reason", reason, label="why the issue is reopened", required=True)
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
    _clock_for_state(issue, actor=user, now=now)
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


# Notes, calls and replies ---------------------------------------------------------------------


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
    errors = _Errors()
    text = _text(errors, "text", text, label="the note", required=True)
    errors.raise_if_any()
    with transaction.atomic():
        return _event(issue, kind=EventKind.NOTE, actor=user, text=text)


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
    _clear_clock(fresh, actor=actor, now=now)
    event = _start_clock(fresh, kind=Deadline.PHARMACY_UPDATE, actor=actor, now=now)
    event.data = {**event.data, "after": source}
    event.save(update_fields=["data"])
    Issue.objects.filter(pk=fresh.pk).update(
        due_at=fresh.due_at, due_kind=fresh.due_kind, reminders_sent=fresh.reminders_sent, updated_at=now
    )
    issue.due_at, issue.due_kind, issue.reminders_sent = fresh.due_at, fresh.due_kind, fresh.reminders_sent
    return event


def issue_log_phone_call(*, user: User, issue: Issue, text: str, with_ra: bool) -> IssueEvent:
    """Record a phone call. A call with the RA counts as the RA's reply (DESIGN.md: "An RA reply
    (inbound email or a logged reply or call) stops the RA window"), so it stops the RA window and
    starts the pharmacy-update window, like `issue_log_ra_reply`."""
    _require_any_role(user, issue)
    errors = _Errors()
    text = _text(errors, "text", text, label="what was said on the call", required=True)
    ra_call = _bool(errors, "with_ra", with_ra)
    errors.raise_if_any()
    now = timezone.now()
    with transaction.atomic():
        event = _event(issue, kind=EventKind.PHONE_CALL, actor=user, text=text, data={"with_ra": ra_call}, now=now)
        if ra_call:
            issue_record_ra_response(issue=issue, actor=user, source="phone_call", now=now)
    return event


def issue_log_ra_reply(*, user: User, issue: Issue, text: str) -> IssueEvent:
    """Record the RA's reply (received outside Smartcard Route, e.g. in someone's own mailbox).
    Stops the RA window and starts the pharmacy-update window."""
    _require_any_role(user, issue)
    errors = _Errors()
    text = _text(errors, "text", text, label="what the RA said", required=True)
    errors.raise_if_any()
    now = timezone.now()
    with transaction.atomic():
        event = _event(issue, kind=EventKind.RA_REPLY, actor=user, text=text, now=now)
        issue_record_ra_response(issue=issue, actor=user, source="ra_reply", now=now)
    return event
