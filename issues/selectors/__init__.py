"""Every read of issues that views, the API, tasks and dashboards share, scoped to the user.

`issues_visible_to(user)` is THE scoping selector (DESIGN.md, "People and what they may see"):

| role | sees |
|---|---|
| pharmacy staff | issues of the pharmacies they are a member of |
| pharmacy owner | issues of every pharmacy of their owner organisations |
| LPC officer | issues of pharmacies in their LPC once the LPC is involved (`lpc_involved_at` set) |
| CPE IT | everything |

The LPC stays involved from the moment an owner copied it in, whatever happened since (resolved,
withdrawn, reopened). A user with several roles sees the union. Everything else builds on it, so nothing outside a
user's scope is ever listed, counted or shown: outside it, `issue_get_visible` raises Http404.

Speed (docs/benchmarks.md, "Pages"): the scope is a union of two index-served parts on the issue's
own `pharmacy_id`, each a list of pharmacy ids read once a request (directory.roles.
pharmacy_scope) and passed as one array (smartcard_route.expressions.InList): the pharmacies
the user acts for (staff or owner), served by "issue_pharmacy_scope"; the pharmacies of the
user's LPCs with the LPC involved, served by the partial index "issue_lpc_scope"; only the
parts the user's roles give (an OR with an empty part costs a heap read of every issue). Both
indexes carry `created_at`, the lists' order. So a list, a count or a page costs what the user
can see, not the whole table: no join to the pharmacy and no subquery tested row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Func, IntegerField, Prefetch, Q, QuerySet, Subquery, prefetch_related_objects
from django.http import Http404
from django.utils import timezone

from directory.models import LPC, Pharmacy, RegistrationAuthority, User
from directory.roles import holds_roles, officer_of, pharmacy_scope, pharmacy_side, user_roles
from issues.correspondence.outbound import RaRequest, issue_ra_request_preview
from issues.models import (
    OPEN_STATES,
    EventKind,
    InboundEmailMatch,
    Issue,
    IssueEvent,
    NotificationPreference,
    State,
    parse_number,
    parse_reference,
)
from issues.permissions import Roles, roles_for
from issues.route import allowed_actions
from smartcard_route.expressions import InIds, InList, SortedAfterFilter
from smartcard_route.mail.models import OutboundEmail

__all__ = [
    "IssueCounts",
    "RaRequest",
    "Rows",
    "for_table",
    "issue_allowed_actions",
    "issue_allowed_transitions",
    "issue_counts",
    "issue_events",
    "issue_get_visible",
    "issue_list",
    "issue_ra_request_preview",
    "issue_roles",
    "issues_visible_to",
    "issues_visible_to_officers_of",
    "lpcs_in_scope",
    "notification_preference_of",
    "pharmacies_for_reporting",
    "pharmacies_in_scope",
    "ras_in_scope",
    "reports_for_a_pharmacy",
    "sees_every_issue",
    "sole_lpc_of",
    "state_q",
    "with_list_joins",
]


def sees_every_issue(user: User | Any) -> bool:
    """Whether the user's scope is every issue (CPE IT)."""
    return holds_roles(user) and bool(user.is_cpe_it)


def issues_visible_to(user: User | Any) -> QuerySet[Issue]:
    """The issues this user may see; an anonymous or inactive user sees none."""
    if not holds_roles(user):
        return Issue.objects.none()
    if sees_every_issue(user):
        return Issue.objects.all()
    # Only the parts of the user's roles: an OR with a part that finds nothing still makes
    # PostgreSQL read both indexes into a bitmap and recheck every issue's row on the heap, where
    # one part alone is an index-only scan (an owner's 18,965 issues counted: 47 ms to 2 ms).
    # The pharmacies by id (directory.roles.pharmacy_scope, read once a request): the parts are
    # `pharmacy_id = ANY(ids)`, served by the scope indexes as the subqueries were.
    scope = pharmacy_scope(user)
    parts: list[Q] = []
    if scope.acts_for:
        parts.append(Q(InList("pharmacy_id", scope.acts_for)))
    if scope.lpc_area:
        parts.append(_lpc_scope_q(InList("pharmacy_id", scope.lpc_area)))
    if not parts:
        return Issue.objects.none()
    visible = parts[0]
    for part in parts[1:]:
        visible |= part
    return Issue.objects.filter(visible)


