"""A Smartcard issue, its state machine along CPE's route, its timeline and its outbox.

The state field is protected: only `issues.services` changes it, through the transition methods
below (which carry no side effects; the service writes events, mail and the clock around them).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from directory.models import Pharmacy


class Kind(models.TextChoices):
    LOCKED = "locked", "Card locked or passcode forgotten"
    CERTIFICATES_EXPIRING = "certificates_expiring", "Certificates expiring or expired"
    LOST_STOLEN_DAMAGED = "lost_stolen_damaged", "Card lost, stolen or damaged"
    OLD_CARD_SERIES = "old_card_series", "Old card series that must be replaced"
    ROLES_POSITIONS = "roles_positions", "Role or position missing, wrong or ending"
    PREMISES_ODS = "premises_ods", "Pharmacy ODS code wrong or changed on the card"
    MULTI_SITE = "multi_site", "Working at several pharmacies"
    READER_SOFTWARE = "reader_software", "Card reader or Identity Agent problem"
    CIS_NOT_RUNNING = "cis_not_running", "Care Identity Service pages will not run"
    NEW_CARD = "new_card", "New team member needs a card"
    CONTACT_DETAILS = "contact_details", "Contact details need updating"
    OTHER = "other", "Something else"


class State(models.TextChoices):
    IN_PHARMACY = "in_pharmacy", "Trying to fix it in the pharmacy"
    CIS_SELF_SERVICE = "cis_self_service", "Trying Care Identity Service self-service"
    RA_CONTACTED = "ra_contacted", "RA contacted"
    LPC_CC = "lpc_cc", "LPC involved"
    ESCALATED = "escalated", "Escalated to CPE IT"
    RESOLVED = "resolved", "Resolved"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATES = [State.IN_PHARMACY, State.CIS_SELF_SERVICE, State.RA_CONTACTED, State.LPC_CC, State.ESCALATED]
CLOSED_STATES = [State.RESOLVED, State.WITHDRAWN]


class Deadline(models.TextChoices):
    """What the issue waits for until `due_at` (DESIGN.md: windows in working days)."""

    NONE = "", "Nothing"
    RA_REPLY = "ra_reply", "RA reply"
    LPC_ACTION = "lpc_action", "LPC action"
    CPE_TRIAGE = "cpe_triage", "CPE IT triage"
    PHARMACY_UPDATE = "pharmacy_update", "Pharmacy update"


class Step(models.TextChoices):
    """The step of the route that fixed an issue."""

    IN_PHARMACY = "in_pharmacy", "Fixed in the pharmacy"
    CIS_SELF_SERVICE = "cis_self_service", "Care Identity Service self-service"
    RA = "ra", "The Registration Authority"
    LPC = "lpc", "The LPC, with the RA or NHS England regional team"
    CPE_IT = "cpe_it", "CPE IT team"


def new_tracking_token() -> str:
    return secrets.token_hex(8)


class Issue(ConcurrentTransitionMixin, models.Model):
    # No index of its own: "issue_pharmacy_state" (pharmacy, state) serves lookups by pharmacy.
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="issues", db_index=False)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reported_issues")
    kind = models.CharField("kind of problem", max_length=32, choices=Kind.choices)
    summary = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    tried_in_pharmacy = models.TextField("what was already tried in the pharmacy", blank=True)
    smartcard_number = models.CharField(max_length=12, blank=True)
    no_card_yet = models.BooleanField(default=False)
    contact_name = models.CharField("contact name for the RA", max_length=150)
    contact_phone = models.CharField("contact phone number for the RA", max_length=30)
    is_emergency = models.BooleanField(default=False)

    state = FSMField(default=State.IN_PHARMACY, choices=State.choices, protected=True)
    # The deadline people see, and the only meaning of "overdue" (DESIGN.md, the clock): set and
    # cleared with the wait (issues.services.events), never moved by a reminder.
    due_at = models.DateTimeField(null=True, blank=True)
    due_kind = models.CharField(max_length=20, choices=Deadline.choices, default=Deadline.NONE, blank=True)
    # The nudge sweep's cursor: the first reminder at due_at, then one a window apart (issues.nudges).
    next_nudge_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next reminder is due; the sweep moves it as it claims one."
    )
    reminders_sent = models.PositiveSmallIntegerField(
        default=0, help_text="Nudges sent for the current wait; the sweep bumps it as it claims a reminder."
    )

    resolved_from_state = models.CharField(max_length=20, choices=State.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    fixed_by_step = models.CharField(max_length=20, choices=Step.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)
    lpc_involved_at = models.DateTimeField(
        null=True, blank=True, help_text="When the LPC was first involved; from then on its officers see the issue."
    )

    # Unique through Meta.constraints: a field's own unique=True would also get a varchar_pattern_ops
    # twin index on PostgreSQL, for LIKE queries nobody makes, costing every write.
    tracking_token = models.CharField(max_length=32, default=new_tracking_token, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            # The overdue filter and the deadline order of the dashboards: only issues somebody is
            # waiting on have a deadline.
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="issue_due_at_waiting"),
            # The nudge sweep: only issues somebody is waiting on have a next reminder.
            models.Index(
                fields=["next_nudge_at"], condition=Q(next_nudge_at__isnull=False), name="issue_next_nudge_waiting"
            ),
            models.Index(fields=["pharmacy", "state"], name="issue_pharmacy_state"),
            models.Index(fields=["state", "created_at"], name="issue_state_created"),
        ]
        constraints = [models.UniqueConstraint(fields=["tracking_token"], name="issue_tracking_token_unique")]

    def __str__(self) -> str:
        return f"{self.reference}: {self.summary}"

    @property
    def reference(self) -> str:
        return format_reference(self.pk)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_overdue(self) -> bool:
        return self.due_at is not None and self.due_at <= timezone.now()

    # Transitions. Bodies stay empty: guards, permissions and effects live in issues.services.

    @transition(field=state, source=State.IN_PHARMACY, target=State.CIS_SELF_SERVICE)
    def try_cis(self) -> None:
        pass

    @transition(
        field=state,
        source=[State.IN_PHARMACY, State.CIS_SELF_SERVICE],
        target=RETURN_VALUE(State.RA_CONTACTED, State.LPC_CC),
    )
    def contact_ra(self, *, cc_lpc: bool = False) -> str:
        return State.LPC_CC if cc_lpc else State.RA_CONTACTED

    @transition(field=state, source=State.RA_CONTACTED, target=State.LPC_CC)
    def cc_lpc(self) -> None:
        pass

    @transition(field=state, source=State.LPC_CC, target=State.ESCALATED)
    def escalate_to_cpe(self) -> None:
        pass

    @transition(field=state, source=OPEN_STATES, target=State.RESOLVED)
    def resolve(self) -> None:
        self.resolved_from_state = self.state

    @transition(field=state, source=OPEN_STATES, target=State.WITHDRAWN)
    def withdraw(self) -> None:
        pass

    @transition(field=state, source=State.RESOLVED, target=RETURN_VALUE(*OPEN_STATES))
    def reopen(self) -> str:
        return self.resolved_from_state


def format_reference(pk: int | None) -> str:
    return f"SC-{pk:06d}" if pk else "SC-new"


def parse_reference(reference: str) -> int | None:
    """'SC-000123' (any case, with or without leading zeros) to 123; None when it is not one."""
    text = reference.strip().upper()
    if not text.startswith("SC-") or not text[3:].isdigit():
        return None
    return int(text[3:])


class EventKind(models.TextChoices):
    REPORTED = "reported", "Reported"
    TRANSITION = "transition", "Status changed"
    NOTE = "note", "Note"
    PHONE_CALL = "phone_call", "Phone call"
    RA_REPLY = "ra_reply", "RA replied"
    EMAIL_OUT = "email_out", "Email sent"
    EMAIL_IN = "email_in", "Email received"
    REQUEST_CONFIRMED = "request_confirmed", "Request sent from own mailbox"
    NUDGE = "nudge", "Reminder"
    CLOCK = "clock", "Deadline changed"
    DELIVERY = "delivery", "Delivery update"


class IssueEvent(models.Model):
    """One row of an issue's timeline and audit trail. Written by services; never edited or deleted."""

    # Indexes in Meta: "event_issue_time" (issue, created_at) serves lookups by issue, and most
    # events (nudges, mail) have no actor, so the actor's index leaves them out.
    issue = models.ForeignKey(Issue, on_delete=models.PROTECT, related_name="events", db_index=False)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="issue_events",
        db_index=False,
    )
    from_state = models.CharField(max_length=20, choices=State.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=State.choices, blank=True)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(fields=["issue", "created_at"], name="event_issue_time"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="event_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {format_reference(self.issue_id)}"


class OutboundEmail(models.Model):
    """The outbox: a row written with its event, delivered by a task after commit (DESIGN.md, Email)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"

    class Purpose(models.TextChoices):
        RA_REQUEST = "ra_request", "Request to the RA"
        LPC_CC = "lpc_cc", "Thread forwarded to the LPC"
        CPE_ESCALATION = "cpe_escalation", "Escalation to CPE IT"
        NUDGE = "nudge", "Reminder"
        DIGEST = "digest", "Daily digest"
        NOTIFICATION = "notification", "Notification"

    issue = models.ForeignKey(Issue, on_delete=models.PROTECT, null=True, blank=True, related_name="outbound_emails")
    event = models.ForeignKey(IssueEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="emails")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
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


# Inbound mail


def inbound_attachment_path(instance: InboundAttachment, filename: str) -> str:
    """Stored under a random folder, never under the sender's own file name alone."""
    return f"inbound/{timezone.now():%Y/%m}/{secrets.token_hex(8)}/{filename}"


class InboundEmail(models.Model):
    """One email received through an ESP's inbound webhook, stored once per Message-ID.

    Attached to the issue it matched (status "matched", with its EMAIL_IN event), or waiting in the
    unmatched list for CPE IT (status "unmatched", no issue). Nothing received is ever dropped.
    """

    class Status(models.TextChoices):
        MATCHED = "matched", "Attached to an issue"
        UNMATCHED = "unmatched", "Unmatched"

    class MatchedBy(models.TextChoices):
        NONE = "", "Not matched"
        TOKEN = "token", "The issue's tracking address"
        THREAD = "thread", "A reply to an earlier email on the issue"
        REFERENCE = "reference", "The issue reference in the subject"
        MANUAL = "manual", "Attached by CPE IT"

    class Sender(models.TextChoices):
        UNKNOWN = "unknown", "Unknown sender"
        RA = "ra", "The pharmacy's RA"
        REPORTER = "reporter", "The person who reported the issue"
        PHARMACY = "pharmacy", "The pharmacy (staff or owner)"
        LPC = "lpc", "The pharmacy's LPC"
        CPE_IT = "cpe_it", "CPE IT team"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNMATCHED)
    issue = models.ForeignKey(Issue, on_delete=models.PROTECT, null=True, blank=True, related_name="inbound_emails")
    event = models.ForeignKey(
        IssueEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="inbound_emails"
    )
    matched_by = models.CharField(max_length=10, choices=MatchedBy.choices, default=MatchedBy.NONE, blank=True)
    sender_role = models.CharField(max_length=10, choices=Sender.choices, default=Sender.UNKNOWN)
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="attached_emails"
    )

    esp_name = models.CharField(max_length=40)
    esp_event_id = models.CharField(max_length=254, blank=True)
    message_id = models.CharField(max_length=998, unique=True)
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
    notes = models.TextField(blank=True, help_text="What happened while receiving it: refused attachments, errors.")

    class Meta:
        ordering = ("-received_at", "-id")
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbound_status_received"),
            models.Index(fields=["issue", "received_at"], name="inbound_issue_received"),
        ]

    def __str__(self) -> str:
        return f"{self.subject or '(no subject)'} <- {self.from_email}"

    @property
    def is_automatic(self) -> bool:
        return bool(self.automatic_reason)


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


