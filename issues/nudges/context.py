"""What a sweep shares across its batches and lanes: its moment and cadence, the query of what is
due, and what a batch reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import QuerySet

from issues.clock import add_working_days
from issues.models import OPEN_STATES, Issue
from issues.nudges.recipients import RecipientDirectory
from issues.nudges.rules import NUDGED_KINDS, max_reminders, reminder_gap_days


@dataclass
class Sweep:
    """What a sweep shares across its batches (and lanes): the moment and the cadence."""

    now: datetime
    max_reminders: int = field(default_factory=max_reminders)
    # When the next reminder is due, by (wait, emergency, past NUDGE_MAX_REMINDERS): the next
    # window starts now, so every issue of the sweep in the same case shares it.
    cadence: dict[tuple[str, bool, bool], datetime] = field(default_factory=dict)
    directory: RecipientDirectory = field(default_factory=RecipientDirectory)

    def __post_init__(self) -> None:
        next_due: dict[float, datetime] = {}
        for kind in NUDGED_KINDS:
            for emergency in (False, True):
                for later in (False, True):
                    number = self.max_reminders if later else self.max_reminders - 1
                    gap = reminder_gap_days(kind, is_emergency=emergency, reminder_number=number)
                    if gap not in next_due:
                        next_due[gap] = add_working_days(self.now, gap)
                    self.cadence[(kind, emergency, later)] = next_due[gap]


@dataclass(frozen=True)
class BatchWritten:
    seen: int  # issues read as due
    claimed: int  # of those, issues claimed (and nudged)
    email_ids: list[int]
    digest_items: int


def due_issues(*, now: datetime) -> QuerySet[Issue]:
    """Open issues whose next reminder is due, the longest waiting first: the sweep's query
    (partial index `issue_next_nudge_waiting`; rows another transaction holds are skipped on
    PostgreSQL)."""
    return nudges_due(now=now).order_by("next_nudge_at").select_for_update(skip_locked=True, of=("self",))


def nudges_due(*, now: datetime) -> QuerySet[Issue]:
    """The issues the sweep serves whose next reminder is due: open, waiting on someone it nudges
    (the one definition, shared by the sweep and its lag on /metrics)."""
    return Issue.objects.filter(next_nudge_at__lte=now, state__in=OPEN_STATES, due_kind__in=NUDGED_KINDS)
