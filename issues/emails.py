"""Mail about issues: the outbox (DESIGN.md, "Email").

- `queue_outbound_email` writes an `OutboundEmail` row inside the caller's transaction and enqueues
  its delivery with `transaction.on_commit`; nothing is sent inside a request.
- `outbound_email_send` (called by the Celery task) claims a row with a conditional UPDATE
  (queued -> sending), renders it if it was queued with a template rather than bodies (the nudge
  sweep's rows: the context comes from the function registered for the row's purpose with
  `register_template_context`), sends it through Django's mail API (any django-anymail
  backend), and marks it sent (storing the bodies sent), or puts it back to queued for a retry,
  or marks it failed.
- `outbound_emails_requeue_stuck` re-enqueues rows left queued, and rows left in sending by a
  worker that died.
- `issue_ra_request_preview` prepares the request to the RA that the pharmacy sends from the app
  or from its own mailbox.

Every message about an issue carries the reference in its subject ("[SC-000123]"), a stored
Message-ID, and a Reply-To of the issue's tracking address. Mail the app writes of its own accord
(reminders, digests, notices) says so in an `Auto-Submitted: auto-generated` header (RFC 3834), so
that out-of-office replies leave it alone; mail sent on a person's behalf (the request to the RA,
the forward to the LPC, the escalation to CPE IT) does not.
"""

from __future__ import annotations

import enum
import logging
import secrets
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from issues.models import EventKind, Issue, IssueEvent, OutboundEmail
from smartcard_route.celery import app

logger = logging.getLogger(__name__)

Status = OutboundEmail.Status
Purpose = OutboundEmail.Purpose

# Mail the app writes of its own accord, not on a person's behalf: sent with Auto-Submitted.
AUTOMATIC_PURPOSES = frozenset({Purpose.NUDGE, Purpose.DIGEST, Purpose.NOTIFICATION})

# Rows queued with a template instead of bodies are rendered when sent, with the context that the
# function registered for their purpose makes of the row (issues.nudges.mail registers the nudges').
TEMPLATE_CONTEXTS: dict[str, Callable[[OutboundEmail], dict[str, Any]]] = {}

# The task that delivers one row (issues.tasks), enqueued by its name: the tasks call the outbox,
# never the other way round.
SEND_OUTBOUND_EMAIL_TASK = "issues.tasks.send_outbound_email"


def register_template_context(purpose: str, context: Callable[[OutboundEmail], dict[str, Any]]) -> None:
    """Render rows of this purpose queued with a template with `context(row)` when they are sent."""
    TEMPLATE_CONTEXTS[purpose] = context


# Errors that no retry will cure: the addresses themselves are refused.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    AnymailRecipientsRefused,
    AnymailInvalidAddress,
    smtplib.SMTPRecipientsRefused,
    BadHeaderError,
)


def outbox_max_attempts() -> int:
    return int(getattr(settings, "OUTBOX_MAX_ATTEMPTS", 6))


def outbox_retry_delay(attempts: int) -> float:
    """Seconds to wait before the next try after `attempts` failed tries: exponential, capped."""
    base = float(getattr(settings, "OUTBOX_RETRY_BASE_SECONDS", 30))
    cap = float(getattr(settings, "OUTBOX_RETRY_MAX_SECONDS", 3600))
    return float(min(cap, base * (2 ** max(attempts - 1, 0))))


# Addresses and headers ------------------------------------------------------------------------


def tracking_address(issue: Issue) -> str:
    """The issue's own address: mail to it lands on the issue's timeline (inbound mail)."""
    return tracking_address_for(issue.tracking_token)


def tracking_address_for(token: str) -> str:
    """The tracking address of the issue whose tracking token this is."""
    return f"{settings.INBOUND_LOCAL_PART}+{token}@{settings.INBOUND_DOMAIN}"


def issue_url(issue: Issue) -> str:
    """The issue page's full address, for links in mail."""
    try:
        path = reverse("issues:detail", kwargs={"reference": issue.reference})
    except NoReverseMatch:
        path = f"/issues/{issue.reference}/"
    return f"{settings.SITE_URL}{path}"


