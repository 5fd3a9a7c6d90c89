"""The outbox (DESIGN.md, "Email"): nothing is sent inside a request.

- `outbound_email_queue` writes an `OutboundEmail` row inside the caller's transaction and enqueues
  its delivery with `transaction.on_commit`.
- `outbound_email_send` (called by the Celery task) claims a row with a conditional UPDATE
  (queued -> sending), renders it if it was queued with a template rather than bodies
  (`rendering.register_template_context`), sends it through Django's mail API (any django-anymail
  backend), and marks it sent (storing the bodies sent), or puts it back to queued for a retry,
  or marks it failed.
- `outbound_emails_requeue_stuck` re-enqueues rows left queued, and rows left in sending by a
  worker that died; `outbound_email_requeue` puts a failed row back in the queue.

Tasks are enqueued by name (`SEND_TASK`, `ENQUEUE_TASK`): the tasks module imports this one, never
the other way round.
"""

from __future__ import annotations

import enum
import logging
import secrets
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from smartcard_route.celery import app
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.rendering import template_bodies
from smartcard_route.mail.signals import notify, outbound_email_failed, outbound_email_sent

logger = logging.getLogger(__name__)

Status = OutboundEmail.Status

SEND_TASK = "smartcard_route.mail.tasks.send_outbound_email"
ENQUEUE_TASK = "smartcard_route.mail.tasks.enqueue_outbound_emails"

# Errors that no retry will cure: the addresses themselves are refused.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    AnymailRecipientsRefused,
    AnymailInvalidAddress,
    smtplib.SMTPRecipientsRefused,
    BadHeaderError,
)


def outbox_max_attempts() -> int:
    return int(settings.OUTBOX_MAX_ATTEMPTS)


def outbox_retry_delay(attempts: int) -> float:
    """Seconds to wait before the next try after `attempts` failed tries: exponential, capped."""
    base = float(settings.OUTBOX_RETRY_BASE_SECONDS)
    cap = float(settings.OUTBOX_RETRY_MAX_SECONDS)
    return float(min(cap, base * (2 ** max(attempts - 1, 0))))


def new_message_id() -> str:
    """'<microseconds since 1970 in hex.32 random hex digits@INBOUND_DOMAIN>'. Time first: new ids
    sort after older ones, so the unique index on stored Message-IDs grows at its end instead of
    taking each insert on a random page. The nudge sweep makes thousands at a time, hence
    token_hex rather than uuid4 (a quarter of the time, the same 128 random bits)."""
    return f"<{time.time_ns() // 1000:x}.{secrets.token_hex(16)}@{settings.INBOUND_DOMAIN}>"


def _addresses(addresses: list[str] | None, *, leave_out: list[str] | None = None) -> list[str]:
    return [address for address in dict.fromkeys(addresses or []) if address and address not in (leave_out or [])]


# Writing rows ---------------------------------------------------------------------------------


def outbound_email_queue(
    *,
    purpose: str,
    to: list[str],
    subject: str,
    body_text: str = "",
    body_html: str = "",
    template: str = "",
    context: dict[str, Any] | None = None,
    cc: list[str] | None = None,
    reply_to: str = "",
    in_reply_to: str = "",
    references: list[str] | None = None,
    auto_submitted: bool = False,
) -> OutboundEmail:
    """Write one outbox row (call it inside the transaction that writes what the mail is about) and
    enqueue its delivery after commit. Give the bodies, or a template rendered when it is sent."""
    recipients = _addresses(to)
    if not recipients:
        raise ValueError("An email needs at least one recipient.")
    now = timezone.now()
    email = OutboundEmail.objects.create(
        purpose=purpose,
        auto_submitted=auto_submitted,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        cc=_addresses(cc, leave_out=recipients),
        reply_to=reply_to,
        subject=subject[:300],
        body_text=body_text,
        body_html=body_html,
        template=template,
        context=context or {},
        message_id=new_message_id(),
        in_reply_to=in_reply_to,
        references=" ".join(references or []),
        status=Status.QUEUED,
        created_at=now,
        status_changed_at=now,
    )
    enqueue_after_commit(email.pk)
    return email


def enqueue_after_commit(email_id: int) -> None:
    """Enqueue one row's delivery once the current transaction commits."""

    def enqueue() -> None:
        try:
            app.send_task(SEND_TASK, args=(email_id,))
        except Exception:
            # The broker is down: the row stays queued and the requeue sweep picks it up.
            logger.exception("Could not enqueue outbound email %s; the requeue sweep will retry.", email_id)

    transaction.on_commit(enqueue)


def outbound_emails_enqueue_after_commit(email_ids: list[int]) -> None:
    """Enqueue the delivery of a batch of rows once the current transaction commits: one task that
    fans out one send per row (a sweep writes thousands of rows at once)."""
    ids = list(email_ids)

    def enqueue() -> None:
        try:
            # argsrepr: Celery would otherwise write out the thousand ids for its logs.
            app.send_task(ENQUEUE_TASK, args=(ids,), argsrepr=f"({len(ids)} outbox ids,)")
        except Exception:
            logger.exception("Could not enqueue %s outbound emails; the requeue sweep will retry.", len(ids))

    if ids:
        transaction.on_commit(enqueue)


def outbound_emails_fan_out(*, email_ids: list[int]) -> int:
    """Enqueue one send task per row, on one broker connection (the fan-out task's work)."""
    with app.producer_or_acquire() as producer:
        for email_id in email_ids:
            app.send_task(SEND_TASK, args=(email_id,), producer=producer)
    return len(email_ids)


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
    return template_bodies(email)


def build_message(email: OutboundEmail, *, bodies: tuple[str, str] | None = None) -> EmailMultiAlternatives:
    body_text, body_html = bodies if bodies is not None else outbound_email_bodies(email)
    headers = {"Message-ID": email.message_id}
    if email.in_reply_to:
        headers["In-Reply-To"] = email.in_reply_to
    if email.references:
        headers["References"] = email.references
    if email.auto_submitted:
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
       it was sent with, and send `outbound_email_sent` in the same transaction; or, on an error
       (rendering included), put it back to queued with the error (RETRY) until
       OUTBOX_MAX_ATTEMPTS tries, then mark it failed and send `outbound_email_failed`.

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
        notify(
            outbound_email_sent,
            OutboundEmail,
            email=email,
            esp_message_id=esp_message_id,
            esp_status=esp_status,
            at=now,
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
    # The error's text may name a recipient (an SMTP refusal quotes the address): on the row only.
    logger.warning("Outbound email %s attempt %s failed (%s)", email.pk, email.attempts, type(exc).__name__)
    with transaction.atomic():
        if give_up:
            OutboundEmail.objects.filter(pk=email.pk, status=Status.SENDING).update(
                status=Status.FAILED, last_error=error, status_changed_at=now
            )
            notify(outbound_email_failed, OutboundEmail, email=email, error=error, at=now)
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
    queued_before = now - timedelta(minutes=float(settings.OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES))
    sending_before = now - timedelta(minutes=float(settings.OUTBOX_REQUEUE_SENDING_AFTER_MINUTES))
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
