"""A Smartcard issue, its state machine along CPE's route, its timeline and its mail.

The state field is protected: only `issues.services` changes it, through the transition methods
below (which carry no side effects; the service writes events, mail and the clock around them).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import cast

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from directory.models import Pharmacy
from smartcard_route.mail import models as mail_models
from smartcard_route.mail.models import OutboundEmail


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


# Problems only the Registration Authority can fix (DESIGN.md, "Labels"): the report asks no "what
# did you try", the issue goes straight to the RA step and is never offered the CIS step. The one
# definition: the route table, the report pages, the guidance and the status all read it.
RA_ONLY_KINDS: frozenset[str] = frozenset(
    {Kind.LOST_STOLEN_DAMAGED, Kind.OLD_CARD_SERIES, Kind.PREMISES_ODS, Kind.MULTI_SITE}
)


def kind_needs_ra(kind: str) -> bool:
    """True for a kind of problem only the RA can fix."""
    return kind in RA_ONLY_KINDS


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
    LPC_FOLLOW_UP = "lpc_follow_up", "LPC follow-up"


class Step(models.TextChoices):
    """The step of the route that fixed an issue."""

    IN_PHARMACY = "in_pharmacy", "Fixed in the pharmacy"
    CIS_SELF_SERVICE = "cis_self_service", "Care Identity Service self-service"
    RA = "ra", "The Registration Authority"
    LPC = "lpc", "The LPC, with the RA or NHS England regional team"
    CPE_IT = "cpe_it", "CPE IT team"


class TriageOutcome(models.TextChoices):
    """What CPE IT decided when it triaged an escalation (DESIGN.md, "Work inside a step")."""

    HANDLED = "handled", "Being handled by CPE IT"
    SYSTEMIC_CASE = "systemic_case", "Linked to a systemic case"
    RETURNED_TO_LPC = "returned_to_lpc", "Returned to the LPC with advice"


def new_tracking_token() -> str:
    return secrets.token_hex(8)


def overdue_at(*, due_at: datetime | None, due_kind: str, now: datetime) -> bool:
    """`Issue.is_overdue_at` on the two columns alone, for rows read without a model instance
    (the CSV export, issues.exports)."""
    return due_at is not None and bool(due_kind) and due_at <= now


class Issue(ConcurrentTransitionMixin, models.Model):
    # No index of its own: "issue_pharmacy_scope" (pharmacy, state) serves lookups by pharmacy.
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
    # When the issue entered its state: its last status change (the moment of its TRANSITION
    # event, issues.services.transitions); None while it is in the state it was reported in, as
    # from `created_at`. `in_state_since` reads the two as one.
    state_changed_at = models.DateTimeField(null=True, blank=True)
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
    # CPE IT's triage of an escalation (the latest one; each triage is a TRIAGE event too).
    cpe_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cpe_owned_issues",
        db_index=False,
        help_text="Who in CPE IT owns the escalation, once triaged.",
    )
    triage_outcome = models.CharField(max_length=20, choices=TriageOutcome.choices, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    # Retention (DESIGN.md, "Personal data"): when the personal data in the issue's fields, its
    # events' texts and its mail were redacted in place; the states, times and events stay.
    redacted_at = models.DateTimeField(null=True, blank=True)

    # Unique through Meta.constraints: a field's own unique=True would also get a varchar_pattern_ops
    # twin index on PostgreSQL, for LIKE queries nobody makes, costing every write.
    tracking_token = models.CharField(max_length=32, default=new_tracking_token, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    # Mail about the issue (smartcard_route.mail), through the link rows: OutboundEmail.objects.filter(issue=...).
    outbound_emails = models.ManyToManyField(
        OutboundEmail, through="IssueOutboundEmail", related_name="issues", related_query_name="issue"
    )

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            # The overdue filter and the deadline order of the dashboards: only issues somebody is
            # waiting on have a deadline. With what the overdue count tests besides the deadline
            # (Issue.overdue_q: the kind of wait; the open states), so CPE IT's count of the
            # country's overdue issues is read off the index alone, not from 5,000 heap pages.
            models.Index(
                fields=["due_at"],
                include=["due_kind", "state"],
                condition=Q(due_at__isnull=False),
                name="issue_waiting_due",
            ),
            # The nudge sweep: only issues somebody is waiting on have a next reminder.
            models.Index(
                fields=["next_nudge_at"], condition=Q(next_nudge_at__isnull=False), name="issue_next_nudge_waiting"
            ),
            # The pharmacy side of the scope (issues_visible_to), with what the LPC dashboard counts
            # (involved, overdue) and what the lists sort by, so a scope's counts and the ids of a
            # page of it are an index-only scan rather than a heap read for each of its issues.
            models.Index(
                fields=["pharmacy", "state"],
                include=["lpc_involved_at", "due_at", "due_kind", "created_at", "id"],
                name="issue_pharmacy_scope",
            ),
            models.Index(fields=["state", "created_at"], name="issue_state_created"),
            # The lists' order (newest first, "-created_at", "-pk"), read backwards or forwards, for
            # lists over everything (CPE IT) and for open issues only (every list's default); each
            # page, first or last, is read off the index (docs/benchmarks.md, "Pages").
            models.Index(fields=["created_at", "id"], name="issue_created"),
            # With the pharmacy and the kind: CPE IT's case suggestions (open issues of the last
            # weeks, grouped by RA and kind) read them off the index alone.
            models.Index(
                fields=["created_at", "id"],
                include=["pharmacy", "kind"],
                condition=Q(state__in=OPEN_STATES),
                name="issue_open_created_kind",
            ),
            # An LPC officer's scope (issues_visible_to): the LPC's pharmacies, once the LPC is
            # involved; with the state and the lists' order, so the LPC's counts by state and the ids
            # of a page of its issues are read off the index.
            models.Index(
                fields=["pharmacy", "state"],
                include=["created_at", "id"],
                condition=Q(lpc_involved_at__isnull=False),
                name="issue_lpc_scope",
            ),
            # The LPC dashboard's two lists (issues.selectors.lpc): the open issues the LPC is
            # involved in, a few hundred of an area's 20,000 issues. Without it PostgreSQL
            # intersected issue_lpc_scope with every open issue of the country (issue_state_created,
            # 30,000 entries at England's size): 6 of a list's 7 ms.
            models.Index(
                fields=["pharmacy"],
                condition=Q(lpc_involved_at__isnull=False, state__in=OPEN_STATES),
                name="issue_lpc_open",
            ),
            # The figures (issues.selectors.figures): the issues resolved in a period, with what the
            # figures read of them, so the counts and the durations are read off the index alone.
            models.Index(
                fields=["resolved_at"],
                include=["created_at", "fixed_by_step"],
                condition=Q(state="resolved"),
                name="issue_resolved",
            ),
            # CPE IT's dashboard: triaged issues by owner.
            models.Index(fields=["cpe_owner"], condition=Q(cpe_owner__isnull=False), name="issue_cpe_owner"),
            # CPE IT's dashboard, its two lists' orders (issues.selectors.cpe): the escalations to
            # triage, earliest deadline first, read off the index a page at a time; the triaged, by
            # owner then deadline, their order read off the index alone (a deferred join).
            models.Index(
                fields=["due_at", "created_at", "id"],
                condition=Q(state="escalated", triaged_at__isnull=True),
                name="issue_awaiting_triage",
            ),
            models.Index(
                fields=["cpe_owner", "due_at", "triaged_at", "id"],
                condition=Q(state="escalated", triaged_at__isnull=False),
                name="issue_triaged_by_owner",
            ),
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
        return self.is_overdue_at(timezone.now())

    @property
    def in_state_since(self) -> datetime:
        """When the issue entered its current state (its last status change, else its report)."""
        return self.state_changed_at or self.created_at

    @staticmethod
    def in_state_since_expression() -> Coalesce:
        """`in_state_since` as an expression, written beside it so the two cannot drift apart."""
        return Coalesce(F("state_changed_at"), F("created_at"))

    def is_overdue_at(self, now: datetime) -> bool:
        """The one meaning of overdue (DESIGN.md, clock): the deadline people see (`due_at`) has
        passed and the wait goes on. Reminders never move `due_at`, so an issue stays overdue
        after them. `overdue_q` below is the same test as a filter."""
        return overdue_at(due_at=self.due_at, due_kind=self.due_kind, now=now)

    @staticmethod
    def overdue_q(now: datetime) -> Q:
        """`is_overdue_at` as a filter, written beside it so the two cannot drift apart."""
        return Q(due_at__isnull=False, due_at__lte=now) & ~Q(due_kind="")

    @property
    def state_fields(self) -> tuple[FSMField, ...]:
        """django-fsm's state fields, which ConcurrentTransitionMixin reads in every __init__ (to
        remember the state a save must still find): its own version tests each of the model's 30
        fields with a lambda, 4,650 calls for the CPE IT dashboard's 150 rows."""
        return (cast(FSMField, self._meta.get_field("state")),)

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