def new_message_id() -> str:
    """'<microseconds since 1970 in hex.32 random hex digits@INBOUND_DOMAIN>'. Time first: new ids
    sort after older ones, so the unique index on stored Message-IDs grows at its end instead of
    taking each insert on a random page."""
    return f"<{time.time_ns() // 1000:x}.{secrets.token_hex(16)}@{settings.INBOUND_DOMAIN}>"


def subject_for(issue: Issue, text: str) -> str:
    """ "[SC-000123] text" on one line (a line break in a header would be refused when sending)."""
    return " ".join(f"[{issue.reference}] {text}".split())[:300]


def thread_message_ids(issue: Issue) -> list[str]:
    """Message-IDs of the issue's RA correspondence, oldest first, for In-Reply-To/References.

    Our own outbound rows, plus inbound mail recorded as EMAIL_IN events carrying
    `data["message_id"]`.
    """
    ids: list[tuple[datetime, str]] = [
        (row.created_at, row.message_id)
        for row in OutboundEmail.objects.filter(issue=issue).only("created_at", "message_id")
    ]
    for event in IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN).only("created_at", "data"):
        message_id = (event.data or {}).get("message_id")
        if message_id:
            ids.append((event.created_at, str(message_id)))
    ids.sort()
    seen: list[str] = []
    for _, message_id in ids:
        if message_id not in seen:
            seen.append(message_id)
    return seen


# Writing rows ---------------------------------------------------------------------------------


def render_bodies(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """templates/emails/<template>.txt and .html rendered with the Jinja2 backend."""
    text = render_to_string(f"emails/{template}.txt", context).strip() + "\n"
    html = render_to_string(f"emails/{template}.html", context)
    return text, html


def queue_outbound_email(
    *,
    purpose: str,
    to: list[str],
    subject: str,
    body_text: str,
    body_html: str = "",
    issue: Issue | None = None,
    event: IssueEvent | None = None,
    cc: list[str] | None = None,
    reply_to: str | None = None,
    in_reply_to: str = "",
    references: list[str] | None = None,
) -> OutboundEmail:
    """Write one outbox row (call inside the transaction that writes its event) and enqueue its
    delivery after commit. Reply-To defaults to the issue's tracking address."""
    if reply_to is None:
        reply_to = tracking_address(issue) if issue is not None else ""
    recipients = [address for address in dict.fromkeys(to) if address]
    if not recipients:
        raise ValueError("An email needs at least one recipient.")
    email = OutboundEmail.objects.create(
        issue=issue,
        event=event,
        purpose=purpose,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        cc=[address for address in dict.fromkeys(cc or []) if address and address not in recipients],
        reply_to=reply_to,
        subject=subject[:300],
        body_text=body_text,
        body_html=body_html,
        message_id=new_message_id(),
        in_reply_to=in_reply_to,
        references=" ".join(references or []),
        status=Status.QUEUED,
        status_changed_at=timezone.now(),
    )
    enqueue_after_commit(email.pk)
    return email


def enqueue_after_commit(email_id: int) -> None:
    def enqueue() -> None:
        try:
            app.send_task(SEND_OUTBOUND_EMAIL_TASK, args=(email_id,))
        except Exception:
            # The broker is down: the row stays queued and the requeue sweep picks it up.
            logger.exception("Could not enqueue outbound email %s; the requeue sweep will retry.", email_id)

    transaction.on_commit(enqueue)


# Sending --------------------------------------------------------------------------------------


class SendOutcome(enum.Enum):
    SENT = "sent"
    NOT_CLAIMED = "not_claimed"  # someone else has it, or it is already done
    RETRY = "retry"  # put back to queued; try again later
    FAILED = "failed"  # given up


@dataclass(frozen=True)
class SendResult:
    outcome: SendOutcome
    attempts: int = 0
    error: str = ""


def outbound_email_bodies(email: OutboundEmail) -> tuple[str, str]:
    """The row's text and HTML bodies: as stored, or rendered now from its template."""
    if not email.template:
        return email.body_text, email.body_html
    return render_bodies(email.template, TEMPLATE_CONTEXTS[email.purpose](email))


def build_message(email: OutboundEmail, *, bodies: tuple[str, str] | None = None) -> EmailMultiAlternatives:
    body_text, body_html = bodies if bodies is not None else outbound_email_bodies(email)
    headers = {"Message-ID": email.message_id}
    if email.in_reply_to:
        headers["In-Reply-To"] = email.in_reply_to
    if email.references:
        headers["References"] = email.references
    if email.purpose in AUTOMATIC_PURPOSES:
        headers["Auto-Submitted"] = "auto-generated"
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=body_text,
        from_email=email.from_email,
        to=list(email.to),
        cc=list(email.cc or []),
        reply_to=[email.reply_to] if email.reply_to else None,
        headers=headers,
    )
    if body_html:
        message.attach_alternative(body_html, "text/html")
    return message


