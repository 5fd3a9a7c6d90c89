"""Every read of systemic cases (DESIGN.md, "LPC officers and CPE IT", step 7 of the route).

Cases, their suggestions and their evidence are CPE IT's alone: `cases_visible_to` is their scope
(everything for CPE IT, nothing for anyone else), and `case_get_visible` answers 404 outside it.
A pharmacy or an LPC officer sees only that an issue of theirs is part of a case, its title and
status (`case_of_issue`), read for an issue they already got through `issue_get_visible`.

Suggestions (`case_suggestions`): groups of open issues, not yet in a case, with the same RA (the
pharmacy's RA) and kind of problem, from at least settings.CASE_SUGGESTION_MIN_PHARMACIES distinct
pharmacies, reported in the last settings.CASE_SUGGESTION_WITHIN_DAYS days (a window that slides
with today: an issue leaves its group once it is older). Only open issues count: a resolved or
withdrawn one is fixed or gone, and a case is for a problem that is still there. Computed in the
database (per pharmacy and kind, then per RA and kind: `GROUPS_SQL`), in two queries however many
issues. At England's size that is 30 to 40 ms of the CPE IT dashboard's budget, so the worker
keeps them (CaseSuggestionsSnapshot, every CASE_SUGGESTIONS_REFRESH_MINUTES) and a page reads
them, less what changed since, in a query or two (`case_suggestions`), saying when they were
worked out.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Max, Min, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from directory.models import Pharmacy, RegistrationAuthority, User
from directory.roles import holds_roles
from issues.models import (
    OPEN_STATES,
    CaseEvent,
    CaseIssue,
    CaseStatus,
    CaseSuggestionsSnapshot,
    InboundEmailMatch,
    Issue,
    IssueEvent,
    IssueOutboundEmail,
    Kind,
    SystemicCase,
    format_reference,
    parse_number,
)
from smartcard_route.expressions import InList

__all__ = [
    "CaseEvidence",
    "CaseSuggestion",
    "IssueCase",
    "case_events",
    "case_evidence",
    "case_get_visible",
    "case_issues",
    "case_list",
    "case_of_issue",
    "case_suggestions",
    "cases_dashboard_sections",
    "cases_visible_to",
    "may_see_cases",
    "parse_case_reference",
    "suggestions_from_json",
    "suggestions_to_json",
    "work_out_case_suggestions",
]

# The most suggestions listed at once (the dashboard shows fewer).
MAX_SUGGESTIONS = 50
DASHBOARD_CASES = 20
DASHBOARD_SUGGESTIONS = 10


def may_see_cases(user: User | Any) -> bool:
    """Only the CPE IT team sees cases, their suggestions and their evidence."""
    return holds_roles(user) and bool(user.is_cpe_it)


def cases_visible_to(user: User | Any) -> QuerySet[SystemicCase]:
    if not may_see_cases(user):
        return SystemicCase.objects.none()
    return SystemicCase.objects.all()


def parse_case_reference(reference: str | int) -> int | None:
    """'CASE-00012' (any case, with or without leading zeros) or 12 to 12; None when it is not one."""
    if isinstance(reference, int):
        return reference
    text = str(reference).strip().upper()
    if text.startswith("CASE-"):
        text = text[5:]
    return parse_number(text)


def case_get_visible(*, user: User | Any, reference: str | int) -> SystemicCase:
    """The case with this reference if the user may see it (CPE IT), else 404."""
    pk = parse_case_reference(reference)
    case = cases_visible_to(user).select_related("created_by").filter(pk=pk).first() if pk else None
    if case is None:
        raise Http404("No such case.")
    return case


def case_list(*, user: User | Any, status: str | None = None) -> QuerySet[SystemicCase]:
    """The cases the user may see, newest first, each with its number of issues; in `status` if given
    ("active" for every status but closed)."""
    cases = cases_visible_to(user).annotate(issue_count=Count("links")).select_related("created_by")
    if status == "active":
        cases = cases.exclude(status=CaseStatus.CLOSED)
    elif status:
        cases = cases.filter(status=status)
    return cases.order_by("-created_at", "-pk")


def case_issues(*, case: SystemicCase) -> QuerySet[Issue]:
    """The case's issues, in the order they were added, with pharmacy, RA and LPC joined."""
    return (
        Issue.objects.filter(case_link__case=case)
        .select_related("pharmacy", "pharmacy__ra", "pharmacy__lpc", "reporter", "case_link")
        .order_by("case_link__added_at", "case_link__id")
    )


