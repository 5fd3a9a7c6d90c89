"""Migration 0019: each issue's `state_changed_at` is filled from its last TRANSITION event, the
moment the ageing counts used to look up (issues.selectors.lpc); an issue with no status change
keeps None (in its reported state since `created_at`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from issues.models import EventKind, Issue, State
from tests.issues.factories import PharmacyFactory, UserFactory, historical_issue

BEFORE = [("issues", "0018_waiting_due_index_carries_kind_and_state")]


def test_it_fills_when_each_issue_entered_its_state_from_its_last_status_change(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps  # the models of then: no state_changed_at column
        old_issue, old_event = old.get_model("issues", "Issue"), old.get_model("issues", "IssueEvent")
        pharmacy, reporter = PharmacyFactory.create(), UserFactory.create()
        now = timezone.now()

        def issue(state: str) -> Any:
            return historical_issue(
                old_issue, pharmacy=pharmacy, reporter=reporter, state=state, created_at=now - timedelta(days=20)
            )

        moved, untouched = issue(State.LPC_CC), issue(State.IN_PHARMACY)
        for days_ago, kind in ((9, EventKind.TRANSITION), (4, EventKind.TRANSITION), (1, EventKind.NUDGE)):
            old_event.objects.create(issue=moved, kind=kind, created_at=now - timedelta(days=days_ago))
        old_event.objects.create(issue=untouched, kind=EventKind.NOTE, created_at=now - timedelta(days=2))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    # The later of its two status changes; the reminder after it is no change of state.
    assert Issue.objects.get(pk=moved.pk).state_changed_at == now - timedelta(days=4)
    assert Issue.objects.get(pk=untouched.pk).state_changed_at is None
    assert Issue.objects.get(pk=untouched.pk).in_state_since == now - timedelta(days=20)
