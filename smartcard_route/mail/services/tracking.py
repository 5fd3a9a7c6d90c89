"""Delivery tracking: the ESP tells us what became of our outbound mail (DESIGN.md, "Email").

The tracking webhooks (smartcard_route.mail.webhooks) hand each of the ESP's events to
`outbound_delivery_record`, which finds the outbox row by the ESP's message id (recorded when it
was sent) and moves it to delivered, bounced or complained: never back, so a late "delivered" does
not undo a bounce. The `delivery_recorded` signal tells the apps above (an issue's timeline, the
directory's RA entry), in the same transaction.
"""

from __future__ import annotations

import logging

from anymail.signals import EventType
from django.db import transaction
from django.utils import timezone

from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.signals import delivery_recorded, notify

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
    2. Lock the row; move its status up (never down, see STATUS_RANK).
    3. Send `delivery_recorded` (moved or not: a second recipient's bounce is news too) in the same
       transaction.
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
        previous = row.status
        moved = STATUS_RANK[status] > STATUS_RANK.get(previous, 0)
        if moved:
            row.status = status
            row.status_changed_at = now
            row.save(update_fields=["status", "status_changed_at"])
            logger.info("outbound email %s: %s -> %s", row.pk, previous, status)
        notify(
            delivery_recorded,
            OutboundEmail,
            email=row,
            status=status,
            previous_status=previous,
            moved=moved,
            recipient=recipient,
            description=description,
            mta_response=mta_response,
            esp_name=esp_name,
            at=now,
        )
    return row
