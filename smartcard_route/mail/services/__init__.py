"""Every write of the mail layer: the outbox (`outbox`), delivery tracking (`tracking`) and
inbound mail (`inbound`). Each function is keyword-only and says its steps in its docstring."""

from smartcard_route.mail.services.inbound import (
    PostOutcome,
    PostResult,
    Reader,
    StoredEmail,
    Unreadable,
    inbound_email_hand_over,
    inbound_email_note,
    inbound_email_store,
    inbound_post_process,
    inbound_post_store,
    inbound_posts_process_stale,
)
from smartcard_route.mail.services.outbox import (
    SendOutcome,
    SendResult,
    build_message,
    new_message_id,
    outbound_email_bodies,
    outbound_email_queue,
    outbound_email_requeue,
    outbound_email_send,
    outbound_emails_enqueue_after_commit,
    outbound_emails_fan_out,
    outbound_emails_requeue_stuck,
    outbox_retry_delay,
)
from smartcard_route.mail.services.tracking import outbound_delivery_record

__all__ = [
    "PostOutcome",
    "PostResult",
    "Reader",
    "SendOutcome",
    "SendResult",
    "StoredEmail",
    "Unreadable",
    "build_message",
    "inbound_email_hand_over",
    "inbound_email_note",
    "inbound_email_store",
    "inbound_post_process",
    "inbound_post_store",
    "inbound_posts_process_stale",
    "new_message_id",
    "outbound_delivery_record",
    "outbound_email_bodies",
    "outbound_email_queue",
    "outbound_email_requeue",
    "outbound_email_send",
    "outbound_emails_enqueue_after_commit",
    "outbound_emails_fan_out",
    "outbound_emails_requeue_stuck",
    "outbox_retry_delay",
]
