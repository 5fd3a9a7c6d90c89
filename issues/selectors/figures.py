"""The figures (DESIGN.md, "LPC officers and CPE IT": Figures), scoped to the user like every read.

Over a period of the last 4, 13 or 52 weeks (`PERIOD_WEEKS`): whole weeks, Monday to Sunday in
the working time zone (Europe/London), the last one being the current week, so far.

- issues opened and resolved per week: opened by `Issue.created_at` (the report), resolved by
  `Issue.resolved_at` of the issues resolved now (an issue reopened since is not counted as resolved);
- of the issues resolved in the period, the share fixed at each step of the route
  (`Issue.fixed_by_step`) and the median time to resolution, in working days from the report to
  the resolution, by that step;
- per RA: the requests made in the period (TRANSITION events of contact_ra, whose data names the
  RA asked, so a pharmacy that changes RA later does not move its history), the median reply time in
  working days from each request to the first reply after it (`RA_REPLY_EVENTS`), the share
  answered within the RA reply window (2 working days, issues.windows) of the requests whose window
  is over or that were answered, and the requests with no reply yet; slowest first.

CPE IT's figures (every issue) and an LPC officer's are read from the worker's FiguresSnapshot
rows, which `issues.services.figures.figures_refresh` writes every FIGURES_REFRESH_MINUTES with
`national_figures` and `lpc_figures` (this module's own reading of the rows): at England's size
they take seconds (national) or a page's whole budget (an LPC's) to work out from the raw rows
(docs/benchmarks.md). The page says when they were worked out (`Figures.snapshot_at`), and that
they may be out of date when the snapshot is older than FIGURES_STALE_MINUTES. They are worked
out for the request until the worker has written one (a new site), and for a user whose scope is
not exactly one LPC's (an officer of two LPCs, or an officer who is also a pharmacy's staff):
that scope is theirs alone.

Counts are aggregated in the database (GROUP BY). Working time is the clock's own
(`issues.clock.working_time_between`), in Python, over a bounded set: the resolutions and the
requests of the period in the user's scope, two timestamps each. It is not approximated in SQL
because the rule (opening hours in Europe/London, England's bank holidays) would then have a second,
hand-written copy (DESIGN.md, Layout), and SQLite has no time zones. Every figure costs a constant
number of queries (6), whatever the number of rows.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncWeek
from django.utils import timezone

from directory.models import LPC, RegistrationAuthority, User
from issues.clock import working_day_length, working_time_between, working_zone
from issues.models import CLOSED_STATES, Deadline, EventKind, FiguresSnapshot, Issue, IssueEvent, State, Step
from issues.selectors import issues_visible_to, issues_visible_to_officers_of, sees_every_issue, sole_lpc_of
from issues.windows import window_days

__all__ = [
    "DEFAULT_WEEKS",
    "PERIOD_WEEKS",
    "RA_REPLY_EVENTS",
    "Figures",
    "Period",
    "RaFigure",
    "StepFigure",
    "WeekFigure",
    "figures_for",
    "figures_from_json",
    "figures_period",
    "figures_to_json",
    "lpc_area_closed_counts",
    "lpc_figures",
    "may_see_figures",
    "national_closed_counts",
    "national_figures",
]

PERIOD_WEEKS: tuple[int, ...] = (4, 13, 52)
DEFAULT_WEEKS = 13

# What counts as the RA's first reply to a request (DESIGN.md, the clock: "An RA reply (inbound
# email or a logged reply or call) stops the RA window"): a logged reply, a call with the RA, or
# mail whose sender is the issue's RA that issues.services.timeline.issue_record_ra_email counted as
# the reply (automatic replies are not; an attachment CPE IT undid is not).
RA_REPLY_EVENTS = (
    Q(kind=EventKind.RA_REPLY)
    | Q(kind=EventKind.PHONE_CALL, data__with_ra=True)
    | Q(
        kind=EventKind.EMAIL_IN,
        data__ra_reply=True,
        inbound_matches__sender_role="ra",
        inbound_matches__detached_at__isnull=True,
    )
)

RA_REPLY_KINDS = (EventKind.RA_REPLY, EventKind.PHONE_CALL, EventKind.EMAIL_IN)


@dataclass(frozen=True)
class Period:
    """The last `weeks` whole weeks (Monday to Sunday, local), the last being the current one."""

    weeks: int
    start: datetime
    now: datetime

    @property
    def week_starts(self) -> list[date]:
        first = timezone.localtime(self.start, working_zone()).date()
        return [first + timedelta(weeks=n) for n in range(self.weeks)]


@dataclass(frozen=True)
class WeekFigure:
    week: date  # the Monday
    opened: int
    resolved: int


@dataclass(frozen=True)
class StepFigure:
    step: str
    label: str
    resolved: int
    share: float | None  # of the issues resolved in the period; None when none were
    median_days: float | None  # working days from report to resolution; None when none


@dataclass(frozen=True)
class RaFigure:
    ra_id: int
    name: str
    requests: int
    answered: int
    unanswered: int
    median_reply_days: float | None  # None when no request was answered
    within_window: int  # answered within the RA reply window
    decided: int  # answered, or whose window is over: the share's denominator

    @property
    def within_window_share(self) -> float | None:
        return self.within_window / self.decided if self.decided else None


@dataclass(frozen=True)
class Figures:
    period: Period
    weeks: list[WeekFigure]
    steps: list[StepFigure]
    resolved: int
    ras: list[RaFigure]
    ra_window_days: float
    # Read from the worker's FiguresSnapshot (national or an LPC's): when it worked them out, which
    # is also `period.now`. None: worked out for this request.
    snapshot_at: datetime | None = None
    # Whose figures a snapshot holds, in words ("every LPC", or the LPC's name); None when worked
    # out for this request.
    scope: str | None = None
    # The closed issues of the country by state, counted with the snapshot (the CPE IT dashboard's
    # counts read them from here: a million rows are not counted for a page). Empty when not a snapshot.
    closed_by_state: dict[str, int] | None = None
    # An LPC's snapshot: the closed issues of its whole area (its pharmacies' issues, involved or
    # not) by state, as [all of them, those the LPC is involved in]: its dashboard's counts by
    # state read them from here (issues.selectors.lpc). Empty when not an LPC's snapshot.
    area_closed_by_state: dict[str, list[int]] | None = None

    @property
    def is_stale(self) -> bool:
        """A snapshot older than FIGURES_STALE_MINUTES: the worker may have stopped."""
        if self.snapshot_at is None:
            return False
        return timezone.now() - self.snapshot_at > timedelta(minutes=settings.FIGURES_STALE_MINUTES)


def may_see_figures(*, user: User | Any) -> bool:
    """The figures are for CPE IT (every issue) and LPC officers (the issues of their scope)."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and (user.is_cpe_it or user.lpcs.exists()))


