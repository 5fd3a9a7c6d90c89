"""Retention (DESIGN.md, "Personal data"): personal data is redacted in place once it has been kept
RETENTION_MONTHS (default 24) after an issue was resolved or withdrawn.

What is redacted, and what stays (so the figures, issues.selectors.figures, do not change):

- an issue: its summary, details, what was tried, the resolution note and withdrawal reason
  (free texts: `REDACTED`), the contact name and phone and the Smartcard number (emptied);
  its kind, states, times, step that fixed it, pharmacy, reporter and the CPE IT owner stay;
- its events: every text but the clock's (which says only when a deadline falls), and the keys of
  their data that hold personal data (`PERSONAL_EVENT_KEYS`: addresses, names, subjects, providers'
  replies); kinds, actors, states, times and the keys the figures read (transition, ra_id,
  with_ra, ra_reply, fixed_by_step...) stay;
- its mail (smartcard_route.mail.services.retention): outbox rows about it; inbound emails once
  every issue they landed on is redacted (mail to two issues waits for both), with their
  attachments' files deleted; the providers' posts once every email read from them is redacted;
- mail about no issue (unmatched inbound mail, correction-report notes, digests) and posts no email
  came from (unreadable ones): once older than the period;
- a systemic case closed longer ago than the period: its description, highlight (to whom, what),
  guidance and closing note, and its events' texts and personal data keys; its title, status,
  times and issues stay, so its evidence pack (issues.evidence_pack) then shows the redacted texts.

The run (`retention_run`, a nightly beat task) works in batches of RETENTION_BATCH_SIZE, each in its
own transaction, claiming rows by `redacted_at` (set where still null), so it is idempotent and two
runs at once redact each row once. It logs counts only. `retention_plan` counts what the next run
would redact (the management command `redact_expired --dry-run`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from issues.models import (
    CaseEvent,
    CaseStatus,
    EventKind,
    InboundEmailMatch,
    Issue,
    IssueEvent,
    IssueOutboundEmail,
    State,
    SystemicCase,
)
from smartcard_route.mail.models import InboundEmail, InboundPost, OutboundEmail
from smartcard_route.mail.services.retention import (
    REDACTED,
    inbound_emails_redact,
    inbound_posts_redact,
    outbound_emails_redact,
)

__all__ = [
    "PERSONAL_EVENT_KEYS",
    "REDACTED",
    "RetentionCounts",
    "retention_cutoff",
    "retention_plan",
    "retention_run",
]

logger = logging.getLogger(__name__)

# Keys of IssueEvent.data and CaseEvent.data that hold personal data (who mail went to or came
# from, what it said, a provider's reply quoting an address, a person's name, a case's text before
# an edit); every other key stays (ids, kinds, states, times, outcomes, what the figures read).
PERSONAL_EVENT_KEYS = frozenset(
    {
        "to",
        "cc",
        "from",
        "from_name",
        "subject",
        "recipient",
        "description",
        "mta_response",
        "error",
        "owner_name",
        "in_words",
        "ra_email",
        "before",
    }
)

# Event kinds whose text holds no personal data and stays: the clock's ("RA reply due by ...").
KEPT_TEXT_KINDS = frozenset({EventKind.CLOCK})

ISSUE_TEXTS = ("summary", "details", "tried_in_pharmacy", "resolution_note", "withdrawn_reason")
ISSUE_EMPTIED = ("contact_name", "contact_phone", "smartcard_number")
CASE_TEXTS = ("description", "highlight_text", "guidance_text", "closing_note")


@dataclass
class RetentionCounts:
    """How many rows of each kind a run redacted (or a plan would)."""

    issues: int = 0
    events: int = 0
    outbound_emails: int = 0
    inbound_emails: int = 0
    inbound_posts: int = 0
    cases: int = 0
    case_events: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


def retention_cutoff(*, now: datetime | None = None) -> datetime:
    """The moment before which a closed issue's data is past the retention period."""
    return (now or timezone.now()) - relativedelta(months=settings.RETENTION_MONTHS)


# What is due ----------------------------------------------------------------------------------


def _issues_due(cutoff: datetime) -> QuerySet[Issue]:
    """Issues resolved or withdrawn before the cutoff, not redacted yet. A withdrawal's moment is
    its TRANSITION event's (withdrawn is final); an issue with no such event, its last change."""
    withdrawals = IssueEvent.objects.filter(issue=OuterRef("pk"), kind=EventKind.TRANSITION, to_state=State.WITHDRAWN)
    withdrawn = Q(state=State.WITHDRAWN) & (
        Exists(withdrawals.filter(created_at__lt=cutoff)) | (~Exists(withdrawals) & Q(updated_at__lt=cutoff))
    )
    resolved = Q(state=State.RESOLVED, resolved_at__lt=cutoff)
    return Issue.objects.filter(redacted_at__isnull=True).filter(resolved | withdrawn)


def _issue_done_or_due(cutoff: datetime) -> Q:
    return Q(redacted_at__isnull=False) | Q(pk__in=_issues_due(cutoff).values("pk"))


def _outbound_due(cutoff: datetime) -> QuerySet[OutboundEmail]:
    links = IssueOutboundEmail.objects.filter(email=OuterRef("pk"))
    done = IssueOutboundEmail.objects.filter(issue__in=Issue.objects.filter(_issue_done_or_due(cutoff)))
    return OutboundEmail.objects.filter(redacted_at__isnull=True).filter(
        Q(pk__in=done.values("email_id")) | (~Exists(links) & Q(created_at__lt=cutoff))
    )


