"""A seeded data set for the figures' tests, and the figures it implies computed from its events
alone (not through issues.selectors.figures): the tests hold the selector, the page and the API to
these numbers.

Now is Thursday 26 November 2026, 12:00 in London; the last 4 weeks start on Monday 2 November.
LPC "North" has the officer; its pharmacies North 1 (RA Leeds) and North 2 (RA York). LPC "South"
is another LPC's (pharmacy South 1, RA Leeds as well). Some of North's issues never involved the
LPC: CPE IT counts them, North's officer does not see them.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from directory.models import Pharmacy, RegistrationAuthority, User
from issues.clock import add_working_days, working_day_length, working_time_between
from issues.models import EventKind, InboundEmailMatch, Issue, IssueEvent, State
from smartcard_route.mail.models import InboundEmail
from tests.issues.factories import (
    IssueFactory,
    LPCFactory,
    PharmacyFactory,
    RegistrationAuthorityFactory,
    UserFactory,
)

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=LONDON)


def at(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=LONDON)


@dataclass(frozen=True)
class Spec:
    """One issue: where, when reported, and what happened to it (each a moment and its details)."""

    pharmacy: str
    reported: datetime
    lpc_involved: bool = False
    request: datetime | None = None
    reply: tuple[str, datetime] | None = None  # ("ra_reply" | "call" | "email", when)
    resolved: tuple[datetime, str] | None = None  # (when, fixed_by_step)
    reopened: datetime | None = None
    noise: bool = False  # events that must not count as a reply: a call with someone else, an auto-reply


SPECS: list[Spec] = [
    # North 1 (RA Leeds), LPC involved: the officer sees these.
    Spec("north1", at(2, 10), True, request=at(2, 11), reply=("email", at(4, 11)), resolved=(at(5, 10), "ra")),
    Spec("north1", at(3, 9), True, request=at(3, 10), reply=("call", at(3, 15)), resolved=(at(6, 9), "ra")),
    Spec("north1", at(10, 14), True, request=at(10, 15), noise=True),  # not answered (window over)
    Spec("north1", at(16, 9), True, request=at(16, 10), reply=("ra_reply", at(20, 10)), resolved=(at(23, 9), "lpc")),
    Spec("north1", at(17, 9), True, resolved=(at(17, 16), "in_pharmacy")),
    Spec(
        "north1",
        at(18, 9),
        True,
        request=at(18, 10),
        reply=("email", at(19, 10)),
        resolved=(at(24, 9), "ra"),
        reopened=at(25, 9),
    ),  # reopened: not resolved now
    Spec("north1", at(26, 9), True, request=at(26, 10)),  # asked this morning: window not over
    # North 2 (RA York), LPC involved.
    Spec("north2", at(4, 9), True, request=at(4, 10), reply=("ra_reply", at(11, 10)), resolved=(at(12, 9), "cpe_it")),
    Spec("north2", at(9, 9), True, resolved=(at(10, 9), "cis_self_service")),
    Spec("north2", at(19, 9), True, request=at(19, 10), reply=("call", at(19, 12))),
    # North 1 without the LPC: CPE IT only.
    Spec("north1", at(5, 9), request=at(5, 10), reply=("ra_reply", at(13, 10)), resolved=(at(16, 9), "ra")),
    Spec("north1", at(12, 9), resolved=(at(12, 11), "in_pharmacy")),
    # South 1 (RA Leeds), another LPC's, involved: CPE IT only.
    Spec("south1", at(2, 9), True, request=at(2, 10), reply=("email", at(20, 10)), resolved=(at(23, 10), "lpc")),
    Spec("south1", at(24, 9), True),
    # Before the period: counted nowhere in the last 4 weeks (its resolution is in the period, though).
    Spec("north1", at(20, 9, month=10), True, resolved=(at(3, 12), "ra")),
]


@dataclass
class Seeded:
    officer: User
    other_officer: User
    cpe_it: User
    issues: list[Issue]
    leeds: RegistrationAuthority
    york: RegistrationAuthority


def seed() -> Seeded:
    leeds = RegistrationAuthorityFactory.create(name="Leeds RA", email="ra@leeds.example")
    york = RegistrationAuthorityFactory.create(name="York RA", email="ra@york.example")
    officer = UserFactory.create(email="officer@north.example", full_name="Nia North")
    other_officer = UserFactory.create(email="officer@south.example", full_name="Sol South")
    north = LPCFactory.create(name="North LPC", officers=[officer])
    south = LPCFactory.create(name="South LPC", officers=[other_officer])
    pharmacies: dict[str, Pharmacy] = {
        "north1": PharmacyFactory.create(name="North One Pharmacy", lpc=north, ra=leeds),
        "north2": PharmacyFactory.create(name="North Two Pharmacy", lpc=north, ra=york),
        "south1": PharmacyFactory.create(name="South One Pharmacy", lpc=south, ra=leeds),
    }
    reporter = UserFactory.create(email="reporter@pharmacy.example")
    cpe_it = UserFactory.create(email="it@cpe.example", full_name="Casey IT", is_cpe_it=True)
    issues = [_issue(spec, pharmacies[spec.pharmacy], reporter, n) for n, spec in enumerate(SPECS)]
    return Seeded(officer, other_officer, cpe_it, issues, leeds, york)


def _issue(spec: Spec, pharmacy: Pharmacy, reporter: User, n: int) -> Issue:
    resolved_now = spec.resolved is not None and spec.reopened is None
    state = State.RESOLVED if resolved_now else (State.RA_CONTACTED if spec.request else State.IN_PHARMACY)
    issue = IssueFactory.create(
        pharmacy=pharmacy,
        reporter=reporter,
        state=state,
        created_at=spec.reported,
        lpc_involved_at=spec.reported if spec.lpc_involved else None,
        resolved_at=spec.resolved[0] if resolved_now and spec.resolved else None,
        fixed_by_step=spec.resolved[1] if resolved_now and spec.resolved else "",
    )

    def event(kind: str, when: datetime, **fields: Any) -> IssueEvent:
        return IssueEvent.objects.create(issue=issue, kind=kind, created_at=when, **fields)

    event(EventKind.REPORTED, spec.reported, to_state=State.IN_PHARMACY)
    if spec.request:
        data = {"transition": "contact_ra", "ra_id": pharmacy.ra_id, "ra_name": str(pharmacy.ra)}
        event(EventKind.TRANSITION, spec.request, to_state=State.RA_CONTACTED, data=data)
    if spec.noise and spec.request:
        later = spec.request + timedelta(hours=1)
        event(EventKind.PHONE_CALL, later, data={"with_ra": False}, text="Called the LPC.")
        _email(issue, event, later, n, counts=False, automatic="Out of office")
    if spec.reply:
        how, when = spec.reply
        if how == "ra_reply":
            event(EventKind.RA_REPLY, when, text="The RA replied.")
        elif how == "call":
            event(EventKind.PHONE_CALL, when, data={"with_ra": True}, text="Called the RA.")
        else:
            _email(issue, event, when, n, counts=True)
    if spec.resolved:
        when, step = spec.resolved
        data = {"transition": "resolve", "fixed_by_step": step}
        event(EventKind.TRANSITION, when, to_state=State.RESOLVED, data=data)
    if spec.reopened:
        event(EventKind.TRANSITION, spec.reopened, to_state=State.RA_CONTACTED, data={"transition": "reopen"})
    return issue


def _email(issue: Issue, event: Any, when: datetime, n: int, *, counts: bool, automatic: str = "") -> None:
    mail = InboundEmail.objects.create(
        esp_name="test",
        message_id=f"<{n}-{counts}@leeds.example>",
        from_email="ra@leeds.example",
        subject=f"Re: [{issue.reference}]",
        automatic_reason=automatic,
        received_at=when,
    )
    recorded = event(EventKind.EMAIL_IN, when, data={"sender_role": "ra", "ra_reply": counts, "automatic": automatic})
    InboundEmailMatch.objects.create(
        email=mail, issue=issue, event=recorded, matched_by="token", sender_role="ra", created_at=when
    )


# The figures the events imply, computed here from the events (not through the selector) ------


def _days(a: datetime, b: datetime) -> float:
    return working_time_between(a, b) / working_day_length()


def _monday(moment: datetime) -> date:
    day = moment.astimezone(LONDON).date()
    return day - timedelta(days=day.weekday())


def expected(issue_ids: set[int], *, weeks: int = 4) -> dict[str, Any]:
    """The figures of these issues over the last `weeks` weeks, from their IssueEvent rows."""
    start_monday = _monday(NOW) - timedelta(weeks=weeks - 1)
    start = datetime.combine(start_monday, datetime.min.time(), tzinfo=LONDON)
    events = defaultdict(list)
    for e in IssueEvent.objects.filter(issue_id__in=issue_ids).order_by("created_at", "pk"):
        events[e.issue_id].append(e)
    opened: dict[date, int] = defaultdict(int)
    resolved: dict[date, int] = defaultdict(int)
    steps: dict[str, list[float]] = defaultdict(list)
    ras: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "days": [], "unanswered": 0, "within": 0, "decided": 0}
    )
    for timeline in events.values():
        reported = next(e.created_at for e in timeline if e.kind == EventKind.REPORTED)
        if reported >= start:
            opened[_monday(reported)] += 1
        changes = [e for e in timeline if e.kind == EventKind.TRANSITION]
        last = changes[-1] if changes else None
        if last is not None and last.to_state == State.RESOLVED and last.created_at >= start:
            resolved[_monday(last.created_at)] += 1
            steps[last.data["fixed_by_step"]].append(_days(reported, last.created_at))
        for request in (e for e in changes if e.data.get("transition") == "contact_ra" and e.created_at >= start):
            row = ras[request.data["ra_id"]]
            row["requests"] += 1
            replies = [
                e.created_at
                for e in timeline
                if e.created_at >= request.created_at
                and (
                    e.kind == EventKind.RA_REPLY
                    or (e.kind == EventKind.PHONE_CALL and e.data.get("with_ra"))
                    or (e.kind == EventKind.EMAIL_IN and e.data.get("ra_reply"))
                )
            ]
            if not replies:
                row["unanswered"] += 1
                row["decided"] += add_working_days(request.created_at, 2) <= NOW
            else:
                days = _days(request.created_at, min(replies))
                row["days"].append(days)
                row["decided"] += 1
                row["within"] += days <= 2
    weeks_list = [start_monday + timedelta(weeks=n) for n in range(weeks)]
    total = sum(len(v) for v in steps.values())
    return {
        "per_week": [(w, opened[w], resolved[w]) for w in weeks_list],
        "resolved": total,
        "per_step": {
            step: (len(times), round(100 * len(times) / total), round(statistics.median(times), 1))
            for step, times in steps.items()
        },
        "per_ra": {
            ra_id: {
                "requests": row["requests"],
                "unanswered": row["unanswered"],
                "median": round(statistics.median(row["days"]), 1) if row["days"] else None,
                "within": round(100 * row["within"] / row["decided"]) if row["decided"] else None,
            }
            for ra_id, row in ras.items()
        },
    }


def visible_to_officer(seeded: Seeded) -> set[int]:
    """North's officer's issues, from the spec: North's pharmacies, once the LPC was involved."""
    return {
        issue.pk
        for issue, spec in zip(seeded.issues, SPECS, strict=True)
        if spec.pharmacy != "south1" and spec.lpc_involved
    }


def all_issues(seeded: Seeded) -> set[int]:
    return {issue.pk for issue in seeded.issues}
