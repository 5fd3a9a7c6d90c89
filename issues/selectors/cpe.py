"""CPE IT's reads: what its dashboard shows (DESIGN.md, "LPC officers and CPE IT") and the issues
an unmatched email may belong to. CPE IT only: anyone else gets nothing.

- Escalations to triage: escalated issues not triaged since they last entered escalated (a
  re-escalation, or a reopening into escalated, asks for a new triage); the oldest deadline first.
- Triaged escalations: the other escalated issues that have an owner in CPE IT, grouped by owner,
  the user's own first.
- Unmatched mail: how many, and the newest few.
- Suggestions for an unmatched email: the issues it may belong to, from its sender and subject.

Each is a constant number of queries, however many rows there are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

from django.db.models import Case, F, Q, QuerySet, Value, When

from directory.models import LPC, Pharmacy, User
from directory.validators import LOCUM_ODS_CODE
from issues.correspondence.inbound import REFERENCE_IN_SUBJECT, is_shared_mail_domain, unmatched_emails
from issues.models import OPEN_STATES, InboundEmailMatch, Issue, State, UnmatchedEmail
from issues.selectors import IssueCounts, Rows, issue_counts, issues_visible_to, sees_every_issue, with_list_joins
from issues.selectors.figures import national_closed_counts
from smartcard_route.mail.models import InboundEmail
from smartcard_route.pagination import deferred_join

DASHBOARD_SIZE = 50
TRIAGED_SIZE = 100
UNMATCHED_SHOWN = 5

__all__ = [
    "CpeDashboard",
    "OwnerGroup",
    "Suggestion",
    "cpe_dashboard",
    "escalations_to_triage",
    "is_cpe_it",
    "triaged_escalations",
    "unmatched_email_suggestions",
]


def is_cpe_it(user: User | Any) -> bool:
    """Whether this user is an active member of the CPE IT team, signed in."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_cpe_it)


def _escalations(user: User | Any) -> QuerySet[Issue]:
    """Visible escalated issues (CPE IT only)."""
    if not is_cpe_it(user):
        return Issue.objects.none()
    return issues_visible_to(user).filter(state=State.ESCALATED)


# What an escalation's row shows besides an issue list's (issues.selectors.Rows): its triage and
# who owns it in CPE IT (after a new escalation, the earlier owner stays as a hint).
ESCALATION_FIELDS = ("triage_outcome", "triaged_at", "cpe_owner__full_name")


# Not triaged since it last entered escalated: entering escalated clears the triage
# (issues.services.transitions), so the issue's own field says it, with no look at its events.
AWAITING_TRIAGE = Q(triaged_at__isnull=True)


def escalations_to_triage(*, user: User | Any, rows: Rows = with_list_joins) -> QuerySet[Issue]:
    """Escalations CPE IT has not triaged since they were escalated, the earliest deadline first;
    `rows`: how their issues are read (issues.selectors.Rows; with ESCALATION_FIELDS)."""
    return (
        rows(_escalations(user), *ESCALATION_FIELDS)
        .filter(AWAITING_TRIAGE)
        .order_by(F("due_at").asc(nulls_last=True), "created_at", "pk")
    )


def triaged_escalations(*, user: User | Any, rows: Rows = with_list_joins) -> QuerySet[Issue]:
    """Escalations triaged since they were escalated, by owner (the user's own first, then by name),
    then the earliest deadline first; `rows`: as for escalations_to_triage."""
    yours_first = Case(When(cpe_owner_id=getattr(user, "pk", None), then=Value(0)), default=Value(1))
    return (
        rows(_escalations(user), *ESCALATION_FIELDS)
        .exclude(AWAITING_TRIAGE)
        .filter(cpe_owner__isnull=False)
        .order_by(
            yours_first, "cpe_owner__full_name", "cpe_owner_id", F("due_at").asc(nulls_last=True), "triaged_at", "pk"
        )
    )


@dataclass(frozen=True)
class OwnerGroup:
    """The triaged escalations one person in CPE IT owns."""

    owner: User
    yours: bool
    issues: list[Issue]