def case_events(*, case: SystemicCase) -> QuerySet[CaseEvent]:
    """The case's history, oldest first, with actors and issues joined."""
    return CaseEvent.objects.filter(case=case).select_related("actor", "issue").order_by("created_at", "pk")


@dataclass(frozen=True)
class IssueCase:
    """What anyone who sees an issue may know of its case: reference, title and status."""

    reference: str
    title: str
    status: str
    status_label: str


def case_of_issue(*, issue: Issue) -> IssueCase | None:
    """The case an issue is part of (title and status only), or None; one query. The caller has
    the issue through issue_get_visible, so it is in the user's scope."""
    row = CaseIssue.objects.filter(issue_id=issue.pk).values("case_id", "case__title", "case__status").first()
    if row is None:
        return None
    case = SystemicCase(pk=row["case_id"], title=row["case__title"], status=row["case__status"])
    return IssueCase(
        reference=case.reference, title=case.title, status=case.status, status_label=case.get_status_display()
    )


# Suggestions ----------------------------------------------------------------------------------


@dataclass
class CaseSuggestion:
    """A candidate group: open issues of one RA and kind, from several pharmacies, reported lately."""

    ra_id: int
    ra_name: str
    kind: str
    pharmacies: int
    newest: datetime
    oldest: datetime
    issue_ids: list[int] = field(default_factory=list)  # newest first
    pharmacy_ids: list[int] = field(default_factory=list)  # each issue's pharmacy, in the same order
    as_at: datetime | None = None  # when the groups were worked out (the worker's refresh)

    @property
    def kind_label(self) -> str:
        return str(Kind(self.kind).label)

    @property
    def title(self) -> str:
        """The pre-filled title of the case it would become: '<kind> at <RA>'."""
        return f"{self.kind_label} at {self.ra_name}"

    @property
    def references(self) -> list[str]:
        return [format_reference(pk) for pk in self.issue_ids]


def _open_recent(issues: QuerySet[Issue], now: datetime) -> QuerySet[Issue]:
    """Those of `issues` a suggestion may hold, but for their pharmacy having an RA (`_with_ra`):
    open, in no case, reported within the window. (Suggestions are CPE IT's, who see every issue.)"""
    since = now - timedelta(days=int(settings.CASE_SUGGESTION_WITHIN_DAYS))
    return issues.filter(state__in=OPEN_STATES, case_link__isnull=True, created_at__gte=since)


def _with_ra(candidates: QuerySet[Issue]) -> QuerySet[Issue]:
    return candidates.filter(pharmacy__ra__isnull=False)


# The groups, in two steps: the candidates per pharmacy and kind (off the open issues' index
# alone), then those per RA and kind, each row of the first a distinct pharmacy. Written as one
# GROUP BY RA and kind with COUNT(DISTINCT pharmacy), PostgreSQL underestimated the recent open
# issues (state and age go together, which no statistic says), joined the pharmacy for each of
# them one by one and sorted them all for the distinct count: 67 ms for CPE IT at 1,000,000
# issues, 32 ms in two steps. The inner query is the ORM's own; the join to the RA (an inner
# join) keeps only pharmacies that have one, as `_with_ra` does for the issues' query. Its ORDER
# BY is the groups' order, which `_rank` writes again for the worker's copy: change both together.
GROUPS_SQL = """
SELECT pharmacy.ra_id, ra.name, per_pharmacy.kind, COUNT(*) AS pharmacies,
       MAX(per_pharmacy.newest) AS newest, MIN(per_pharmacy.oldest) AS oldest
FROM ({per_pharmacy}) per_pharmacy
JOIN {pharmacy} pharmacy ON pharmacy.id = per_pharmacy.pharmacy_id
JOIN {ra} ra ON ra.id = pharmacy.ra_id
GROUP BY pharmacy.ra_id, ra.name, per_pharmacy.kind
HAVING COUNT(*) >= %s
ORDER BY pharmacies DESC, newest DESC, pharmacy.ra_id, per_pharmacy.kind
LIMIT %s
"""