def figures_period(*, weeks: int, now: datetime | None = None) -> Period:
    """The period of the last `weeks` weeks (one of PERIOD_WEEKS) up to `now`."""
    if weeks not in PERIOD_WEEKS:
        raise ValueError(f"weeks must be one of {PERIOD_WEEKS}")
    now = now or timezone.now()
    today = timezone.localtime(now, working_zone()).date()
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    start = datetime.combine(monday, datetime.min.time(), tzinfo=working_zone())
    return Period(weeks=weeks, start=start, now=now)


def figures_for(*, user: User | Any, weeks: int, now: datetime | None = None) -> Figures:
    """The figures of the issues `user` may see (issues_visible_to) over the last `weeks` weeks.
    CPE IT's (every issue) and those of an officer of one LPC alone (sole_lpc_of) come from the
    worker's snapshot when there is one and no `now` is asked."""
    every_issue = sees_every_issue(user)
    if now is None:
        lpc_id = None if every_issue else sole_lpc_of(user)
        if every_issue or lpc_id is not None:
            rows = FiguresSnapshot.objects.filter(weeks=weeks)
            rows = rows.filter(lpc__isnull=True) if lpc_id is None else rows.filter(lpc_id=lpc_id)
            snapshot = rows.values_list("data", flat=True).first()
            if snapshot is not None:
                return figures_from_json(snapshot)
    return _figures(issues_visible_to(user), figures_period(weeks=weeks, now=now), every_issue=every_issue)


def lpc_figures(*, lpc: LPC, weeks: int, now: datetime | None = None) -> Figures:
    """The figures an officer of `lpc` alone sees (issues_visible_to_officers_of), worked out now
    from the rows (the worker's LPC snapshot)."""
    figures = _figures(issues_visible_to_officers_of(lpc.pk), figures_period(weeks=weeks, now=now), every_issue=False)
    closed = {
        row["state"]: [row["area"], row["involved"]]
        for row in Issue.objects.filter(pharmacy__lpc=lpc, state__in=CLOSED_STATES)
        .values("state")
        .annotate(area=Count("*"), involved=Count("lpc_involved_at"))
        .order_by()
    }
    return replace(
        figures,
        snapshot_at=figures.period.now,
        scope=lpc.name,
        area_closed_by_state={state: closed.get(state, [0, 0]) for state in CLOSED_STATES},
    )


