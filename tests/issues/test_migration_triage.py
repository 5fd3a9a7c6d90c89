"""Migration 0011: an escalation triaged before it last entered escalated has its triage cleared,
as entering escalated now clears it (issues.services.transitions); a triage since is kept."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from issues.models import EventKind, Issue, State, TriageOutcome
from tests.issues.factories import PharmacyFactory, UserFactory, historical_issue

BEFORE = [("issues", "0010_figures_snapshot_retention")]


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


def test_it_clears_a_triage_older_than_the_last_escalation(transactional_db):
    executor = _migrate(BEFORE)
    try:
        # The models as they were then: today's have columns the tables do not have yet.
        old = executor.loader.project_state(BEFORE).apps
        old_issue, old_event = old.get_model("issues", "Issue"), old.get_model("issues", "IssueEvent")
        pharmacy, reporter = PharmacyFactory.create(), UserFactory.create()
        now = timezone.now()
        stale, fresh = (
            historical_issue(
                old_issue,
                pharmacy=pharmacy,
                reporter=reporter,
                state=State.ESCALATED,
                triage_outcome=TriageOutcome.HANDLED,
                triaged_at=triaged_at,
            )
            for triaged_at in (now - timedelta(days=3), now - timedelta(hours=1))
        )
        for issue in (stale, fresh):
            old_event.objects.create(
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
