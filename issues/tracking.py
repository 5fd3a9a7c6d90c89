"""Delivery tracking: the ESP tells us what became of our outbound mail (DESIGN.md, "Email").

anymail's tracking webhook (issues.webhooks) sends `anymail.signals.tracking`; `on_anymail_tracking`
hands each event to `outbound_delivery_record`, which finds the outbox row by the ESP's message id
(recorded by the send task), moves it to delivered, bounced or complained (never back: a late
"delivered" does not undo a bounce), writes a DELIVERY event on the issue, and, when the bounce came
from a Registration Authority's address, marks that RA "needs checking" and tells the directory
manager (outbox, after commit). The directory app never imports issues; this module does the work.
"""

from __future__ import annotations

import logging
from typing import Any

from anymail.signals import EventType
from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from directory.models import RegistrationAuthority, User
from issues import emails
from issues.models import EventKind, IssueEvent, OutboundEmail

logger = logging.getLogger(__name__)

Status = OutboundEmail.Status

# anymail's normalised event types -> the outbox status they mean. Everything else (queued, sent,
# deferred, opened, clicked, autoresponded...) leaves the row as it is.
STATUS_FOR_EVENT: dict[str, str] = {
    EventType.DELIVERED: Status.DELIVERED,
    EventType.BOUNCED: Status.BOUNCED,
    EventType.REJECTED: Status.BOUNCED,  # the ESP refused the address (suppressed, invalid): not delivered
    EventType.COMPLAINED: Status.COMPLAINED,
}

# A status only ever moves up this ladder, so webhooks arriving late or out of order never undo news.
STATUS_RANK: dict[str, int] = {
    Status.QUEUED: 0,
    Status.SENDING: 0,
    Status.SENT: 0,
    Status.FAILED: 0,
    Status.DELIVERED: 1,
    Status.COMPLAINED: 2,
    Status.BOUNCED: 3,
}


def on_anymail_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    """Receiver of anymail.signals.tracking (connected in IssuesConfig.ready)."""
    outbound_delivery_record(
        esp_message_id=str(event.message_id or ""),
        event_type=str(event.event_type or ""),
        recipient=str(event.recipient or ""),
        description=str(event.description or ""),
        mta_response=str(event.mta_response or ""),
        esp_name=esp_name,
    )


def outbound_delivery_record(
    *,
    esp_message_id: str,
    event_type: str,
    recipient: str = "",
    description: str = "",
    mta_response: str = "",
    esp_name: str = "",
) -> OutboundEmail | None:
    """Apply one delivery event to the outbox row it is about; returns the row, or None.

    1. Ignore event types that carry no delivery state, and message ids we never sent.
    2. Lock the row; move its status up (never down, see STATUS_RANK); when it moved, write a
       DELIVERY event on its issue.
    3. On a bounce from an RA's address, flag the RA (once) and queue a note to the directory
       manager, in the same transaction.
    """
    status = STATUS_FOR_EVENT.get(event_type)
    if status is None or not esp_message_id:
        logger.debug("delivery event %s for %r ignored", event_type, esp_message_id)
        return None
    now = timezone.now()
    with transaction.atomic():
        row = (
            OutboundEmail.objects.select_for_update()
            .filter(esp_message_id=esp_message_id)
            .order_by("-created_at")
            .first()
        )
        if row is None:
            logger.info("%s %s event for unknown message %r ignored", esp_name, event_type, esp_message_id)
            return None
        if STATUS_RANK[status] > STATUS_RANK.get(row.status, 0):
            previous = row.status
            row.status = status
            row.status_changed_at = now
            row.save(update_fields=["status", "status_changed_at"])
            if row.issue_id is not None:
                IssueEvent.objects.create(
                    issue_id=row.issue_id,
                    kind=EventKind.DELIVERY,
                    text=_event_text(row, status, recipient, description, mta_response),
                    data={
                        "email_id": row.pk,
                        "status": status,
                        "previous_status": previous,
                        "recipient": recipient,
                        "description": description[:500],
                        "mta_response": mta_response[:500],
                        "esp": esp_name,
                    },
                    created_at=now,
                )
            logger.info("outbound email %s: %s -> %s (%s)", row.pk, previous, status, recipient)
        if status == Status.BOUNCED and recipient:
            _flag_bouncing_ra(recipient=recipient, row=row, detail=mta_response or description)
    return row


def _event_text(row: OutboundEmail, status: str, recipient: str, description: str, mta_response: str) -> str:
    what = row.get_purpose_display()  # type: ignore[attr-defined]
    to = recipient or ", ".join(row.to)
    if status == Status.DELIVERED:
        return f"{what} delivered to {to}."
    if status == Status.COMPLAINED:
        return f"{what}: {to} reported it as spam."
    detail = "; ".join(part for part in (description, mta_response) if part)
    return f"{what} could not be delivered to {to}" + (f": {detail[:300]}" if detail else ".")


def directory_manager_addresses() -> list[str]:
    addresses = [settings.DIRECTORY_MANAGER_EMAIL] if settings.DIRECTORY_MANAGER_EMAIL else []
    addresses += list(
        User.objects.filter(is_directory_manager=True, is_active=True).order_by("pk").values_list("email", flat=True)
    )
    return list(dict.fromkeys(address for address in addresses if address))


def _ra_url(ra: RegistrationAuthority) -> str:
    try:
        return settings.SITE_URL + reverse("directory:ra_detail", kwargs={"pk": ra.pk})
    except NoReverseMatch:
        return settings.SITE_URL + f"/admin/directory/registrationauthority/{ra.pk}/change/"


def _flag_bouncing_ra(*, recipient: str, row: OutboundEmail, detail: str) -> None:
    """Mark every RA with this address as needing checking, and tell the directory manager once."""
    for ra in RegistrationAuthority.objects.filter(email__iexact=recipient.strip()):
        flagged = RegistrationAuthority.objects.filter(pk=ra.pk, needs_checking=False).update(
            needs_checking=True, updated_at=timezone.now()
        )
        if not flagged:
            continue  # already flagged: the manager has been told
        logger.warning("RA %s (%s) marked as needing checking: mail to it bounced", ra.pk, ra.email)
        to = directory_manager_addresses()
        if not to:
            continue
        text, html = emails.render_bodies(
            "directory_ra_bounced",
            {
                "ra": ra,
                "recipient": recipient,
                "detail": detail,
                "email": row,
                "issue": row.issue,
                "ra_url": _ra_url(ra),
                "site_url": settings.SITE_URL,
            },
        )
        emails.queue_outbound_email(
            purpose=OutboundEmail.Purpose.NOTIFICATION,
            to=to,
            subject=f"Mail to {ra.name} bounced: please check its email address",
            body_text=text,
            body_html=html,
        )