def _claim(email_id: int) -> bool:
    """Compare-and-set queued -> sending, committed at once: 0 rows means someone else has it."""
    now = timezone.now()
    with transaction.atomic():
        claimed = OutboundEmail.objects.filter(pk=email_id, status=Status.QUEUED).update(
            status=Status.SENDING, claimed_at=now, status_changed_at=now, attempts=F("attempts") + 1
        )
    return claimed == 1


def outbound_email_send(*, email_id: int) -> SendResult:
    """Deliver one outbox row at most once.

    1. Claim it (queued -> sending, attempts + 1) in its own committed UPDATE; if another worker
       has it, or it is already sent or failed, return NOT_CLAIMED and do nothing.
    2. Render it if it was queued with a template, and send it through Django's mail API, outside
       any transaction.
    3. Mark it sent with the ESP's message id (when the backend reports one), storing the bodies
       it was sent with, and write an EMAIL_OUT event; or, on an error (rendering included), put
       it back to queued with the error (RETRY) until OUTBOX_MAX_ATTEMPTS tries, then mark it
       failed and write a DELIVERY event.

    Call it outside any transaction (as the task does), so the claim is committed before the
    message leaves and a concurrent worker sees it.
    """
    if not _claim(email_id):
        return SendResult(SendOutcome.NOT_CLAIMED)
    email = OutboundEmail.objects.get(pk=email_id)
    try:
        body_text, body_html = outbound_email_bodies(email)
        message = build_message(email, bodies=(body_text, body_html))
        message.send(fail_silently=False)
    except Exception as exc:
        return _record_failure(email, exc)
    esp_message_id, esp_status = _esp_result(message)
    now = timezone.now()
    with transaction.atomic():
        OutboundEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
            status=Status.SENT,
            sent_at=now,
            status_changed_at=now,
            esp_message_id=esp_message_id[:254],
            last_error="",
            # A row queued with a template keeps the bodies it was sent with.
            **({"body_text": body_text, "body_html": body_html} if email.template else {}),
        )
        if email.issue_id is not None:
            IssueEvent.objects.create(
                issue_id=email.issue_id,
                kind=EventKind.EMAIL_OUT,
                text=f"{email.get_purpose_display()} sent to {', '.join([*email.to, *email.cc])}.",
                data={
                    "email_id": email.pk,
                    "message_id": email.message_id,
                    "esp_message_id": esp_message_id,
                    "esp_status": esp_status,
                    "purpose": email.purpose,
                    "to": email.to,
                    "cc": email.cc,
                    "subject": email.subject,
                },
                created_at=now,
            )
    return SendResult(SendOutcome.SENT, attempts=email.attempts)