# A reference's number: at most 12 digits (as the URL converters say), so it fits the id column.
MAX_REFERENCE_DIGITS = 12


def parse_number(text: str) -> int | None:
    """A reference's number typed alone ("123", "000123") to 123; None when it is not one. Only
    ASCII digits: str.isdigit() also takes '²' (which int() refuses) and other scripts' digits."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_REFERENCE_DIGITS):
        return None
    return int(text)


def parse_reference(reference: str) -> int | None:
    """'SC-000123' (any case, with or without leading zeros) to 123; None when it is not one."""
    text = reference.strip().upper()
    if not text.startswith("SC-"):
        return None
    return parse_number(text[3:])


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
    LPC_WORK = "lpc_work", "LPC work"
    TRIAGE = "triage", "Triaged by CPE IT"
    EMAIL_DETACHED = "email_detached", "Email taken off"
    CASE = "case", "Systemic case"


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

    # The outbox rows written with this event, through the link rows (IssueOutboundEmail).
    emails = models.ManyToManyField(
        OutboundEmail, through="IssueOutboundEmail", related_name="events", related_query_name="event"
    )

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(fields=["issue", "created_at"], name="event_issue_time"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="event_actor"),
            # The figures (issues.selectors.figures): the requests to RAs of a period (contact_ra), and
            # each one's first reply after it (RA_REPLY_EVENTS: of these kinds, by issue and time).
            models.Index(
                fields=["created_at"],
                include=["issue"],
                condition=Q(kind="transition", data__transition="contact_ra"),
                name="event_ra_request",
            ),
            # The same requests by issue, for a scope's (an LPC officer's): read from its issues.
            models.Index(
                fields=["issue", "created_at"],
                condition=Q(kind="transition", data__transition="contact_ra"),
                name="event_ra_request_issue",
            ),
            models.Index(
                fields=["issue", "created_at"],
                condition=Q(kind__in=["ra_reply", "phone_call", "email_in"]),
                name="event_ra_reply",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {format_reference(self.issue_id)}"


class MailPurpose(models.TextChoices):
    """What each outbox row written about an issue is for (smartcard_route.mail's `purpose`)."""

    RA_REQUEST = "ra_request", "Request to the RA"
    LPC_CC = "lpc_cc", "Thread forwarded to the LPC"
    CPE_ESCALATION = "cpe_escalation", "Escalation to CPE IT"
    NUDGE = "nudge", "Reminder"
    DIGEST = "digest", "Daily digest"
    NOTIFICATION = "notification", "Notification"
    LPC_WORK = "lpc_work", "Email from the LPC"
    TRIAGE = "triage", "Triage advice to the LPC"
    CASE_NOTICE = "case_notice", "Systemic case notice"


class IssueOutboundEmail(models.Model):
    """An outbox row written about an issue, with the event it was written with (none for mail
    written later, such as a digest). The mail layer knows no issue: this row is the link, and
    `Issue.outbound_emails` and `IssueEvent.emails` read through it."""

    email = models.OneToOneField(OutboundEmail, on_delete=models.PROTECT, primary_key=True, related_name="issue_link")
    issue = models.ForeignKey(Issue, on_delete=models.PROTECT, related_name="outbound_links")
    event = models.ForeignKey(
        IssueEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="outbound_links"
    )

    def __str__(self) -> str:
        return f"Email {self.email_id} about {format_reference(self.issue_id)}"


# Inbound mail: the mail layer stores it; these say where each email landed.

# The issues app's first migration names the upload path of the inbound attachments it held then.
inbound_attachment_path = mail_models.inbound_attachment_path


class InboundEmailMatch(models.Model):
    """An inbound email recorded on an issue (its EMAIL_IN event), how it was found and who sent it.

    An email lands on every issue it matches (mail to two issues' addresses lands on both), once
    on each: the (email, issue) pair is unique."""

    class MatchedBy(models.TextChoices):
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

    email = models.ForeignKey(mail_models.InboundEmail, on_delete=models.PROTECT, related_name="matches")
    issue = models.ForeignKey(Issue, on_delete=models.PROTECT, related_name="inbound_matches")
    event = models.ForeignKey(IssueEvent, on_delete=models.PROTECT, related_name="inbound_matches")
    matched_by = models.CharField(max_length=10, choices=MatchedBy.choices)
    sender_role = models.CharField(max_length=10, choices=Sender.choices, default=Sender.UNKNOWN)
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="attached_emails"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # An attachment by CPE IT undone: the email went back to the unmatched queue (an EMAIL_DETACHED
    # event says so); the row stays, as the audit trail of where the email was.
    detached_at = models.DateTimeField(null=True, blank=True)
    detached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="detached_emails"
    )

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["email", "issue"], condition=Q(detached_at__isnull=True), name="inbound_match_once_per_issue"
            )
        ]

    def __str__(self) -> str:
        return f"Email {self.email_id} on {format_reference(self.issue_id)}"