# Nudges ---------------------------------------------------------------------------------------


class NotificationPreference(models.Model):
    """How a person wants their reminders (nudges): each one straight away, or one email a day."""

    class Delivery(models.TextChoices):
        IMMEDIATE = "immediate", "Email me each reminder straight away"
        DAILY_DIGEST = "daily_digest", "One email each weekday morning listing my reminders"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    nudge_delivery = models.CharField(max_length=12, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user}: {self.get_nudge_delivery_display()}"


class NudgeDigestItem(models.Model):
    """A reminder waiting for its person's daily digest; the digest run settles it exactly once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="nudge_digest_items")
    issue = models.ForeignKey(Issue, on_delete=models.PROTECT, related_name="nudge_digest_items")
    event = models.ForeignKey(IssueEvent, on_delete=models.PROTECT, related_name="digest_items")
    role = models.CharField(max_length=20)
    due_kind = models.CharField(max_length=20, choices=Deadline.choices)
    created_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)
    digest_email = models.ForeignKey(
        OutboundEmail, on_delete=models.PROTECT, null=True, blank=True, related_name="digest_items"
    )

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(
                fields=["user", "created_at"], condition=Q(settled_at__isnull=True), name="digest_item_pending"
            )
        ]

    def __str__(self) -> str:
        return f"Reminder about {format_reference(self.issue_id)} for {self.user_id}"