def _esp_result(message: EmailMultiAlternatives) -> tuple[str, list[str]]:
    """The provider's message id(s) and status(es) that django-anymail backends record on the
    message (`message.anymail_status`); empty for Django's own backends."""
    status = getattr(message, "anymail_status", None)
    if status is None:
        return "", []
    message_id = status.message_id
    if isinstance(message_id, set):
        message_id = " ".join(sorted(str(item) for item in message_id))
    statuses = sorted(str(item) for item in (status.status or []))
    return ("" if message_id is None else str(message_id)), statuses


def _record_failure(email: OutboundEmail, exc: Exception) -> SendResult:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    permanent = isinstance(exc, PERMANENT_ERRORS)
    give_up = permanent or email.attempts >= outbox_max_attempts()
    now = timezone.now()
    logger.warning("Outbound email %s attempt %s failed: %s", email.pk, email.attempts, error)
    with transaction.atomic():
        if give_up:
            OutboundEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
                status=Status.FAILED, last_error=error, status_changed_at=now
            )
            if email.issue_id is not None:
                IssueEvent.objects.create(
                    issue_id=email.issue_id,
                    kind=EventKind.DELIVERY,
                    text=(
                        f"{email.get_purpose_display()} to {', '.join(email.to)} could not be sent "
                        f"after {email.attempts} tries: {error}"
                    ),
                    data={"email_id": email.pk, "status": Status.FAILED, "error": error},
                    created_at=now,
                )
        else:
            OutboundEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
                status=Status.QUEUED, last_error=error, status_changed_at=now
            )
    if give_up:
        return SendResult(SendOutcome.FAILED, attempts=email.attempts, error=error)
    return SendResult(SendOutcome.RETRY, attempts=email.attempts, error=error)


def outbound_emails_requeue_stuck(*, now: datetime | None = None) -> list[int]:
    """Rows queued for longer than OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES (their task was lost),
    and rows in sending for longer than OUTBOX_REQUEUE_SENDING_AFTER_MINUTES (their worker died),
    go back to queued and are enqueued again. Returns the ids enqueued.

    A worker that died after the provider accepted the message but before it was marked sent
    leaves a row that is sent again: delivery is at least once in that one case, and exactly once
    otherwise.
    """
    now = now or timezone.now()
    queued_before = now - timedelta(minutes=float(getattr(settings, "OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES", 10)))
    sending_before = now - timedelta(minutes=float(getattr(settings, "OUTBOX_REQUEUE_SENDING_AFTER_MINUTES", 30)))
    with transaction.atomic():
        stuck_sending = list(
            OutboundEmail.objects.filter(status=Status.SENDING, claimed_at__lt=sending_before).values_list(
                "pk", flat=True
            )
        )
        for email_id in stuck_sending:
            OutboundEmail.objects.filter(pk=email_id, status=Status.SENDING, claimed_at__lt=sending_before).update(
                status=Status.QUEUED,
                status_changed_at=now,
                last_error="The worker sending it stopped; queued again.",
            )
        stale_queued = list(
            OutboundEmail.objects.filter(status=Status.QUEUED)
            .filter(
                Q(status_changed_at__lt=queued_before) | Q(status_changed_at__isnull=True, created_at__lt=queued_before)
            )
            .values_list("pk", flat=True)
        )
        ids = sorted(set(stuck_sending) | set(stale_queued))
        # Touch them so the next sweep does not enqueue them again before this task has run.
        OutboundEmail.objects.filter(pk__in=ids, status=Status.QUEUED).update(status_changed_at=now)
        for email_id in ids:
            enqueue_after_commit(email_id)
    return ids


def outbound_email_requeue(*, email_id: int) -> bool:
    """Put a failed row back in the queue (the admin's "try again"). True when it was failed."""
    now = timezone.now()
    with transaction.atomic():
        updated = OutboundEmail.objects.filter(pk=email_id, status=Status.FAILED).update(
            status=Status.QUEUED, attempts=0, status_changed_at=now
        )
        if updated:
            enqueue_after_commit(email_id)
    return updated == 1


# The request to the RA ------------------------------------------------------------------------