def national_figures(*, weeks: int, now: datetime | None = None) -> Figures:
    """The figures of every issue, worked out now from the rows (the worker's snapshot), with the
    closed issues' counts by state."""
    figures = _figures(Issue.objects.all(), figures_period(weeks=weeks, now=now), every_issue=True)
    closed = dict(Issue.objects.filter(state__in=CLOSED_STATES).values_list("state").annotate(n=Count("*")).order_by())
    return replace(
        figures,
        snapshot_at=figures.period.now,
        scope="every LPC",
        closed_by_state={state: closed.get(state, 0) for state in CLOSED_STATES},
    )


def national_closed_counts() -> tuple[dict[str, int], datetime] | None:
    """The closed issues of the country by state and when they were counted, from the newest
    snapshot; None before the worker has written one."""
    national = FiguresSnapshot.objects.filter(lpc__isnull=True)
    row = national.order_by("-computed_at").values_list("data", flat=True).first()
    if row is None or not row.get("closed_by_state"):
        return None
    return row["closed_by_state"], datetime.fromisoformat(row["snapshot_at"])


def lpc_area_closed_counts(lpc_ids: list[int]) -> tuple[dict[str, list[int]], datetime] | None:
    """The closed issues of these LPCs' areas by state, as [all, the LPC involved] (added up over
    the LPCs: a pharmacy is in one LPC), from each LPC's newest snapshot, and when the oldest of
    those was worked out; None unless every one of them has one (an LPC without an officer has
    none, nor has any before the worker's first refresh)."""
    newest: dict[int, dict[str, Any]] = {}
    snapshots = FiguresSnapshot.objects.filter(lpc_id__in=lpc_ids).order_by("lpc_id", "-computed_at")
    for lpc_id, data in snapshots.values_list("lpc_id", "data"):
        newest.setdefault(lpc_id, data)
    if not lpc_ids or any(not newest.get(pk, {}).get("area_closed_by_state") for pk in lpc_ids):
        return None
    totals: dict[str, list[int]] = {state: [0, 0] for state in CLOSED_STATES}
    for data in newest.values():
        for state, (area, involved) in data["area_closed_by_state"].items():
            totals[state][0] += area
            totals[state][1] += involved
    return totals, min(datetime.fromisoformat(data["snapshot_at"]) for data in newest.values())


def _figures(visible: Any, period: Period, *, every_issue: bool) -> Figures:
    resolved = visible.filter(state=State.RESOLVED, resolved_at__gte=period.start, resolved_at__lte=period.now)
    return Figures(
        period=period,
        weeks=_weeks(visible, resolved, period),
        steps=_steps(resolved),
        resolved=resolved.count(),
        ras=_ras(visible, period, every_issue=every_issue),
        ra_window_days=window_days(Deadline.RA_REPLY, is_emergency=False),
    )


def figures_to_json(figures: Figures) -> dict[str, Any]:
    """The figures as JSON (FiguresSnapshot.data); figures_from_json reads them back equal."""
    return {
        "weeks": figures.period.weeks,
        "start": figures.period.start.isoformat(),
        "now": figures.period.now.isoformat(),
        "per_week": [[row.week.isoformat(), row.opened, row.resolved] for row in figures.weeks],
        "steps": [[row.step, row.resolved, row.share, row.median_days] for row in figures.steps],
        "resolved": figures.resolved,
        "ras": [
            [
                row.ra_id,
                row.name,
                row.requests,
                row.answered,
                row.unanswered,
                row.median_reply_days,
                row.within_window,
                row.decided,
            ]
            for row in figures.ras
        ],
        "ra_window_days": figures.ra_window_days,
        "snapshot_at": figures.snapshot_at.isoformat() if figures.snapshot_at else None,
        "scope": figures.scope,
        "closed_by_state": figures.closed_by_state,
        "area_closed_by_state": figures.area_closed_by_state,
    }


def figures_from_json(data: dict[str, Any]) -> Figures:
    labels = dict(Step.choices)
    return Figures(
        period=Period(
            weeks=data["weeks"], start=datetime.fromisoformat(data["start"]), now=datetime.fromisoformat(data["now"])
        ),
        weeks=[WeekFigure(week=date.fromisoformat(w), opened=o, resolved=r) for w, o, r in data["per_week"]],
        steps=[
            StepFigure(step=step, label=str(labels.get(step, step)), resolved=n, share=share, median_days=median)
            for step, n, share, median in data["steps"]
        ],
        resolved=data["resolved"],
        ras=[
            RaFigure(
                ra_id=ra_id,
                name=name,
                requests=requests,
                answered=answered,
                unanswered=unanswered,
                median_reply_days=median,
                within_window=within,
                decided=decided,
            )
            for ra_id, name, requests, answered, unanswered, median, within, decided in data["ras"]
        ],
        ra_window_days=data["ra_window_days"],
        snapshot_at=datetime.fromisoformat(data["snapshot_at"]) if data.get("snapshot_at") else None,
        scope=data.get("scope") or ("every LPC" if data.get("snapshot_at") else None),
        closed_by_state=data.get("closed_by_state"),
        area_closed_by_state=data.get("area_closed_by_state"),
    )