def _inbound_due(cutoff: datetime) -> QuerySet[InboundEmail]:
    matches = InboundEmailMatch.objects.filter(email=OuterRef("pk"))
    waiting = matches.exclude(issue__in=Issue.objects.filter(_issue_done_or_due(cutoff)))
    return InboundEmail.objects.filter(redacted_at__isnull=True).filter(
        (Exists(matches) & ~Exists(waiting)) | (~Exists(matches) & Q(received_at__lt=cutoff))
    )


def _posts_due(cutoff: datetime, *, emails_due: QuerySet[InboundEmail] | None = None) -> QuerySet[InboundPost]:
    kept = InboundEmail.objects.filter(post=OuterRef("pk"), redacted_at__isnull=True)
    if emails_due is not None:  # a plan: the emails the run would redact first count as redacted
        kept = kept.exclude(pk__in=emails_due.values("pk"))
    return InboundPost.objects.filter(redacted_at__isnull=True, received_at__lt=cutoff).filter(~Exists(kept))


def _cases_due(cutoff: datetime) -> QuerySet[SystemicCase]:
    return SystemicCase.objects.filter(redacted_at__isnull=True, status=CaseStatus.CLOSED, closed_at__lt=cutoff)


def retention_plan(*, now: datetime | None = None) -> RetentionCounts:
    """What the next run would redact, counted without changing anything (the dry run)."""
    cutoff = retention_cutoff(now=now)
    issues = _issues_due(cutoff)
    cases = _cases_due(cutoff)
    inbound = _inbound_due(cutoff)
    return RetentionCounts(
        issues=issues.count(),
        events=IssueEvent.objects.filter(issue__in=issues.values("pk")).count(),
        outbound_emails=_outbound_due(cutoff).exclude(status__in=["queued", "sending"]).count(),
        inbound_emails=inbound.count(),
        inbound_posts=_posts_due(cutoff, emails_due=inbound).count(),
        cases=cases.count(),
        case_events=CaseEvent.objects.filter(case__in=cases.values("pk")).count(),
    )


# The run --------------------------------------------------------------------------------------


def _without_personal_keys(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    return {key: value for key, value in data.items() if key not in PERSONAL_EVENT_KEYS}


def _redact_issue_batch(cutoff: datetime, now: datetime, limit: int) -> tuple[int, int]:
    """Claim up to `limit` due issues (locked, still unredacted), redact them and their events."""
    with transaction.atomic():
        ids = list(
            _issues_due(cutoff).select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0, 0
        issues = Issue.objects.filter(pk__in=ids, redacted_at__isnull=True)
        fields: dict[str, Any] = {name: REDACTED for name in ISSUE_TEXTS} | {name: "" for name in ISSUE_EMPTIED}
        redacted = issues.update(**fields, redacted_at=now, updated_at=now)
        events = list(IssueEvent.objects.filter(issue_id__in=ids).only("pk", "kind", "text", "data"))
        for event in events:
            if event.kind not in KEPT_TEXT_KINDS and event.text:
                event.text = REDACTED
            event.data = _without_personal_keys(event.data)
        IssueEvent.objects.bulk_update(events, ["text", "data"], batch_size=500)
    return redacted, len(events)


def _redact_case_batch(cutoff: datetime, now: datetime, limit: int) -> tuple[int, int]:
    with transaction.atomic():
        ids = list(
            _cases_due(cutoff).select_for_update(skip_locked=True).order_by("pk").values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return 0, 0
        fields: dict[str, Any] = {name: REDACTED for name in CASE_TEXTS}
        redacted = SystemicCase.objects.filter(pk__in=ids, redacted_at__isnull=True).update(
            **fields, highlighted_to="", redacted_at=now, updated_at=now
        )
        events = list(CaseEvent.objects.filter(case_id__in=ids).only("pk", "text", "data"))
        for event in events:
            event.text = REDACTED if event.text else ""
            event.data = _without_personal_keys(event.data)
        CaseEvent.objects.bulk_update(events, ["text", "data"], batch_size=500)
    return redacted, len(events)


def _drain(step: Any) -> int:
    """Run one batch step until it redacts nothing more; the total."""
    total = 0
    while True:
        done = step()
        if not done:
            return total
        total += done


def retention_run(*, now: datetime | None = None, batch_size: int | None = None) -> RetentionCounts:
    """Redact everything past the retention period, in batches (each its own transaction):

    1. the issues due and their events;
    2. the systemic cases due and their events;
    3. outbox rows about redacted issues, or about none and older than the period;
    4. inbound emails whose every issue is redacted, or that landed on none and are older;
    5. inbound posts older than the period whose every email is redacted.

    Idempotent: a second run finds nothing. Logs the counts (never personal data)."""
    now = now or timezone.now()
    cutoff = retention_cutoff(now=now)
    limit = batch_size or settings.RETENTION_BATCH_SIZE
    counts = RetentionCounts()

    while True:
        issues, events = _redact_issue_batch(cutoff, now, limit)
        if not issues:
            break
        counts.issues += issues
        counts.events += events
    while True:
        cases, case_events = _redact_case_batch(cutoff, now, limit)
        if not cases:
            break
        counts.cases += cases
        counts.case_events += case_events
    counts.outbound_emails = _drain(lambda: outbound_emails_redact(emails=_outbound_due(cutoff), now=now, limit=limit))
    counts.inbound_emails = _drain(lambda: inbound_emails_redact(emails=_inbound_due(cutoff), now=now, limit=limit))
    counts.inbound_posts = _drain(lambda: inbound_posts_redact(posts=_posts_due(cutoff), now=now, limit=limit))
    logger.info(
        "retention: redacted %s rows past %s months", counts.total, settings.RETENTION_MONTHS, extra=counts.as_dict()
    )
    return counts
