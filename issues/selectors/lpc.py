"""The dashboards' reads: the LPC officer's (`lpc_dashboard`).

What the LPC officer may see in detail is `issues_visible_to` (the issues of their LPCs'
pharmacies once the LPC is involved); the lists below read through it. The counts cover every
issue of the LPC's area, the pharmacies of the officer's LPCs, involved or not (DESIGN.md, "LPC
officers and CPE IT": "counts only for issues the LPC is not involved in"): `_area` is read only
inside aggregates, so no row of it ever leaves this module, and each count says how many of its
issues the LPC is involved in (those the list it links to shows).

Every count aggregates in the database: the page costs the same handful of queries however many
issues the area holds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from directory.models import LPC, Pharmacy, User
from directory.roles import holds_roles, officer_of
from issues.clock import subtract_working_days
from issues.models import OPEN_STATES, Deadline, Issue, Kind, State, TriageOutcome
from issues.selectors import Rows, issues_visible_to, with_list_joins
from issues.selectors.figures import lpc_area_closed_counts
from issues.windows import working_days_in_words
from smartcard_route.expressions import InIds

__all__ = [
    "AGEING_BANDS",
    "AreaCount",
    "LpcDashboard",
    "lpc_dashboard",
    "lpcs_of_officer",
    "waiting_on_lpc_q",
]

DASHBOARD_SIZE = 50

# The LPC's own waits (the LPC action window, the follow-up of its work).
LPC_WAITS = (Deadline.LPC_ACTION, Deadline.LPC_FOLLOW_UP)

# The ageing of open issues: working days in their current state, in bands from these bounds.
AGEING_BANDS: tuple[int, ...] = (2, 5, 10)


def waiting_on_lpc_q() -> Q:
    """Issues that wait on the LPC: its own window runs (LPC action, LPC follow-up), or CPE IT
    returned the escalation to the LPC with advice and waits for nobody else."""
    returned = Q(state=State.ESCALATED, triage_outcome=TriageOutcome.RETURNED_TO_LPC) & ~Q(due_kind=Deadline.CPE_TRIAGE)
    return Q(state__in=OPEN_STATES) & (Q(due_kind__in=LPC_WAITS) | returned)


@dataclass(frozen=True)
class AreaCount:
    """One row of a count table: `area` issues of the LPC's area (overdue: `overdue` of them), of
    which the LPC is involved in `involved` (those its list link shows)."""

    key: str
    label: str
    area: int
    involved: int
    overdue: int = 0


@dataclass(frozen=True)
class LpcDashboard:
    """What the LPC officer's dashboard shows. The lists hold at most DASHBOARD_SIZE issues each;
    `more_waiting` / `more_others` say whether there were more."""

    lpcs: list[LPC]
    waiting_on_lpc: list[Issue]
    more_waiting: bool
    waiting_on_others: list[Issue]
    more_others: bool
    by_state: list[AreaCount]
    by_ra: list[AreaCount]
    by_kind: list[AreaCount]
    ageing: list[AreaCount]
    # When the closed issues of `by_state` were counted (the worker's LPC snapshots); None: now.
    closed_as_of: datetime | None = None


def lpcs_of_officer(*, user: User | Any) -> list[LPC]:
    """The LPCs the user is an officer of, by name (none: not an LPC officer)."""
    if not holds_roles(user):
        return []
    return list(LPC.objects.filter(pk__in=officer_of(user)).order_by("name"))


def lpc_dashboard(
    *,
    user: User,
    lpcs: list[LPC],
    now: datetime | None = None,
    size: int = DASHBOARD_SIZE,
    rows: Rows = with_list_joins,
) -> LpcDashboard:
    """The dashboard of an officer of `lpcs` (lpcs_of_officer): what waits on the LPC (overdue
    first, then by deadline), its other open issues (waiting on the RA, CPE IT...), and the area's
    counts by state, per RA and per kind of problem, and the ageing of its open issues. `rows`:
    how the lists' issues are read (the page: issues.selectors.for_table)."""
    now = now or timezone.now()
    lpc_ids = [lpc.pk for lpc in lpcs]
    involved = rows(_involved(user=user, lpc_ids=lpc_ids))
    overdue = Issue.overdue_q(now)
    waiting = list(
        involved.filter(waiting_on_lpc_q()).order_by(
            Case(When(overdue, then=Value(0)), default=Value(1)), F("due_at").asc(nulls_last=True), "created_at", "pk"
        )[: size + 1]
    )
    others = list(
        involved.filter(state__in=OPEN_STATES)
        .exclude(waiting_on_lpc_q())
        .order_by(F("due_at").asc(nulls_last=True), "-created_at", "-pk")[: size + 1]
    )
    area = _area(lpc_ids)
    by_ra, by_kind, ageing, open_by_state = _open_counts(area, now=now)
    by_state, closed_as_of = _by_state(area, open_by_state, lpc_ids=lpc_ids, now=now)
    return LpcDashboard(
        lpcs=lpcs,
        waiting_on_lpc=waiting[:size],
        more_waiting=len(waiting) > size,
        waiting_on_others=others[:size],
        more_others=len(others) > size,
        by_state=by_state,
        by_ra=by_ra,
        by_kind=by_kind,
        ageing=ageing,
        closed_as_of=closed_as_of,
    )


def _involved(*, user: User, lpc_ids: list[int]) -> QuerySet[Issue]:
    """The issues of these LPCs' pharmacies the LPC is involved in, within the user's scope."""
    return issues_visible_to(user).filter(pharmacy__lpc_id__in=lpc_ids, lpc_involved_at__isnull=False)


