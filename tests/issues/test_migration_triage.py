"""Migration 0011: an escalation triaged before it last entered escalated has its triage cleared,
as entering escalated now clears it (issues.services.transitions); a triage since is kept."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from issues.models import EventKind, Issue, IssueEvent, State, TriageOutcome
from tests.issues.factories import IssueFactory

BEFORE = [("issues", "0010_figures_snapshot_retention")]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def test_it_clears_a_triage_older_than_the_last_escalation(transactional_db):
    _migrate(BEFORE)
    try:
        now = timezone.now()
        stale = IssueFactory.create(
            state=State.ESCALATED, triage_outcome=TriageOutcome.HANDLED, triaged_at=now - timedelta(days=3)
        )
        fresh = IssueFactory.create(
            state=State.ESCALATED, triage_outcome=TriageOutcome.HANDLED, triaged_at=now - timedelta(hours=1)
        )
        for issue in (stale, fresh):
            IssueEvent.objects.create(
                issue=issue,
                kind=EventKind.TRANSITION,
                from_state=State.LPC_CC,
                to_state=State.ESCALATED,
                created_at=now - timedelta(days=1),
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert Issue.objects.filter(pk=stale.pk).values_list("triage_outcome", "triaged_at").get() == ("", None)
    assert Issue.objects.get(pk=fresh.pk).triage_outcome == TriageOutcome.HANDLED
