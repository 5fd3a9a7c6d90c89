"""The working-time clock the services set and clear, and its CLOCK events (written, like every
timeline event, by issues.events.record_event)."""

from __future__ import annotations

from datetime import datetime

from directory.models import User
from issues.clock import add_working_days
from issues.events import record_event
from issues.models import Deadline, EventKind, Issue, IssueEvent
from issues.route import STATE_WINDOWS  # the window each state starts on entry, beside the route table
from issues.windows import WAITING_FOR, window_days, working_days_in_words
from smartcard_route.dates import moment_in_words


def start_clock(issue: Issue, *, kind: str, actor: User | None, now: datetime) -> IssueEvent:
    """Start a window: set the deadline (`due_at`, `due_kind`) and the first reminder at it
    (`next_nudge_at`, which only the nudge sweep moves on from there), and write the CLOCK event.
    The caller saves CLOCK_FIELDS."""
    days = window_days(kind, is_emergency=issue.is_emergency)
    issue.due_at = issue.next_nudge_at = add_working_days(now, days)
    issue.due_kind = kind
    issue.reminders_sent = 0
    when = moment_in_words(issue.due_at, with_year=True)
    return record_event(
        issue,
        kind=EventKind.CLOCK,
        actor=actor,
        text=f"{Deadline(kind).label} due by {when} ({working_days_in_words(days)}).",
        data={"due_at": issue.due_at.isoformat(), "due_kind": kind, "window_days": days},
        now=now,
    )


def clear_clock(issue: Issue, *, actor: User | None, now: datetime) -> IssueEvent | None:
    """End the wait: clear the deadline and the next reminder, and write the CLOCK event (None when
    nothing was awaited). The caller saves CLOCK_FIELDS."""
    if issue.due_at is None and not issue.due_kind and issue.next_nudge_at is None:
        return None
    previous = issue.due_kind
    issue.due_at = issue.next_nudge_at = None
    issue.due_kind = Deadline.NONE
    issue.reminders_sent = 0
    waited_for = WAITING_FOR.get(previous, "anyone")
    return record_event(
        issue,
        kind=EventKind.CLOCK,
        actor=actor,
        text=f"No longer waiting for {waited_for}.",
        data={"due_at": None, "due_kind": "", "cleared": previous},
        now=now,
    )


# What start_clock and clear_clock change, for the callers' save(update_fields=...).
CLOCK_FIELDS = ["due_at", "due_kind", "next_nudge_at", "reminders_sent"]


def clock_for_state(issue: Issue, *, actor: User | None, now: datetime) -> None:
    window = STATE_WINDOWS.get(issue.state)
    if window:
        start_clock(issue, kind=window, actor=actor, now=now)
    else:
        clear_clock(issue, actor=actor, now=now)