@dataclass(frozen=True)
class CpeDashboard:
    to_triage: list[Issue]  # the first DASHBOARD_SIZE
    to_triage_count: int
    triaged: list[OwnerGroup]  # the first TRIAGED_SIZE issues, grouped
    triaged_count: int
    unmatched_count: int
    unmatched_newest: list[InboundEmail]
    counts: IssueCounts


def cpe_dashboard(*, user: User | Any, rows: Rows = with_list_joins) -> CpeDashboard:
    """Everything CPE IT's dashboard shows, in seven queries (empty for anyone else). `rows`: how
    the lists' issues are read (the page: issues.selectors.for_table)."""
    # Deferred joins: each list's order is read off its index ("issue_awaiting_triage",
    # "issue_triaged_by_owner"), and only the rows shown are read with what they join.
    to_triage = deferred_join(escalations_to_triage(user=user, rows=rows), 0, DASHBOARD_SIZE)
    first_triaged = deferred_join(triaged_escalations(user=user, rows=rows), 0, TRIAGED_SIZE)
    groups = [
        OwnerGroup(owner=issues[0].cpe_owner, yours=owner_id == user.pk, issues=issues)  # type: ignore[arg-type]
        for owner_id, grouped in groupby(first_triaged, key=lambda issue: issue.cpe_owner_id)
        if (issues := list(grouped))
    ]
    allowed = is_cpe_it(user)
    # Two counts, each read off its list's partial index alone (0.4 ms each at England's size); as
    # one query's two filtered counts, every escalated row was read from the table (3.6 ms).
    return CpeDashboard(
        to_triage=to_triage,
        to_triage_count=_escalations(user).filter(AWAITING_TRIAGE).count(),
        triaged=groups,
        triaged_count=_escalations(user).exclude(AWAITING_TRIAGE).filter(cpe_owner__isnull=False).count(),
        unmatched_count=UnmatchedEmail.objects.count() if allowed else 0,
        unmatched_newest=list(unmatched_emails(user=user)[:UNMATCHED_SHOWN]),
        counts=national_counts(user=user),
    )


def national_counts(*, user: User | Any) -> IssueCounts:
    """CPE IT's counts by state: the open states and the overdue counted now (a few per cent of
    the issues, through the open issues' partial index), the closed states (nearly all of them, a
    million at England's size) as the worker last counted them with the national figures, and
    when. Before the worker's first snapshot, all counted now."""
    closed = national_closed_counts() if sees_every_issue(user) else None
    if closed is None:
        return issue_counts(user=user)
    by_state, as_of = closed
    counts = issue_counts(user=user, states=OPEN_STATES)
    return replace(counts, by_state={**counts.by_state, **by_state}, closed_as_of=as_of)


# Suggestions for an unmatched email ---------------------------------------------------------------

# A Smartcard number in a subject: 12 digits, maybe in groups of four.
SMARTCARD_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4})(?![0-9])")
# A word of five letters and digits: maybe an ODS code (the directory says which are).
WORD_OF_FIVE = re.compile(r"\b([A-Za-z0-9]{5})\b")
SUGGESTIONS = 10

# Why an issue is suggested, best first: (annotation, weight, reason given the sender and the issue).
_REASONS: tuple[tuple[str, int, str], ...] = (
    ("by_reference", 100, "The subject names this issue's reference."),
    ("by_smartcard", 60, "The subject has this issue's Smartcard number."),
    ("by_thread", 50, "Earlier email from {sender} is on this issue."),
    ("by_reporter", 45, "{sender} reported this issue."),
    ("by_pharmacy", 40, "{sender} is the pharmacy's, or one of its staff or owners."),
    ("by_ods", 35, "The subject names the pharmacy's ODS code."),
    ("by_ra", 30, "{sender} is the pharmacy's RA."),
    ("by_ra_domain", 20, "{sender} writes from the domain of the pharmacy's RA."),
    ("by_lpc", 15, "{sender} is the pharmacy's LPC, which is involved."),
)
_OPEN_BONUS = 10  # an open issue before a closed one with the same reasons


