"""The mail layer's rows: the outbox.

No row here points at anything outside the mail layer: the apps that write mail keep their own
link rows to these (issues.IssueOutboundEmail).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboundEmail(models.Model):
    """The outbox: a row written in its caller's transaction, delivered by a task after commit
    (DESIGN.md, "Email")."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"

    # What kind of mail this is, in the words of the app that wrote it ("ra_request", "nudge",
    # "correction_report"): the outbox only stores it, and finds a template row's context by it.
    purpose = models.CharField(max_length=20)
    # Mail the site writes of its own accord (RFC 3834 "Auto-Submitted: auto-generated"), so that
    # out-of-office replies leave it alone; mail written on a person's behalf is not.
    auto_submitted = models.BooleanField(default=False)
    from_email = models.CharField(max_length=254)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    reply_to = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=300)
    # Either the bodies, rendered when the row is written, or a template (templates/emails/<name>)
    # and its context, rendered when the row is sent (the bodies are then stored as sent).
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    template = models.CharField(max_length=100, blank=True)
    context = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=254)  # unique: Meta.constraints
    in_reply_to = models.CharField(max_length=254, blank=True)
    references = models.TextField(blank=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    esp_message_id = models.CharField(max_length=254, blank=True)  # indexed once set: Meta.indexes
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["queued", "sending"]),
                name="outbox_pending",
            ),
            # Delivery webhooks look rows up by the provider's id, which rows only have once sent.
            models.Index(fields=["esp_message_id"], condition=~Q(esp_message_id=""), name="outbox_esp_message_id"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["message_id"], name="outbox_message_id_unique"),
            models.CheckConstraint(condition=~Q(body_text="") | ~Q(template=""), name="outbox_body_or_template"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} -> {', '.join(self.to)}"
