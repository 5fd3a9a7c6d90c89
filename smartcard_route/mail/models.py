"""The mail layer's rows: the outbox, and inbound mail (the provider's post, the emails read from
it, their attachments).

No row here points at anything outside the mail layer: the apps that write mail keep their own
link rows to these (an issue's outbound mail, an inbound email's matches).
"""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from smartcard_route.mail.parsing import authentication_failure


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
    # Retention (DESIGN.md, "Personal data"): when its bodies and context were redacted.
    redacted_at = models.DateTimeField(null=True, blank=True)

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


# Inbound mail: the provider's post stored first, then the emails read from it.


class InboundPost(models.Model):
    """What an ESP posted to an inbound webhook, stored as it came, in one INSERT, before anything
    else can fail (DESIGN.md, "Inbound mail, stored first"); then read into InboundEmail rows."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received, not read yet"
        READ = "read", "Read"
        FAILED = "failed", "Could not be read"

    esp = models.CharField(max_length=40, help_text="The provider's webhook it came to (webhooks.ESPS).")
    content_type = models.CharField(max_length=200, blank=True)
    # The provider's own request headers (such as Amazon SNS's x-amz-sns-*), never Authorization or Cookie.
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField()
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True, help_text="Why it could not be read.")
    read_at = models.DateTimeField(null=True, blank=True)
    # Set while a read is under way (the worker's task, the beat sweep, the admin's "read again"):
    # the claim that stops a second read of the same post, given up after INBOUND_STALE_AFTER_MINUTES
    # (the reader died). Cleared once the post is read or failed.
    reading_since = models.DateTimeField(null=True, blank=True)
    # Retention: when the payload was redacted (emptied); the row stays as the trace.
    redacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-received_at", "-id")
        indexes = [
            # Posts not read (yet): the ones left by a crash, and those CPE IT must see.
            models.Index(fields=["received_at"], condition=~Q(status="read"), name="inbound_post_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.esp} post {self.pk} ({self.get_status_display()})"


def inbound_attachment_path(instance: InboundAttachment, filename: str) -> str:
    """Stored under a random folder, never under the sender's own file name alone."""
    return f"inbound/{timezone.now():%Y/%m}/{secrets.token_hex(8)}/{filename}"


class InboundEmail(models.Model):
    """One email read from an inbound post: parsed, its HTML sanitised, stored once.

    Stored once per Message-ID and content (`content_hash`): the same message posted again (a
    retried webhook, a second provider, another of its recipients) is the same row, its new
    recipients added; a different message that reuses a Message-ID is a row of its own. Where it
    belongs is for the apps above to say (the `inbound_email_received` signal); nothing received
    is ever dropped.
    """

    post = models.ForeignKey(InboundPost, on_delete=models.PROTECT, null=True, blank=True, related_name="emails")
    esp_name = models.CharField(max_length=40)
    esp_event_id = models.CharField(max_length=254, blank=True)
    message_id = models.CharField(max_length=998)  # with content_hash, unique: Meta.constraints
    content_hash = models.CharField(max_length=64, blank=True)
    in_reply_to = models.TextField(blank=True)
    references = models.TextField(blank=True)
    from_email = models.CharField(max_length=254, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    to = models.JSONField(default=list, blank=True)
    cc = models.JSONField(default=list, blank=True)
    recipients = models.JSONField(
        default=list, blank=True, help_text="Every address it was delivered to: To, Cc, Bcc and the envelope."
    )
    subject = models.CharField(max_length=998, blank=True)
    sent_at = models.DateTimeField("date in the email", null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    headers = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField("sanitised HTML body", blank=True)
    automatic_reason = models.CharField(
        max_length=200, blank=True, help_text="Why it is taken for an auto-reply or a mail loop (empty: a person)."
    )
    spam_detected = models.BooleanField(null=True, blank=True)
    # The sender authentication the provider reported (its own words, lower case: "pass", "fail",
    # "softfail", "none", ...; empty when it said nothing). A failure stops no clock (DESIGN.md,
    # "Inbound mail, stored first") and is shown on the message.
    spf = models.CharField("SPF verdict", max_length=20, blank=True)
    dkim = models.CharField("DKIM verdict", max_length=20, blank=True)
    dmarc = models.CharField("DMARC verdict", max_length=20, blank=True)
    notes = models.TextField(blank=True, help_text="What happened while receiving it: refused attachments, errors.")
    # When the apps above were told of it (signals.inbound_email_received); null after a crash in
    # between, until the beat task tells them again.
    handed_over_at = models.DateTimeField(null=True, blank=True)
    # Retention (DESIGN.md, "Personal data"): when its bodies, headers and attachments were redacted.
    redacted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-received_at", "-id")
        constraints = [models.UniqueConstraint(fields=["message_id", "content_hash"], name="inbound_message_once")]
        indexes = [
            models.Index(
                fields=["received_at"], condition=Q(handed_over_at__isnull=True), name="inbound_not_handed_over"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} <- {self.from_email}"

    @property
    def is_automatic(self) -> bool:
        return bool(self.automatic_reason)

    @property
    def authentication_failure(self) -> str:
        """Which of the provider's sender checks failed ("SPF fail, DMARC fail"), "" when none did
        (the rule: parsing.authentication_failure). Such an email stops no clock."""
        return authentication_failure(spf=self.spf, dkim=self.dkim, dmarc=self.dmarc)


class InboundAttachment(models.Model):
    """A file that came with an inbound email; too large ones are listed with the reason, not stored."""

    email = models.ForeignKey(InboundEmail, on_delete=models.PROTECT, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    file = models.FileField(upload_to=inbound_attachment_path, max_length=400, blank=True)
    refused_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.filename

    @property
    def is_stored(self) -> bool:
        return bool(self.file)
