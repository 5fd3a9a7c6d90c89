"""Migration 0006: the nudge cursor gets its own column, and open issues' deadlines come back from
where the old sweep had moved them (the function called on rows as they were before it)."""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps

from issues.models import EventKind, Issue, State
from tests.issues.factories import IssueEventFactory, IssueFactory

migration = importlib.import_module("issues.migrations.0006_issue_next_nudge_at")

LONDON = ZoneInfo("Europe/London")
DEADLINE = datetime(2026, 11, 25, 17, 0, tzinfo=LONDON)  # the RA reply was due
SECOND_REMINDER = datetime(2026, 11, 27, 17, 0, tzinfo=LONDON)
THIRD_REMINDER = datetime(2026, 12, 1, 17, 0, tzinfo=LONDON)  # where the old sweep left due_at


def as_before(**fields: Any) -> Issue:
    """An issue as the old code left it: one column, due_at, for the deadline and the reminders."""
    issue: Issue = IssueFactory.create(**fields)
    Issue.objects.filter(pk=issue.pk).update(next_nudge_at=None)
    return issue


def clock(issue: Issue, data: Any, at: datetime) -> None:
    IssueEventFactory.create(issue=issue, kind=EventKind.CLOCK, data=data, created_at=at)


def carry_over() -> None:
    migration.carry_deadlines_over(apps, None)


def test_it_puts_the_deadline_back_and_the_next_reminder_in_its_own_column(db):
    reminded = as_before(state=State.RA_CONTACTED, due_at=THIRD_REMINDER, reminders_sent=2)
    clock(reminded, {"due_at": DEADLINE.isoformat(), "due_kind": "ra_reply", "window_days": 2}, DEADLINE)

    carry_over()

    reminded.refresh_from_db()
    assert (reminded.due_at, reminded.next_nudge_at, reminded.reminders_sent) == (DEADLINE, THIRD_REMINDER, 2)


def test_it_takes_the_window_of_the_last_clock_event(db):
    issue = as_before(state=State.RA_CONTACTED, due_at=THIRD_REMINDER, reminders_sent=1)
    update_due = datetime(2026, 11, 30, 12, 0, tzinfo=LONDON)
    replied = datetime(2026, 11, 23, 12, 0, tzinfo=LONDON)
    clock(issue, {"due_at": DEADLINE.isoformat(), "due_kind": "ra_reply"}, datetime(2026, 11, 21, 10, tzinfo=LONDON))
    # The RA replied: one window cleared and the next started at the same moment (the later row wins).
    clock(issue, {"due_at": None, "due_kind": "", "cleared": "ra_reply"}, replied)
    clock(issue, {"due_at": update_due.isoformat(), "due_kind": "pharmacy_update"}, replied)

    carry_over()

    issue.refresh_from_db()
    assert (issue.due_at, issue.next_nudge_at) == (update_due, THIRD_REMINDER)


@pytest.mark.parametrize(
    "last_clock",
    [
        None,  # no CLOCK event at all (made outside the services)
        {"due_at": None, "cleared": "ra_reply"},  # the last one cleared a wait: it records no deadline
        {"due_at": "not a date"},
        {"due_at": "2026-11-25T17:00:00"},  # without its offset: not trusted
        ["not", "an", "object"],
    ],
)
def test_it_keeps_the_current_due_at_when_no_clock_event_says_otherwise(db, last_clock):
    issue = as_before(state=State.LPC_CC, due_at=SECOND_REMINDER)
    if last_clock is not None:
        clock(issue, last_clock, DEADLINE)

    carry_over()

    issue.refresh_from_db()
    assert (issue.due_at, issue.next_nudge_at) == (SECOND_REMINDER, SECOND_REMINDER)


def test_it_leaves_issues_nobody_waits_on_alone(db):
    closed = as_before(state=State.RESOLVED, due_at=SECOND_REMINDER)
    clock(closed, {"due_at": DEADLINE.isoformat()}, DEADLINE)
    trying = as_before(state=State.IN_PHARMACY)

    carry_over()

    closed.refresh_from_db()
    trying.refresh_from_db()
    assert (closed.due_at, closed.next_nudge_at) == (SECOND_REMINDER, None)
    assert (trying.due_at, trying.next_nudge_at) == (None, None)


def test_it_works_through_the_table_in_batches(db, monkeypatch):
    monkeypatch.setattr(migration, "BATCH", 2)
    issues = [as_before(state=State.RA_CONTACTED, due_at=THIRD_REMINDER) for _ in range(5)]
    for issue in issues:
        clock(issue, {"due_at": DEADLINE.isoformat()}, DEADLINE)

    carry_over()

    assert set(Issue.objects.values_list("due_at", "next_nudge_at")) == {(DEADLINE, THIRD_REMINDER)}


def test_backwards_the_one_column_holds_the_next_reminder_again(db):
    issue = IssueFactory.create(state=State.RA_CONTACTED, due_at=DEADLINE, next_nudge_at=THIRD_REMINDER)

    migration.put_the_cursor_back(apps, None)

    issue.refresh_from_db()
    assert issue.due_at == THIRD_REMINDER
