"""What the mail layer tells the apps above it, which connect receivers in their AppConfig.ready().

Each is sent with `sender=` the model class and keyword arguments only. The outbox and tracking
signals are sent inside the transaction that changes the row, their receivers in a savepoint
(`notify`): a receiver's error is logged and its work rolled back, never the row's news (a row
marked sent is never sent again because a receiver failed).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# A row was sent: email (OutboundEmail), esp_message_id (str), esp_status (list[str]), at (datetime).
outbound_email_sent = Signal()
# A row was given up on (refused for good, or out of tries): email, error (str), at.
outbound_email_failed = Signal()
# An inbound email was stored, or posted again to recipients it was not known to have: email
# (InboundEmail), created (bool: the first time), new_recipients (list[str]: all of them the first
# time). Sent outside any transaction; a receiver that fails is logged and noted on the email.
inbound_email_received = Signal()
# The ESP reported on a sent row: email, status (the OutboundEmail.Status it means), previous_status,
# moved (whether the row's status changed: news that arrives late or twice does not move it),
# recipient, description, mta_response, esp_name (str each), at.
delivery_recorded = Signal()


def notify(signal: Signal, sender: type, **kwargs: Any) -> None:
    """Send `signal` in a savepoint: when a receiver fails, its error is logged and the receivers'
    work is rolled back, and the caller's transaction goes on."""
    try:
        with transaction.atomic():
            signal.send(sender=sender, **kwargs)
    except Exception:
        logger.exception("a receiver of a mail signal failed (%s)", ", ".join(sorted(kwargs)))