def issues_visible_to_officers_of(lpc_id: int) -> QuerySet[Issue]:
    """What an officer of this LPC, and of no other and no pharmacy, sees (`issues_visible_to`):
    the worker's LPC figures (issues.services.figures) are worked out over it."""
    return Issue.objects.filter(
        _lpc_scope_q(InIds("pharmacy_id", Pharmacy.objects.filter(lpc_id=lpc_id).order_by().values("pk")))
    )


def _lpc_scope_q(of_the_lpcs_pharmacies: Any) -> Q:
    """The LPC officer's part of the scope: the issues of the LPCs' pharmacies (a condition on
    `pharmacy_id`), once the LPC is involved."""
    return Q(of_the_lpcs_pharmacies, lpc_involved_at__isnull=False)


def sole_lpc_of(user: User | Any) -> int | None:
    """The LPC whose officers' scope is exactly this user's (`issues_visible_to_officers_of`): the
    user is an officer of that one LPC and holds no other role that widens the scope (staff, owner,
    CPE IT). None otherwise."""
    roles = user_roles(user)
    if not roles.lpc_officer or roles.pharmacy_staff or roles.pharmacy_owner or roles.cpe_it:
        return None
    lpc_ids = list(officer_of(user)[:2])
    return lpc_ids[0]["lpc_id"] if len(lpc_ids) == 1 else None


def issue_get_visible(*, user: User | Any, reference: str | int) -> Issue:
    """The issue with this reference ("SC-000123", or its number) if the user may see it, else 404."""
    pk = reference if isinstance(reference, int) else parse_reference(str(reference))
    if pk is None and isinstance(reference, str):
        pk = parse_number(reference)
    if pk is None:
        raise Http404("No such issue.")
    try:
        return (
            issues_visible_to(user)
            .select_related("pharmacy", "pharmacy__ra", "pharmacy__lpc", "pharmacy__owner", "reporter", "cpe_owner")
            .get(pk=pk)
        )
    except Issue.DoesNotExist:
        raise Http404("No such issue.") from None


def state_q(state: str) -> Q:
    """Issues in this state; "open" for every open state (OPEN_STATES)."""
    return Q(state__in=OPEN_STATES) if state == "open" else Q(state=state)


def issue_list(*, user: User | Any, state: str | None = None) -> QuerySet[Issue]:
    """Visible issues, newest first, with pharmacy and reporter joined so a page of them costs a
    constant number of queries; in `state` (see `state_q`) if given. The lists' filters are
    issues.filters.IssueFilter, which starts from this."""
    issues = with_list_joins(issues_visible_to(user))
    if state:
        issues = issues.filter(state_q(state))
    if sees_every_issue(user):
        # Read off the index in this order ("issue_created", "issue_open_created_kind"): a page of the
        # newest (or, backwards, the oldest) issues is the first rows the index gives.
        return issues.order_by("-created_at", "-pk")
    # A scope is at most the user's own issues, found through its indexes, then sorted; the same
    # order, written so PostgreSQL does not walk the whole table's index looking for them.
    return issues.order_by(SortedAfterFilter("created_at").desc(), "-pk")


# What a table of issues shows (issues.views.lists.issue_rows and the tables that print its rows:
# the lists, both dashboards): the issue's own columns a row reads, its pharmacy's name and ODS
# code, its RA's name. A table of 100 issues built with every column of the issue, its pharmacy,
# RA, LPC and reporter took 10 ms of Python; with these, under half (docs/benchmarks.md).
TABLE_FIELDS = (
    "kind",
    "summary",
    "state",
    "is_emergency",
    "due_at",
    "due_kind",
    "created_at",
    "pharmacy__name",
    "pharmacy__ods_code",
    "pharmacy__ra__name",
)


