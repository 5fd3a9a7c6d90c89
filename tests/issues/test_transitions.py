"""Every transition from every state for every role: allowed, or refused with the right exception
and nothing saved (DESIGN.md's transition table and "People" table)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from issues import services
from issues.exceptions import IssueActionForbidden, IssueChangedConcurrently, TransitionNotAllowedNow
from issues.models import RA_ONLY_KINDS, EventKind, Issue, IssueEvent, State
from issues.selectors import issue_allowed_transitions
from smartcard_route.mail.models import OutboundEmail
from tests.issues.factories import IssueFactory

ROLES = ["staff", "owner", "lpc_officer", "cpe_it", "outsider", "directory_manager"]
OPEN = [State.IN_PHARMACY, State.CIS_SELF_SERVICE, State.RA_CONTACTED, State.LPC_CC, State.ESCALATED]

# transition: (from states, who may, target)
TABLE: dict[str, tuple[list[State], set[str], State | None]] = {
    "try_cis": ([State.IN_PHARMACY], {"staff", "owner"}, State.CIS_SELF_SERVICE),
    "contact_ra": ([State.IN_PHARMACY, State.CIS_SELF_SERVICE], {"staff", "owner"}, State.RA_CONTACTED),
    "cc_lpc": ([State.RA_CONTACTED], {"owner"}, State.LPC_CC),
    "escalate_to_cpe": ([State.LPC_CC], {"lpc_officer"}, State.ESCALATED),
    "resolve": (OPEN, {"staff", "owner", "lpc_officer", "cpe_it"}, State.RESOLVED),
    "withdraw": (OPEN, {"staff", "owner"}, State.WITHDRAWN),  # staff: as the reporter
    "reopen": ([State.RESOLVED], {"staff", "owner"}, None),  # back to the state it was resolved from
}

# The service of each transition (issues.services: one function per row of issues.route).
SERVICE: dict[str, Callable[..., Any]] = {
    "try_cis": services.issue_try_cis,
    "contact_ra": services.issue_contact_ra,
    "cc_lpc": services.issue_cc_lpc,
    "escalate_to_cpe": services.issue_escalate_to_cpe,
    "resolve": services.issue_resolve,
    "withdraw": services.issue_withdraw,
    "reopen": services.issue_reopen,
}

FIELDS = {
    "try_cis": {"note": "Tried the self-service unlock; no email on the profile."},
    "contact_ra": {"question": "Please add an email to my profile so I can unlock my card.", "send_via": "app"},
    "cc_lpc": {"note": "No reply from the RA after two days."},
    "escalate_to_cpe": {"note": "The RA does not answer the LPC either."},
    "resolve": {"note": "The RA unlocked the card.", "fixed_by_step": "ra"},
    "withdraw": {"reason": "Reported twice."},
    "reopen": {"reason": "Locked again."},
}


def expected(role: str, state: str, transition: str) -> str:
    sources, who, _ = TABLE[transition]
    lpc_involved = state in (State.LPC_CC, State.ESCALATED)
    if role == "lpc_officer" and not lpc_involved:
        return "forbidden"  # the LPC officer cannot see it yet
    if role not in who:
        return "forbidden"
    if state not in sources:
        return "not_now"
    return "ok"


@pytest.fixture
def make_issue(pharmacy, staff):
    def make(state: str) -> Issue:
        issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state)
        if state not in (State.IN_PHARMACY, State.CIS_SELF_SERVICE):
            # The request the pharmacy sent the RA from its own mailbox: RA correspondence.
            IssueEvent.objects.create(issue=issue, kind=EventKind.REQUEST_CONFIRMED, text="Dear RA, ...")
        return issue

    return make


@pytest.mark.parametrize("transition", list(TABLE))
@pytest.mark.parametrize("state", list(State.values))
@pytest.mark.parametrize("role", ROLES)
def test_it_allows_or_refuses_each_transition(request, make_issue, role, state, transition):
    user = request.getfixturevalue(role)
    issue = make_issue(state)
    events_before = issue.events.count()
    outcome = expected(role, state, transition)

    if outcome == "ok":
        SERVICE[transition](user=user, issue=issue, **FIELDS[transition])
        target = TABLE[transition][2] or State.RA_CONTACTED  # the factory resolves issues from ra_contacted
        issue = Issue.objects.get(pk=issue.pk)
        assert issue.state == target
        event = issue.events.filter(kind=EventKind.TRANSITION).get()
        assert (event.from_state, event.to_state, event.actor) == (state, target, user)
        assert event.data["transition"] == transition
        # When it entered its state, for the ageing counts (Issue.in_state_since): the change's moment.
        assert issue.state_changed_at == event.created_at
        return

    exception = IssueActionForbidden if outcome == "forbidden" else TransitionNotAllowedNow
    with pytest.raises(exception) as raised:
        SERVICE[transition](user=user, issue=issue, **FIELDS[transition])
    assert raised.value.message
    fresh = Issue.objects.get(pk=issue.pk)
    assert fresh.state == state
    assert issue.state == state  # the object passed in is not left half-changed
    assert fresh.events.count() == events_before
    assert fresh.state_changed_at is None
    assert not OutboundEmail.objects.filter(issue=fresh).exists()
    if outcome == "not_now":
        assert fresh.get_state_display() in raised.value.message


@pytest.mark.parametrize("state", list(State.values))
@pytest.mark.parametrize("role", ROLES)
def test_it_lists_exactly_the_transitions_the_service_allows(request, make_issue, role, state):
    user = request.getfixturevalue(role)
    issue = make_issue(state)
    allowed = issue_allowed_transitions(user=user, issue=issue)
    assert sorted(allowed) == sorted(t for t in TABLE if expected(role, state, t) == "ok")


def test_it_lets_only_the_owner_cc_the_lpc_when_contacting_the_ra(issue, staff, owner):
    with pytest.raises(IssueActionForbidden, match="owner"):
        services.issue_contact_ra(user=staff, issue=issue, question="Please help", cc_lpc=True)
    services.issue_contact_ra(user=owner, issue=issue, question="Please help", cc_lpc=True)
    issue.refresh_from_db()
    assert issue.state == State.LPC_CC
    assert issue.lpc_involved_at is not None


def test_it_lets_only_the_reporter_among_staff_withdraw(pharmacy, staff, owner):
    from tests.issues.factories import UserFactory

    colleague = UserFactory.create()
    pharmacy.staff.add(colleague)
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=colleague)
    with pytest.raises(IssueActionForbidden, match="reported"):
        services.issue_withdraw(user=staff, issue=issue, reason="Not mine")
    services.issue_withdraw(user=colleague, issue=issue, reason="Fixed itself")
    assert Issue.objects.get(pk=issue.pk).state == State.WITHDRAWN


def test_it_reopens_only_within_the_reopen_window(make_issue, staff, settings):
    settings.REOPEN_WITHIN_DAYS = 30
    issue = make_issue(State.RESOLVED)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        with pytest.raises(TransitionNotAllowedNow, match="30 days"):
            services.issue_reopen(user=staff, issue=issue, reason="Again")
        assert issue_allowed_transitions(user=staff, issue=issue) == []
    with time_machine.travel(timezone.now() + timedelta(days=29)):
        services.issue_reopen(user=staff, issue=issue, reason="Again")
    issue = Issue.objects.get(pk=issue.pk)
    assert issue.state == State.RA_CONTACTED
    assert (issue.resolved_at, issue.resolution_note, issue.fixed_by_step) == (None, "", "")


def test_it_reopens_to_the_state_it_was_resolved_from(issue, staff, owner):
    services.issue_try_cis(user=staff, issue=issue)
    services.issue_resolve(user=staff, issue=issue, note="Fixed in CIS", fixed_by_step="cis_self_service")
    services.issue_reopen(user=owner, issue=issue, reason="Locked again")
    assert Issue.objects.get(pk=issue.pk).state == State.CIS_SELF_SERVICE


def test_it_takes_each_transition_by_its_own_function_and_refuses_an_unknown_field(issue, staff):
    """One function per transition; a field it does not take is refused by its signature."""
    assert services.ACTION_SERVICES["try_cis"] is services.issue_try_cis
    assert not hasattr(services, "issue_transition")
    with pytest.raises(TypeError, match="colour"):
        services.issue_try_cis(user=staff, issue=issue, colour="red")  # type: ignore[call-arg]
    assert Issue.objects.get(pk=issue.pk).state == State.IN_PHARMACY


def test_it_answers_a_lost_race_with_changed_concurrently_and_saves_nothing(issue, staff, owner):
    first = Issue.objects.get(pk=issue.pk)
    second = Issue.objects.get(pk=issue.pk)
    services.issue_try_cis(user=staff, issue=first, note="CIS")
    events = IssueEvent.objects.filter(issue=issue).count()

    with pytest.raises(IssueChangedConcurrently):
        services.issue_withdraw(user=owner, issue=second, reason="Duplicate")

    fresh = Issue.objects.get(pk=issue.pk)
    assert fresh.state == State.CIS_SELF_SERVICE
    assert fresh.withdrawn_reason == ""
    assert IssueEvent.objects.filter(issue=issue).count() == events
    assert second.state == State.CIS_SELF_SERVICE  # reloaded: the caller sees what won


def test_it_loses_nothing_when_two_people_contact_the_ra_at_once(issue, staff, owner):
    first = Issue.objects.get(pk=issue.pk)
    second = Issue.objects.get(pk=issue.pk)
    services.issue_contact_ra(user=staff, issue=first, question="Please unlock")
    with pytest.raises(IssueChangedConcurrently):
        services.issue_contact_ra(user=owner, issue=second, question="Please unlock too")
    assert OutboundEmail.objects.filter(issue=issue).count() == 1
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITION).count() == 1


@pytest.mark.parametrize("kind", sorted(RA_ONLY_KINDS))
def test_it_refuses_the_cis_step_for_a_kind_only_the_ra_can_fix(pharmacy, staff, kind):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, kind=kind)
    assert issue_allowed_transitions(user=staff, issue=issue) == ["contact_ra", "resolve", "withdraw"]
    with pytest.raises(TransitionNotAllowedNow) as raised:
        services.issue_try_cis(user=staff, issue=issue, note="Tried")
    assert raised.value.message.startswith("Only the RA can fix this kind of problem")
    assert "contact the RA" in raised.value.message
    assert Issue.objects.get(pk=issue.pk).state == State.IN_PHARMACY
    assert not issue.events.exists()