def _groups(candidates: QuerySet[Issue], limit: int) -> list[dict[str, Any]]:
    per_pharmacy = (
        candidates.values("pharmacy_id", "kind").annotate(newest=Max("created_at"), oldest=Min("created_at")).order_by()
    )
    try:
        inner, params = per_pharmacy.query.sql_with_params()
    except EmptyResultSet:  # nobody's candidates (anyone but CPE IT): no query at all
        return []
    sql = GROUPS_SQL.format(
        per_pharmacy=inner, pharmacy=Pharmacy._meta.db_table, ra=RegistrationAuthority._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, int(settings.CASE_SUGGESTION_MIN_PHARMACIES), limit])
        rows = cursor.fetchall()
    return [
        {
            "pharmacy__ra_id": ra_id,
            "pharmacy__ra__name": name,
            "kind": kind,
            "pharmacies": pharmacies,
            "newest": _moment(newest),
            "oldest": _moment(oldest),
        }
        for ra_id, name, kind, pharmacies, newest, oldest in rows
    ]


def _moment(value: Any) -> datetime:
    """A timestamp from a raw query: a datetime on PostgreSQL, text on SQLite (UTC)."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    parsed = parse_datetime(str(value))
    assert parsed is not None, value
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def work_out_case_suggestions(*, now: datetime | None = None, limit: int = MAX_SUGGESTIONS) -> list[CaseSuggestion]:
    """The suggested groups of every open issue (module docstring), worked out from the rows as of
    `now`, the most pharmacies first, then the most recent; two queries: the groups, then their
    issues. The worker keeps them (`case_suggestions_refresh`); `case_suggestions` reads them."""
    now = now or timezone.now()
    candidates = _open_recent(Issue.objects.all(), now)
    groups = _groups(candidates, limit)
    if not groups:
        return []
    wanted = Q()
    for group in groups:
        wanted |= Q(pharmacy__ra_id=group["pharmacy__ra_id"], kind=group["kind"])
    # Only the ids: a group at England's size holds dozens of issues, and the dashboard shows ten
    # groups (no model instances for what is only a reference and a link).
    by_group: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for pk, pharmacy_id, ra_id, kind in (
        _with_ra(candidates)
        .filter(wanted)
        .values_list("pk", "pharmacy_id", "pharmacy__ra_id", "kind")
        .order_by("-created_at", "-pk")
    ):
        by_group.setdefault((ra_id, kind), []).append((pk, pharmacy_id))
    return [
        CaseSuggestion(
            ra_id=group["pharmacy__ra_id"],
            ra_name=group["pharmacy__ra__name"],
            kind=group["kind"],
            pharmacies=group["pharmacies"],
            newest=group["newest"],
            oldest=group["oldest"],
            issue_ids=[pk for pk, _ in by_group[(group["pharmacy__ra_id"], group["kind"])]],
            pharmacy_ids=[pharmacy for _, pharmacy in by_group[(group["pharmacy__ra_id"], group["kind"])]],
            as_at=now,
        )
        for group in groups
        if (group["pharmacy__ra_id"], group["kind"]) in by_group
    ]


def case_suggestions(
    *, user: User | Any, now: datetime | None = None, limit: int = MAX_SUGGESTIONS
) -> list[CaseSuggestion]:
    """The suggested groups CPE IT sees (nobody else sees any): the worker's, as of its last
    refresh (`CaseSuggestion.as_at`), less what changed since (`_still_suggested`); worked out
    from the rows when the worker has written none, or none for three of its refreshes (it may
    have stopped: the page is slower, not wrong), or as of `now` when it is given."""
    if not may_see_cases(user):
        return []
    if now is None:
        fresh_since = timezone.now() - timedelta(minutes=3 * int(settings.CASE_SUGGESTIONS_REFRESH_MINUTES))
        snapshot = (
            CaseSuggestionsSnapshot.objects.filter(computed_at__gte=fresh_since)
            .order_by("-computed_at")
            .values_list("pk", "computed_at")
            .first()
        )
        if snapshot is not None:
            suggestions = _snapshot_suggestions(*snapshot)
            if suggestions is not None:
                return _still_suggested(suggestions, limit)
    return work_out_case_suggestions(now=now, limit=limit)


# The groups of the snapshots read lately, by id and time: a snapshot is written once and never changed
# (issues.services.suggestions makes a new one and deletes the others), and its data, every
# group's issues, is tens of kilobytes of JSON to read and decode on each CPE IT dashboard.
_SNAPSHOTS_KEPT = 2
_snapshots: dict[tuple[int, datetime], list[CaseSuggestion]] = {}
_snapshots_lock = threading.Lock()


def _snapshot_suggestions(pk: int, computed_at: datetime) -> list[CaseSuggestion] | None:
    """The groups of this snapshot, read once per process; None if it was deleted meanwhile."""
    key = (pk, computed_at)  # the time too: a database restored, or tests rolled back, reuse ids
    suggestions = _snapshots.get(key)
    if suggestions is None:
        data = CaseSuggestionsSnapshot.objects.filter(pk=pk).values_list("data", flat=True).first()
        if data is None:
            return None
        suggestions = suggestions_from_json(data, as_at=computed_at)
        with _snapshots_lock:
            for old in sorted(_snapshots)[: max(0, len(_snapshots) - _SNAPSHOTS_KEPT + 1)]:
                del _snapshots[old]
            _snapshots[key] = suggestions
    return suggestions


def _still_suggested(suggestions: list[CaseSuggestion], limit: int) -> list[CaseSuggestion]:
    """The worker's groups as they stand now: without their issues grouped into a case, closed or
    older than the window since it worked them out, each group's pharmacies counted again, and a
    group left with too few of them gone. (An issue reported since joins its group at the next
    refresh: the page says when that was.)

    A group only loses issues between two refreshes, so its stored place is the best it can have
    now: the groups are checked `limit` at a time, in their stored order, one query a batch, until
    the `limit` best checked ones rank before every group not checked yet (the dashboard's ten:
    almost always one batch, not the 50 groups' thousands of issues)."""
    minimum = int(settings.CASE_SUGGESTION_MIN_PHARMACIES)
    kept: list[CaseSuggestion] = []
    pending = list(suggestions)  # in the order the worker stored them: the best first
    while pending and not (len(kept) >= limit and _rank(kept[limit - 1]) < _rank(pending[0])):
        batch, pending = pending[:limit], pending[limit:]
        ids = [pk for suggestion in batch for pk in suggestion.issue_ids]
        still = set(
            _open_recent(Issue.objects.filter(InList("pk", ids)), timezone.now())
            .values_list("pk", flat=True)
            .order_by()
        )
        for suggestion in batch:
            pairs = [
                pair for pair in zip(suggestion.issue_ids, suggestion.pharmacy_ids, strict=True) if pair[0] in still
            ]
            pharmacies = len({pharmacy for _, pharmacy in pairs})
            if pharmacies >= minimum:
                kept.append(
                    replace(
                        suggestion,
                        pharmacies=pharmacies,
                        issue_ids=[pk for pk, _ in pairs],
                        pharmacy_ids=[pharmacy for _, pharmacy in pairs],
                    )
                )
        kept.sort(key=_rank)
    return kept[:limit]


def _rank(suggestion: CaseSuggestion) -> tuple[int, float, int, str]:
    """The groups' order (GROUPS_SQL): the most pharmacies, then the newest, then RA and kind."""
    return (-suggestion.pharmacies, -suggestion.newest.timestamp(), suggestion.ra_id, suggestion.kind)


def suggestions_to_json(suggestions: list[CaseSuggestion]) -> list[dict[str, Any]]:
    """The groups as the worker stores them (CaseSuggestionsSnapshot.data)."""
    return [
        {
            "ra_id": suggestion.ra_id,
            "ra_name": suggestion.ra_name,
            "kind": suggestion.kind,
            "pharmacies": suggestion.pharmacies,
            "newest": suggestion.newest.isoformat(),
            "oldest": suggestion.oldest.isoformat(),
            "issues": [
                [pk, pharmacy] for pk, pharmacy in zip(suggestion.issue_ids, suggestion.pharmacy_ids, strict=True)
            ],
        }
        for suggestion in suggestions
    ]


def suggestions_from_json(data: list[dict[str, Any]], *, as_at: datetime) -> list[CaseSuggestion]:
    return [
        CaseSuggestion(
            ra_id=row["ra_id"],
            ra_name=row["ra_name"],
            kind=row["kind"],
            pharmacies=row["pharmacies"],
            newest=datetime.fromisoformat(row["newest"]),
            oldest=datetime.fromisoformat(row["oldest"]),
            issue_ids=[pk for pk, _ in row["issues"]],
            pharmacy_ids=[pharmacy for _, pharmacy in row["issues"]],
            as_at=as_at,
        )
        for row in data
    ]


def cases_dashboard_sections(*, user: User | Any) -> dict[str, Any]:
    """The CPE IT dashboard's sections on cases (templates/issues/cases/_dashboard_sections.jinja):
    the cases not closed, with status and number of issues, and the suggested groups. Three queries
    (four on the first read of a new snapshot of the worker's groups)."""
    return {
        "open_cases": list(case_list(user=user, status="active")[:DASHBOARD_CASES]),
        "case_suggestions": case_suggestions(user=user, limit=DASHBOARD_SUGGESTIONS),
        "open_cases_limit": DASHBOARD_CASES,
    }


# The evidence pack ----------------------------------------------------------------------------


@dataclass
class CaseEvidence:
    """Everything the evidence pack holds, fetched in a constant number of queries: the case, its
    history, its issues each with its timeline, and every email in and out of each issue."""

    case: SystemicCase
    history: list[CaseEvent]
    issues: list[Issue]
    events: dict[int, list[IssueEvent]]
    outbound: dict[int, list[IssueOutboundEmail]]
    inbound: dict[int, list[InboundEmailMatch]]


def case_evidence(*, user: User | Any, case: SystemicCase) -> CaseEvidence:
    """The evidence of a case the user may see (404 otherwise): five queries however many issues,
    events and emails."""
    case = case_get_visible(user=user, reference=case.pk)
    issues = list(case_issues(case=case))
    ids = [issue.pk for issue in issues]
    events: dict[int, list[IssueEvent]] = {pk: [] for pk in ids}
    for event in IssueEvent.objects.filter(issue_id__in=ids).select_related("actor").order_by("created_at", "pk"):
        events[event.issue_id].append(event)
    outbound: dict[int, list[IssueOutboundEmail]] = {pk: [] for pk in ids}
    for link in (
        IssueOutboundEmail.objects.filter(issue_id__in=ids)
        .select_related("email")
        .order_by("email__created_at", "email_id")
    ):
        outbound[link.issue_id].append(link)
    inbound: dict[int, list[InboundEmailMatch]] = {pk: [] for pk in ids}
    for match in (
        InboundEmailMatch.objects.filter(issue_id__in=ids, detached_at__isnull=True)
        .select_related("email")
        .prefetch_related(Prefetch("email__attachments"))
        .order_by("email__received_at", "email_id")
    ):
        inbound[match.issue_id].append(match)
    return CaseEvidence(
        case=case,
        history=list(case_events(case=case)),
        issues=issues,
        events=events,
        outbound=outbound,
        inbound=inbound,
    )
