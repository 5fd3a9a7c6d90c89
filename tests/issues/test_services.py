"""The service layer: reporting, each transition's effects, notes, calls and replies."""

from __future__ import annotations

import pytest
from django.core import mail

from issues import services
from issues.models import Deadline, EventKind, OutboundEmail, State


@pytest.fixture
def reported(staff, pharmacy):
    return services.issue_report(
        user=staff,
        pharmacy=pharmacy,
        kind="locked",
        summary="Card locked",
        contact_name="Sam Patel",
        contact_phone="0113 496 0002",
        smartcard_number="1234 5678 9012",
    )


def test_it_walks_the_happy_path(reported, staff, django_capture_on_commit_callbacks):
    issue = reported
    assert issue.smartcard_number == "123456789012"
    services.issue_transition(user=staff, issue=issue, transition="try_cis", note="Self-unlock failed")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.issue_transition(user=staff, issue=issue, transition="contact_ra", question="Please unlock my card")
    assert len(callbacks) == 1
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED
    assert issue.due_kind == Deadline.RA_REPLY
    email = OutboundEmail.objects.get(issue=issue)
    assert email.subject.startswith(f"[{issue.reference}]")
    assert "FA123" in email.body_text
    services.issue_log_ra_reply(user=staff, issue=issue, text="Unlocked")
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE
    services.issue_transition(user=staff, issue=issue, transition="resolve", note="done", fixed_by_step="ra")
    assert issue.due_at is None
    assert list(issue.events.values_list("kind", flat=True)).count(EventKind.CLOCK) == 4
    assert mail.outbox == []