@dataclass(frozen=True)
class Suggestion:
    """An issue an unmatched email may belong to, with why."""

    issue: Issue
    reasons: tuple[str, ...]
    score: int


def _matching_sender(address: str) -> dict[str, Q]:
    """The conditions on Issue that say the sender is known to it, by annotation name."""
    users = User.objects.filter(email__iexact=address, is_active=True).values("pk")
    pharmacies = Pharmacy.objects.filter(
        Q(email__iexact=address) | Q(owner__email__iexact=address) | Q(staff__in=users) | Q(owner__members__in=users)
    ).values("pk")
    domain = address.rpartition("@")[2]
    conditions = {
        "by_thread": Q(
            pk__in=InboundEmailMatch.objects.filter(email__from_email__iexact=address, detached_at__isnull=True).values(
                "issue_id"
            )
        ),
        "by_reporter": Q(reporter__in=users),
        "by_pharmacy": Q(pharmacy__in=pharmacies),
        "by_ra": Q(pharmacy__ra__email__iexact=address),
        "by_lpc": Q(lpc_involved_at__isnull=False)
        & Q(pharmacy__lpc__in=LPC.objects.filter(Q(email__iexact=address) | Q(officers__in=users)).values("pk")),
    }
    if domain and not is_shared_mail_domain(domain):
        conditions["by_ra_domain"] = Q(pharmacy__ra__email__iendswith=f"@{domain}") & ~conditions["by_ra"]
    return conditions


def _matching_subject(subject: str) -> dict[str, Q]:
    """The conditions on Issue that say the subject names it, by annotation name."""
    conditions: dict[str, Q] = {}
    references = {int(number) for number in REFERENCE_IN_SUBJECT.findall(subject)}
    if references:
        conditions["by_reference"] = Q(pk__in=references)
    numbers = {re.sub(r"\D", "", found) for found in SMARTCARD_IN_TEXT.findall(subject)}
    if numbers:
        conditions["by_smartcard"] = Q(smartcard_number__in=numbers)
    codes = {word.upper() for word in WORD_OF_FIVE.findall(subject)} - {LOCUM_ODS_CODE}
    if codes:
        conditions["by_ods"] = Q(pharmacy__ods_code__in=codes)
    return conditions


def unmatched_email_suggestions(*, user: User | Any, email: InboundEmail) -> list[Suggestion]:
    """The issues this email may belong to, best first (SUGGESTIONS at most; CPE IT only): from its
    sender (earlier email from them on the issue, the reporter, the pharmacy's address or people,
    its RA by address or by a domain of the RA's own, its LPC once involved) and from its subject
    (an issue reference, a Smartcard number, a pharmacy's ODS code). Each reason has a weight
    (_REASONS); an open issue comes before a closed one. One query."""
    if not is_cpe_it(user):
        return []
    address = (email.from_email or "").strip().lower()
    conditions = {**(_matching_sender(address) if "@" in address else {}), **_matching_subject(email.subject or "")}
    if not conditions:
        return []
    flags = {name: Case(When(found, then=Value(True)), default=Value(False)) for name, found in conditions.items()}
    weights = {name: weight for name, weight, _ in _REASONS}
    score = sum(
        (Case(When(condition, then=Value(weights[name])), default=Value(0)) for name, condition in conditions.items()),
        start=Case(When(state__in=OPEN_STATES, then=Value(_OPEN_BONUS)), default=Value(0)),
    )
    any_condition = Q()
    for condition in conditions.values():
        any_condition |= condition
    issues = (
        issues_visible_to(user)
        .filter(any_condition)
        .annotate(suggestion_score=score, **flags)
        .select_related("pharmacy", "pharmacy__ra", "reporter")
        .order_by("-suggestion_score", "-created_at", "-pk")[:SUGGESTIONS]
    )
    sender = email.from_email or "The sender"
    return [
        Suggestion(
            issue=issue,
            reasons=tuple(reason.format(sender=sender) for name, _, reason in _REASONS if getattr(issue, name, False)),
            score=issue.suggestion_score,  # type: ignore[attr-defined]
        )
        for issue in issues
    ]