class UnmatchedEmail(models.Model):
    """An inbound email no issue claimed: CPE IT's queue (DESIGN.md, "Email"). Attaching it to an
    issue takes it out (the row is the claim: two people attaching it at once record it once);
    the email itself is never deleted."""

    email = models.OneToOneField(
        mail_models.InboundEmail, on_delete=models.PROTECT, primary_key=True, related_name="unmatched"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-email_id")
        indexes = [models.Index(fields=["created_at"], name="unmatched_email_created")]

    def __str__(self) -> str:
        return f"Unmatched email {self.email_id}"


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


# Systemic cases (DESIGN.md, "LPC officers and CPE IT", step 7 of the route) ---------------------


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    HIGHLIGHTED = "highlighted", "Highlighted to NHS England"
    GUIDANCE_RECEIVED = "guidance_received", "Guidance received"
    CLOSED = "closed", "Closed"


class SystemicCase(models.Model):
    """A group of issues CPE IT believes share one cause, to highlight to NHS England's
    Transformation Directorate (NHSE TD). The RAs and kinds concerned are those of its issues.
    Only issues.services changes it; every change is a CaseEvent."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases_created")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # The highlight to NHSE TD: when, to whom, what was sent.
    highlighted_at = models.DateTimeField(null=True, blank=True)
    highlighted_to = models.CharField(max_length=254, blank=True)
    highlight_text = models.TextField(blank=True)
    # The guidance that came back.
    guidance_received_at = models.DateTimeField(null=True, blank=True)
    guidance_text = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_note = models.TextField(blank=True)
    # Retention: when the case's free texts (and so its evidence pack) were redacted.
    redacted_at = models.DateTimeField(null=True, blank=True)

    issues = models.ManyToManyField(Issue, through="CaseIssue", related_name="cases", related_query_name="case")

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["status", "created_at"], name="case_status_created")]

    def __str__(self) -> str:
        return f"{self.reference}: {self.title}"

    @property
    def reference(self) -> str:
        return format_case_reference(self.pk)


def format_case_reference(pk: int | None) -> str:
    return f"CASE-{pk:05d}" if pk else "CASE-new"


class CaseIssue(models.Model):
    """An issue in a systemic case: an issue is in one case at most (the suggestions leave out
    issues already in one). Removing it from the case deletes this row; a CaseEvent keeps the trace."""

    case = models.ForeignKey(SystemicCase, on_delete=models.PROTECT, related_name="links")
    issue = models.OneToOneField(Issue, on_delete=models.PROTECT, related_name="case_link")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("added_at", "id")
        indexes = [models.Index(fields=["case", "added_at"], name="case_issue_case_time")]

    def __str__(self) -> str:
        return f"{format_reference(self.issue_id)} in {format_case_reference(self.case_id)}"


class CaseEventKind(models.TextChoices):
    CREATED = "created", "Case opened"
    ISSUE_ADDED = "issue_added", "Issue added"
    ISSUE_REMOVED = "issue_removed", "Issue removed"
    EDITED = "edited", "Details changed"
    HIGHLIGHTED = "highlighted", "Highlighted to NHS England"
    GUIDANCE = "guidance", "Guidance received"
    NOTE = "note", "Note"
    CLOSED = "closed", "Case closed"


class CaseEvent(models.Model):
    """One change to a systemic case, for its history; never edited or deleted."""

    case = models.ForeignKey(SystemicCase, on_delete=models.PROTECT, related_name="events", db_index=False)
    kind = models.CharField(max_length=20, choices=CaseEventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    issue = models.ForeignKey(Issue, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=["case", "created_at"], name="case_event_case_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {format_case_reference(self.case_id)}"


class FiguresSnapshot(models.Model):
    """The figures of one scope for one period, worked out by the worker
    (issues.services.figures.figures_refresh, a beat task) because at England's size they cannot be
    worked out from the raw rows within a page's time: the national figures (every issue, as CPE
    IT sees them; `lpc` empty) and each LPC's (its officers' scope). The page says when they were
    worked out (`computed_at`)."""

    lpc = models.ForeignKey(
        "directory.LPC",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="figures_snapshots",
        help_text="The LPC whose officers' figures these are; empty for the national figures.",
    )
    weeks = models.PositiveSmallIntegerField(help_text="The period: the last 4, 13 or 52 weeks.")
    computed_at = models.DateTimeField(help_text="The moment the figures are as of.")
    seconds = models.FloatField(default=0, help_text="How long working them out took.")
    data = models.JSONField(help_text="issues.selectors.figures.Figures, as figures_to_json wrote it.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["weeks"], condition=Q(lpc__isnull=True), name="figures_snapshot_national_weeks"
            ),
            models.UniqueConstraint(fields=["lpc", "weeks"], name="figures_snapshot_lpc_weeks"),
        ]

    def __str__(self) -> str:
        scope = f"Figures of LPC {self.lpc_id}" if self.lpc_id else "National figures"
        return f"{scope}, last {self.weeks} weeks, as of {self.computed_at:%Y-%m-%d %H:%M}"


class CaseSuggestionsSnapshot(models.Model):
    """CPE IT's suggested groups (issues.selectors.cases), worked out by the worker
    (issues.services.case_suggestions.case_suggestions_refresh, a beat task) because grouping a
    country's recent open issues by RA and kind takes 30 to 40 ms of the dashboard's budget at
    England's size. One row, the newest. A page reads it and leaves out what changed since (issues
    grouped into a case or closed), and says when the groups were worked out (`computed_at`)."""

    computed_at = models.DateTimeField(help_text="The moment the groups are as of.")
    seconds = models.FloatField(default=0, help_text="How long working them out took.")
    data = models.JSONField(help_text="The groups, as issues.selectors.cases.suggestions_to_json wrote them.")

    def __str__(self) -> str:
        return f"Suggested groups as of {self.computed_at:%Y-%m-%d %H:%M}"