# How a list's or a dashboard's issues are read: `with_list_joins` (every column, with what the
# API's list of issues shows joined) or `for_table` (only what a page's table shows); either with
# `also`, more fields a row shows, "relation__field" for a related one (which is then joined).
Rows = Callable[..., QuerySet[Issue]]


def _relations(fields: Sequence[str]) -> list[str]:
    return [name.rpartition("__")[0] for name in fields if "__" in name]


def with_list_joins(issues: QuerySet[Issue], *also: str) -> QuerySet[Issue]:
    """These issues with what a list of them shows joined (the pharmacy, its RA and LPC, the
    reporter: the API's IssueListSerializer) and the relations of `also`, so that a page of them
    costs a constant number of queries."""
    return issues.select_related("pharmacy", "pharmacy__ra", "pharmacy__lpc", "reporter", *_relations(also))


def for_table(issues: QuerySet[Issue], *also: str) -> QuerySet[Issue]:
    """These issues with only what a table of them shows (TABLE_FIELDS) and `also`."""
    joined = ["pharmacy", "pharmacy__ra", *_relations(also)]
    return issues.select_related(None).select_related(*joined).only(*TABLE_FIELDS, *also)


def pharmacies_in_scope(*, user: User | Any) -> QuerySet[Pharmacy]:
    """The pharmacies whose issues the user may see some of: those they work at or own, those of
    their LPCs, every one for CPE IT."""
    if not holds_roles(user):
        return Pharmacy.objects.none()
    if user.is_cpe_it:
        return Pharmacy.objects.all()
    return Pharmacy.objects.filter(InList("pk", pharmacy_scope(user).pharmacy_ids))


# The filters' RA and LPC choices: by id, from the scope's pharmacies (directory.roles.
# pharmacy_scope, read once a request). As `pk IN (pharmacies...)` with `lpc_id IN (...)` in
# the OR, PostgreSQL read every pharmacy of every RA and tested each: 6 ms a list for a pharmacy's
# staff and an LPC officer, twice a page (1,000,000 issues' directory of 10,500 pharmacies).


def ras_in_scope(*, user: User | Any) -> QuerySet[RegistrationAuthority]:
    """The RAs of the pharmacies in the user's scope (the list's RA filter), by name."""
    if holds_roles(user) and user.is_cpe_it:
        pharmacies = Pharmacy.objects.order_by().values("ra_id")
        return RegistrationAuthority.objects.filter(InIds("pk", pharmacies)).order_by("name")
    return RegistrationAuthority.objects.filter(InList("pk", pharmacy_scope(user).ra_ids)).order_by("name")


def lpcs_in_scope(*, user: User | Any) -> QuerySet[LPC]:
    """The LPCs of the pharmacies in the user's scope (the list's LPC filter), by name."""
    if holds_roles(user) and user.is_cpe_it:
        pharmacies = Pharmacy.objects.order_by().values("lpc_id")
        return LPC.objects.filter(InIds("pk", pharmacies)).order_by("name")
    return LPC.objects.filter(InList("pk", pharmacy_scope(user).lpc_ids)).order_by("name")


def issue_events(*, issue: Issue) -> list[IssueEvent]:
    """The timeline, oldest first, with actors joined, the outbox rows of each event, and the
    inbound emails (with their attachments) of its EMAIL_IN events, the only ones that have any:
    two queries, three with inbound mail, four with attachments, however long it is."""
    events = list(IssueEvent.objects.filter(issue=issue).select_related("actor").order_by("created_at", "pk"))
    prefetch_related_objects(events, Prefetch("emails", queryset=OutboundEmail.objects.order_by("created_at", "pk")))
    prefetch_related_objects(
        [event for event in events if event.kind == EventKind.EMAIL_IN],
        Prefetch(
            "inbound_matches",
            queryset=InboundEmailMatch.objects.select_related("email", "detached_by").prefetch_related(
                "email__attachments"
            ),
        ),
    )
    return events