@dataclass(frozen=True)
class RaRequest:
    """The prepared request to the pharmacy's RA, for the app to send or the user to copy."""

    to: str
    cc: list[str]
    subject: str
    body_text: str
    body_html: str
    reply_to: str
    ra_name: str
    mailto_url: str
    missing: list[str] = field(default_factory=list)


def ra_request_context(
    *,
    issue: Issue,
    question: str,
    contact_name: str,
    contact_phone: str,
    smartcard_number: str,
    no_card_yet: bool,
) -> dict[str, Any]:
    pharmacy = issue.pharmacy
    return {
        "issue": issue,
        "pharmacy": pharmacy,
        "ra": pharmacy.ra,
        "question": question.strip(),
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "smartcard_number": format_smartcard_number(smartcard_number) if smartcard_number else "",
        "no_card_yet": no_card_yet,
        "tracking_address": tracking_address(issue),
        "site_url": settings.SITE_URL,
        "issue_url": issue_url(issue),
    }


def format_smartcard_number(number: str) -> str:
    """'123456789012' as printed on the card: '1234 5678 9012'."""
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def default_ra_question(issue: Issue) -> str:
    text = f"{issue.get_kind_display()}: {issue.summary}"
    if issue.details:
        text += f"\n\n{issue.details}"
    if issue.tried_in_pharmacy:
        text += f"\n\nWhat we have already tried: {issue.tried_in_pharmacy}"
    return text


def ra_request_subject(issue: Issue) -> str:
    return subject_for(issue, f"Smartcard help for {issue.pharmacy.name} ({issue.pharmacy.ods_code}): {issue.summary}")


def issue_ra_request_preview(
    *,
    issue: Issue,
    question: str = "",
    contact_name: str | None = None,
    contact_phone: str | None = None,
    smartcard_number: str | None = None,
    no_card_yet: bool | None = None,
) -> RaRequest:
    """The request to the pharmacy's RA as it would be sent: to the RA, Cc the tracking address,
    subject with the reference, a body with name, phone, ODS code and Smartcard number (or "no card
    yet"), and a mailto: URL for the user's own mail client. Values not given come from the issue.
    `missing` lists what the directory lacks (no RA, no RA email) so the page can say so."""
    ra = issue.pharmacy.ra
    missing: list[str] = []
    if ra is None or not ra.active:
        missing.append("ra")
    elif not ra.email:
        missing.append("ra_email")
    context = ra_request_context(
        issue=issue,
        question=question or default_ra_question(issue),
        contact_name=issue.contact_name if contact_name is None else contact_name,
        contact_phone=issue.contact_phone if contact_phone is None else contact_phone,
        smartcard_number=issue.smartcard_number if smartcard_number is None else smartcard_number,
        no_card_yet=issue.no_card_yet if no_card_yet is None else no_card_yet,
    )
    body_text, body_html = render_bodies("issue_ra_request", context)
    subject = ra_request_subject(issue)
    to = ra.email if ra is not None and not missing else ""
    cc = [tracking_address(issue)]
    mailto = (
        "mailto:"
        + quote(to, safe="@")
        + "?"
        + "&".join(
            f"{key}={quote(value, safe='')}"
            for key, value in (("cc", ",".join(cc)), ("subject", subject), ("body", body_text))
        )
    )
    return RaRequest(
        to=to,
        cc=cc,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        reply_to=tracking_address(issue),
        ra_name=ra.name if ra is not None else "",
        mailto_url=mailto,
        missing=missing,
    )


def correspondence_for(issue: Issue) -> list[IssueEvent]:
    """The RA correspondence on the issue, oldest first: requests, replies, calls, mail in and out."""
    kinds = [
        EventKind.EMAIL_OUT,
        EventKind.EMAIL_IN,
        EventKind.RA_REPLY,
        EventKind.REQUEST_CONFIRMED,
        EventKind.PHONE_CALL,
    ]
    return list(
        IssueEvent.objects.filter(issue=issue, kind__in=kinds).select_related("actor").order_by("created_at", "id")
    )