def _in_days(elapsed: timedelta) -> float:
    return elapsed / working_day_length()


def _per_week(rows: Any, field: str) -> dict[date, int]:
    """{Monday: count} of `rows` grouped by the local week of `field`, in the database."""
    grouped = rows.annotate(week=TruncWeek(field, tzinfo=working_zone())).values("week").annotate(n=Count("pk"))
    return {timezone.localtime(row["week"], working_zone()).date(): row["n"] for row in grouped.order_by()}


def _weeks(visible: Any, resolved: Any, period: Period) -> list[WeekFigure]:
    opened = _per_week(visible.filter(created_at__gte=period.start, created_at__lte=period.now), "created_at")
    closed = _per_week(resolved, "resolved_at")
    return [WeekFigure(week=w, opened=opened.get(w, 0), resolved=closed.get(w, 0)) for w in period.week_starts]


def _steps(resolved: Any) -> list[StepFigure]:
    counts = dict(resolved.values_list("fixed_by_step").annotate(n=Count("pk")).order_by())
    total = sum(counts.values())
    durations: dict[str, list[float]] = defaultdict(list)
    for step, reported, fixed in resolved.values_list("fixed_by_step", "created_at", "resolved_at").iterator():
        durations[step].append(_in_days(working_time_between(reported, fixed)))
    return [
        StepFigure(
            step=step.value,
            label=step.label,
            resolved=counts.get(step.value, 0),
            share=counts.get(step.value, 0) / total if total else None,
            median_days=statistics.median(durations[step.value]) if durations[step.value] else None,
        )
        for step in Step
    ]


def _ras(visible: Any, period: Period, *, every_issue: bool) -> list[RaFigure]:
    first_reply = (
        IssueEvent.objects.filter(
            RA_REPLY_EVENTS,
            kind__in=RA_REPLY_KINDS,  # the partial index "event_ra_reply"
            issue_id=OuterRef("issue_id"),
            created_at__gte=OuterRef("created_at"),
        )
        .order_by("created_at")
        .values("created_at")[:1]
    )
    asked_in_period = IssueEvent.objects.filter(
        kind=EventKind.TRANSITION,  # with the next, the partial index "event_ra_request"
        data__transition="contact_ra",
        created_at__gte=period.start,
        created_at__lte=period.now,
    )
    if not every_issue:  # CPE IT's scope is every issue: no test of each request against it
        # A semi-join on the scope's issues (hashed, or driven from them through
        # "event_ra_request_issue"), not `issue_id = ANY(ARRAY(...))`: over four weeks PostgreSQL
        # read the period's requests by time and searched the array of the scope's 3,000 issues
        # for each of them, linearly (190 ms for an LPC at 1,000,000 issues; 21 ms as a semi-join).
        asked_in_period = asked_in_period.filter(issue_id__in=visible.values("pk"))
    requests = (
        asked_in_period.annotate(first_reply=Subquery(first_reply))
        .values_list("data__ra_id", "created_at", "first_reply")
        .order_by()  # tallied, so in no order: no sort
    )
    window = window_days(Deadline.RA_REPLY, is_emergency=False)
    window_length = working_day_length() * window
    tally: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "unanswered": 0, "decided": 0, "within": 0, "days": []}
    )
    for ra_id, asked, replied in requests.iterator():
        row = tally[int(ra_id)]
        row["requests"] += 1
        if replied is None:
            row["unanswered"] += 1
            # Its window is over when that much working time has passed since (add_working_days
            # is the earliest moment it has): the same test, without finding the moment.
            row["decided"] += working_time_between(asked, period.now) >= window_length
            continue
        days = _in_days(working_time_between(asked, replied))
        row["days"].append(days)
        row["decided"] += 1
        row["within"] += days <= window
    names = dict(RegistrationAuthority.objects.filter(pk__in=list(tally)).values_list("pk", "name"))
    figures = [
        RaFigure(
            ra_id=ra_id,
            name=names.get(ra_id, f"RA {ra_id}"),
            requests=row["requests"],
            answered=len(row["days"]),
            unanswered=row["unanswered"],
            median_reply_days=statistics.median(row["days"]) if row["days"] else None,
            within_window=row["within"],
            decided=row["decided"],
        )
        for ra_id, row in tally.items()
    ]
    return sorted(figures, key=_slowest_first)


def _slowest_first(ra: RaFigure) -> tuple[int, float, float, str]:
    """RAs that answered nothing first (most unanswered first), then the longest median reply."""
    if ra.median_reply_days is None:
        return (0, -ra.unanswered, 0.0, ra.name)
    return (1, -ra.median_reply_days, -ra.unanswered, ra.name)