def issue_roles(*, user: User | Any, issue: Issue) -> Roles:
    return roles_for(user, issue)


def issue_allowed_actions(*, user: User | Any, issue: Issue, roles: Roles | None = None) -> list[str]:
    """The actions of the route table (issues.route) this user may take on this issue now, in the
    table's order: the row's rule over the user's roles, the issue's state and the row's conditions
    (a kind only the RA can fix, the reopen window, the RA asked), without side effects. What the
    directory or the timeline must hold (an RA with an email, an LPC, RA correspondence) is left to
    the service, whose message tells the user what is missing. `roles`: the user's roles for this
    issue (`issue_roles`) when the caller has them already (the issue page: one query fewer)."""
    return [row.name for row in allowed_actions(roles if roles is not None else roles_for(user, issue), issue)]


def issue_allowed_transitions(*, user: User | Any, issue: Issue) -> list[str]:
    """The transitions among `issue_allowed_actions` (those that move the issue along the route)."""
    return [row.name for row in allowed_actions(roles_for(user, issue), issue) if row.changes_state]


def reports_for_a_pharmacy(*, user: User | Any) -> bool:
    """Whether the user may report a problem for some pharmacy (`pharmacies_for_reporting`).
    Counted, not `exists()`: with its LIMIT 1, PostgreSQL expected to meet one of the user's
    pharmacies soon and read all of England's 10,500 in turn (2 ms on every list page) instead of
    the user's own by their indexes (0.2 ms; docs/benchmarks.md)."""
    return pharmacies_for_reporting(user=user).order_by().count() > 0


def pharmacies_for_reporting(*, user: User | Any) -> QuerySet[Pharmacy]:
    """The pharmacies the user may report a problem for: those they work at or own."""
    if not holds_roles(user):
        return Pharmacy.objects.none()
    return Pharmacy.objects.filter(pharmacy_side(user)).select_related("ra", "lpc", "owner").order_by("name")


@dataclass(frozen=True)
class IssueCounts:
    """How many visible issues are in each state (every state present, zero when none), and how
    many are overdue (Issue.overdue_q: reminders do not take an issue out of this count)."""

    by_state: dict[str, int]
    overdue: int
    # When the closed states' counts were taken, when they come from the worker's snapshot
    # (issues.selectors.cpe.national_counts); None: counted now.
    closed_as_of: datetime | None = None


def issue_counts(*, user: User | Any, states: Sequence[str] | None = None) -> IssueCounts:
    """The dashboards' counts, in one query of two parts, each read off an index: by state (the
    scope's index holds the state, so no row is read) and overdue, a subquery run once (the partial
    index of issues with a deadline: only open issues have one). Counted in one pass, as before,
    every row of the scope was read for its deadline: for CPE IT, the whole table."""
    visible = issues_visible_to(user)
    if states is not None:  # only these states counted; the others stay 0
        visible = visible.filter(state__in=states)
    late = visible.filter(Issue.overdue_q(timezone.now())).order_by().values(n=_COUNT)
    by_state = {state: 0 for state in State.values}
    overdue = 0
    for row in visible.values("state").annotate(n=Count("*"), late=Subquery(late)).order_by():
        by_state[row["state"]] = row["n"]
        overdue = row["late"]
    return IssueCounts(by_state=by_state, overdue=overdue)


# COUNT(*) as a plain function (not an aggregate to Django), for a subquery that counts its rows.
_COUNT = Func(template="COUNT(*)", output_field=IntegerField())


def notification_preference_of(*, user: User) -> str:
    """How the user wants their reminders (a NotificationPreference.Delivery value); no row means
    immediate emails, as the nudge sweep reads it."""
    chosen = NotificationPreference.objects.filter(user=user).values_list("nudge_delivery", flat=True).first()
    return chosen or NotificationPreference.Delivery.IMMEDIATE
