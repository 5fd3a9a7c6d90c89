"""The demo issues tell a true story whatever day `make run` first seeds them (issues.demo).

Each test seeds the demo at several "today"s: a Monday morning, a Friday 16:30, a Saturday, Christmas
Day (a bank holiday), the morning after the Easter weekend and the Monday after the clocks go back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from issues.models import EventKind, Issue, IssueEvent
from issues.nudges import nudges_sweep
from smartcard_route.mail.models import OutboundEmail

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
OVERDUE = "Add the locum code FFFFF to my card"

TODAYS = {
    "monday-morning": datetime(2026, 11, 30, 9, 20, tzinfo=LONDON),
    "friday-16-30": datetime(2026, 11, 27, 16, 30, tzinfo=LONDON),
    "saturday": datetime(2026, 11, 28, 11, 0, tzinfo=LONDON),
    "christmas-day": datetime(2026, 12, 25, 12, 0, tzinfo=LONDON),
    "after-the-easter-weekend": datetime(2026, 4, 7, 8, 45, tzinfo=LONDON),
    "after-the-clocks-go-back": datetime(2026, 10, 26, 10, 0, tzinfo=LONDON),
}


@pytest.fixture(params=list(TODAYS.values()), ids=list(TODAYS))
def today(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """The demo seeded at this moment; the clock stands still there during the test."""
    with time_machine.travel(request.param.astimezone(UTC), tick=False):
        call_command("seed_demo", "--quiet")
        yield request.param


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _timelines() -> Iterator[tuple[Issue, list[IssueEvent]]]:
    for issue in Issue.objects.order_by("pk"):
        yield issue, list(issue.events.order_by("created_at", "pk"))


def _clock_events(events: list[IssueEvent]) -> list[IssueEvent]:
    return [event for event in events if event.kind == EventKind.CLOCK]


def test_it_reports_each_issue_before_anything_else_happens_to_it(today: datetime) -> None:
    for issue, events in _timelines():
        reported, *after = events
        assert reported.kind == EventKind.REPORTED, issue.summary
        assert reported.created_at == issue.created_at
        assert all(event.created_at > reported.created_at for event in after), issue.summary
        assert all(event.kind != EventKind.REPORTED for event in after)


def test_it_puts_nothing_in_the_future(today: datetime) -> None:
    assert IssueEvent.objects.count() > Issue.objects.count()
    assert not IssueEvent.objects.filter(created_at__gt=today).exists()
    assert not Issue.objects.filter(created_at__gt=today).exists()
    assert not Issue.objects.filter(updated_at__gt=today).exists()
    assert not OutboundEmail.objects.filter(created_at__gt=today).exists()


def test_it_asks_the_ra_before_the_deadline_the_request_starts(today: datetime) -> None:
    requests = IssueEvent.objects.filter(kind=EventKind.TRANSITION, data__transition="contact_ra")
    assert requests.count() == 5
    for request in requests:
        started = [
            _moment(clock.data["due_at"])
            for clock in request.issue.events.filter(kind=EventKind.CLOCK, created_at=request.created_at)
        ]
        deadlines = [due for due in started if due is not None]
        assert len(deadlines) == 1, request.issue.summary
        assert request.created_at < deadlines[0], request.issue.summary


def test_it_meets_every_deadline_before_it_passes_but_the_overdue_issues(today: datetime) -> None:
    """Each deadline is replaced by the next step before it passes; only the overdue demo issue's has passed."""
    passed = set()
    for issue, events in _timelines():
        clocks = _clock_events(events)
        for clock, following in pairwise([*clocks, None]):
            assert clock is not None
            deadline = _moment(clock.data["due_at"])
            if deadline is None:
                continue
            if following is None:
                if deadline <= today:
                    passed.add(issue.summary)
            else:
                assert following.created_at < deadline, f"{issue.summary}: a deadline passed unnoticed"
    assert passed == {OVERDUE}


def test_it_keeps_each_issues_deadline_as_its_last_clock_event_says(today: datetime) -> None:
    waiting = 0
    for issue, events in _timelines():
        clocks = _clock_events(events)
        if not clocks:
            assert issue.due_at is None, issue.summary
            continue
        last = clocks[-1].data
        assert issue.due_at == _moment(last["due_at"]), issue.summary
        assert issue.due_kind == last["due_kind"], issue.summary
        waiting += issue.due_at is not None
    assert waiting == 4  # the two waiting on the RA, the LPC's and CPE IT's


def test_it_leaves_the_overdue_issue_to_the_sweep(today: datetime) -> None:
    overdue = Issue.objects.get(summary=OVERDUE)
    assert overdue.is_overdue
    assert overdue.due_at is not None and overdue.due_at < today
    assert not IssueEvent.objects.filter(kind=EventKind.NUDGE).exists()

    # What the beat's sweep does within a minute of the start of `make run`.
    with time_machine.travel((today + timedelta(minutes=1)).astimezone(UTC), tick=False):
        nudges_sweep()

    nudges = list(IssueEvent.objects.filter(kind=EventKind.NUDGE))
    assert [nudge.issue_id for nudge in nudges] == [overdue.pk]
    for nudge in nudges:
        deadline = _moment(nudge.data["deadline"])
        assert deadline is not None
        assert nudge.created_at >= deadline
        assert deadline == _moment(_clock_events(list(nudge.issue.events.all()))[-1].data["due_at"])


def test_it_numbers_the_issues_in_the_order_they_were_reported(today: datetime) -> None:
    by_reference = list(Issue.objects.order_by("pk").values_list("summary", flat=True))
    by_report = list(Issue.objects.order_by("created_at").values_list("summary", flat=True))
    assert by_reference == by_report


def test_it_changes_nothing_when_seeded_again_a_week_later(today: datetime) -> None:
    def timelines() -> list[tuple[object, ...]]:
        return list(IssueEvent.objects.order_by("pk").values_list("pk", "issue_id", "kind", "created_at", "data"))

    before = timelines()
    with time_machine.travel((today + timedelta(days=7)).astimezone(UTC), tick=False):
        call_command("seed_demo", "--quiet")
    assert timelines() == before
