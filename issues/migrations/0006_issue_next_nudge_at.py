"""The nudge sweep's cursor becomes a column of its own (DESIGN.md, the clock: `due_at` and
`next_nudge_at`).

Until now the sweep moved `due_at` to the next reminder, so an issue that had been reminded no
longer looked overdue. From here `due_at` is the deadline people see and reminders move only
`next_nudge_at`. Existing open issues with a deadline are carried over: their next reminder is the
current `due_at` (what the sweep would have done next), and their deadline goes back to the one
their window started with, as its last CLOCK event recorded it (`data["due_at"]`), or stays as it
is when no such event says otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import migrations, models

OPEN_STATES = ("in_pharmacy", "cis_self_service", "ra_contacted", "lpc_cc", "escalated")
BATCH = 2000


def window_deadline(clock_data: Any, fallback: datetime) -> datetime:
    """The deadline a CLOCK event's data recorded when its window started, else `fallback`."""
    recorded = clock_data.get("due_at") if isinstance(clock_data, dict) else None
    if not recorded:
        return fallback
    try:
        deadline = datetime.fromisoformat(str(recorded))
    except ValueError:
        return fallback
    return deadline if deadline.tzinfo is not None else fallback


def carry_deadlines_over(apps: Any, schema_editor: Any) -> None:
    """For each open issue with a deadline: next_nudge_at = due_at, and due_at = the deadline of
    its window (its last CLOCK event's data["due_at"], falling back to the current due_at)."""
    Issue = apps.get_model("issues", "Issue")
    IssueEvent = apps.get_model("issues", "IssueEvent")
    waiting = Issue.objects.filter(state__in=OPEN_STATES, due_at__isnull=False).order_by("pk")
    last_id = 0
    while True:
        issues = list(waiting.filter(pk__gt=last_id).only("pk", "due_at", "next_nudge_at")[:BATCH])
        if not issues:
            return
        last_clock: dict[int, Any] = {}
        clocks = (
            IssueEvent.objects.filter(issue_id__in=[issue.pk for issue in issues], kind="clock")
            .order_by("issue_id", "created_at", "pk")
            .values_list("issue_id", "data")
        )
        for issue_id, data in clocks:
            last_clock[issue_id] = data  # the latest wins
        for issue in issues:
            issue.next_nudge_at = issue.due_at
            issue.due_at = window_deadline(last_clock.get(issue.pk), issue.due_at)
        Issue.objects.bulk_update(issues, ["due_at", "next_nudge_at"])
        last_id = issues[-1].pk


def put_the_cursor_back(apps: Any, schema_editor: Any) -> None:
    """Backwards: the one column again holds the next reminder, as the sweep used it before."""
    Issue = apps.get_model("issues", "Issue")
    Issue.objects.filter(state__in=OPEN_STATES, next_nudge_at__isnull=False).update(due_at=models.F("next_nudge_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("issues", "0005_inbound_matches"),
    ]

    operations = [
        migrations.AddField(
            model_name="issue",
            name="next_nudge_at",
            field=models.DateTimeField(
                blank=True, help_text="When the next reminder is due; the sweep moves it as it claims one.", null=True
            ),
        ),
        migrations.AlterField(
            model_name="issue",
            name="reminders_sent",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="Nudges sent for the current wait; the sweep bumps it as it claims a reminder."
            ),
        ),
        migrations.RunPython(carry_deadlines_over, put_the_cursor_back, elidable=False),
        migrations.AddIndex(
            model_name="issue",
            index=models.Index(
                condition=models.Q(("next_nudge_at__isnull", False)),
                fields=["next_nudge_at"],
                name="issue_next_nudge_waiting",
            ),
        ),
    ]
