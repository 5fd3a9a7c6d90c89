"""The one function that writes a timeline event (an IssueEvent row), for the services and for the
receivers of the mail layer's signals alike (issues.correspondence). It imports only the models, so
that anything in issues/ may call it without an import circle.

The only other writer is the nudge sweep's batch (issues.nudges.batch._write, through
issues.nudges.bulk.insert_rows): its set-based twin, one INSERT for a batch's NUDGE events, because
a sweep writes thousands of them and no model instance may be built per row (Django's bulk_create
alone spends about 0.1 ms of Python on each; docs/benchmarks.md). Its columns and defaults come from
the same model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from directory.models import User
from issues.models import Issue, IssueEvent


def record_event(
    issue: Issue | int,
    *,
    kind: str,
    actor: User | None,
    text: str = "",
    from_state: str = "",
    to_state: str = "",
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> IssueEvent:
    """Write one event on `issue` (the issue, or its id when the caller holds only that, as the
    mail layer's receivers do), at `now` (by default the present moment)."""
    issue_field: dict[str, Any] = {"issue_id": issue} if isinstance(issue, int) else {"issue": issue}
    return IssueEvent.objects.create(
        **issue_field,
        kind=kind,
        actor=actor,
        text=text,
        from_state=from_state,
        to_state=to_state,
        data=data or {},
        created_at=now or timezone.now(),
    )