def _area(lpc_ids: list[int]) -> QuerySet[Issue]:
    """Every issue of these LPCs' pharmacies, involved or not: for counts only (module docstring).
    The pharmacies are an id list (InIds) so that the counts read the issues' pharmacy index: as a
    join, PostgreSQL guessed too few rows and read the whole table for the counts by state."""
    pharmacies = Pharmacy.objects.filter(lpc_id__in=lpc_ids).values("pk")
    return Issue.objects.filter(InIds("pharmacy_id", pharmacies)).order_by()


def _counted(rows: QuerySet[Any], *, now: datetime) -> list[dict[str, Any]]:
    """Each group of `rows` (a values() queryset) with its counts: all, the LPC involved, overdue."""
    # Counted on the columns of "issue_pharmacy_scope" (not the id, which it does not hold),
    # so the counts need no read of the table itself. COUNT(lpc_involved_at) counts the issues the
    # LPC is involved in: the column is set exactly then.
    counted = rows.annotate(
        area=Count("*"),
        involved=Count("lpc_involved_at"),
        overdue=Count("due_at", filter=Issue.overdue_q(now)),
    )
    return [dict(row) for row in counted]


def _by_state(
    area: QuerySet[Issue], open_by_state: dict[str, dict[str, int]], *, lpc_ids: list[int], now: datetime
) -> tuple[list[AreaCount], datetime | None]:
    """Every state, zero when none, and when its closed issues were counted (None: now). The
    closed ones, nearly all of an area's (20,000 of LPC 1's 20,600 at England's size: 8 of the
    page's 25 ms in the database), as the worker last counted them with the LPC's figures; the
    open ones as _open_counts counted them now (`open_by_state`). Before the worker's first
    count, all now, in one more query."""
    closed = lpc_area_closed_counts(lpc_ids)
    as_of: datetime | None = None
    if closed is None:
        found = {row["state"]: row for row in _counted(area.values("state"), now=now)}
    else:
        by_state, as_of = closed
        found = {**open_by_state, **{state: {"area": n, "involved": m} for state, (n, m) in by_state.items()}}
    return [_row(state.value, str(state.label), found.get(state.value)) for state in State], as_of


def _row(key: str, label: str, counted: dict[str, Any] | None) -> AreaCount:
    counted = counted or {}
    return AreaCount(key, label, counted.get("area", 0), counted.get("involved", 0), counted.get("overdue", 0))


def ageing_bounds(now: datetime) -> list[datetime]:
    """For each bound of AGEING_BANDS, the latest moment from which that many working days have
    passed by `now` (issues.clock.subtract_working_days): an issue that entered its state at or
    before it has been in it at least that long. Exact, not an approximation: working time since
    a moment only grows as the moment moves back."""
    return [subtract_working_days(now, days) for days in AGEING_BANDS]


def ageing_labels() -> list[str]:
    """'Less than 2 working days', '2 to 5 working days', ..., '10 working days or more'."""
    bounds = AGEING_BANDS
    labels = [f"Less than {working_days_in_words(bounds[0])}"]
    labels += [f"{low:g} to {working_days_in_words(high)}" for low, high in itertools.pairwise(bounds)]
    labels.append(f"{working_days_in_words(bounds[-1])} or more")
    return labels


def _open_counts(
    area: QuerySet[Issue], *, now: datetime
) -> tuple[list[AreaCount], list[AreaCount], list[AreaCount], dict[str, dict[str, int]]]:
    """The area's open issues per RA (the most overdue first; pharmacies without an RA as one
    row), per kind of problem (in the kinds' order, kinds with none left out), by working days
    in their current state (Issue.in_state_since, in the bands of AGEING_BANDS) and by state (the
    counts of each open state, for _by_state): one query, counted by the four at once, then added
    up here."""
    bounds = ageing_bounds(now)
    band = Case(
        *[When(entered__gt=bound, then=Value(number)) for number, bound in enumerate(bounds)],
        default=Value(len(bounds)),
        output_field=IntegerField(),
    )
    grouped = (
        area.filter(state__in=OPEN_STATES)
        .annotate(entered=Issue.in_state_since_expression())
        .annotate(band=band)
        .values("pharmacy__ra_id", "pharmacy__ra__name", "kind", "band", "state")
    )
    by_ra: dict[Any, dict[str, Any]] = {}
    by_kind: dict[str, dict[str, int]] = {}
    by_band: dict[int, dict[str, int]] = {}
    by_state: dict[str, dict[str, int]] = {}
    for row in _counted(grouped, now=now):
        ra = by_ra.setdefault(row["pharmacy__ra_id"], {"name": row["pharmacy__ra__name"]})
        for totals in (
            ra,
            by_kind.setdefault(row["kind"], {}),
            by_band.setdefault(row["band"], {}),
            by_state.setdefault(row["state"], {}),
        ):
            for count in ("area", "involved", "overdue"):
                totals[count] = totals.get(count, 0) + row[count]
    ras = sorted(
        (
            AreaCount(
                str(ra_id or ""),
                counted["name"] or "No RA in the directory",
                counted["area"],
                counted["involved"],
                counted["overdue"],
            )
            for ra_id, counted in by_ra.items()
        ),
        key=lambda count: (-count.overdue, -count.area, count.label),
    )
    kinds = [_row(kind.value, str(kind.label), by_kind[kind.value]) for kind in Kind if kind.value in by_kind]
    ageing = [_row(str(number), label, by_band.get(number)) for number, label in enumerate(ageing_labels())]
    return ras, kinds, ageing, by_state
