"""Guidance at every step: every kind and stage has text, and it follows the route."""

from __future__ import annotations

import re

import pytest

from issues import guidance
from issues.models import OPEN_STATES, RA_ONLY_KINDS, Kind, State


def test_it_has_no_problem_in_the_guidance_file():
    assert guidance.check_guidance_file() == []


@pytest.mark.parametrize("state", OPEN_STATES)
@pytest.mark.parametrize("kind", Kind.values)
@pytest.mark.parametrize("role", guidance.ROLES)
def test_it_says_what_to_do_now_for_every_kind_and_open_state(kind, state, role):
    text = guidance.guidance(kind=kind, state=state, role=role)
    assert text.title
    assert text.text
    assert text.steps
    assert "{" not in text.text + "".join(text.steps)


def words(text: guidance.Guidance) -> str:
    return " ".join([text.title, text.text, *text.steps, text.warning])


@pytest.mark.parametrize("kind", sorted(RA_ONLY_KINDS))
@pytest.mark.parametrize("state", [State.IN_PHARMACY, State.CIS_SELF_SERVICE])
def test_it_sends_a_kind_only_the_ra_can_fix_straight_to_the_ra(kind, state):
    text = guidance.guidance(kind=kind, state=state)
    assert text.title == "Contact the Registration Authority (RA) now"
    assert "contact the RA now" in text.text
    assert "CIS" not in words(text) and "Care Identity Service" not in words(text)


def test_it_keeps_the_pharmacy_checks_for_a_kind_the_pharmacy_may_fix():
    text = guidance.guidance(kind="locked", state=State.IN_PHARMACY)
    assert text.title == "Try to fix it in the pharmacy"
    assert any("move on to Care Identity Service (CIS) self-service" in step for step in text.steps)


def test_it_does_not_ask_again_what_was_already_tried():
    text = guidance.guidance(kind="locked", state=State.IN_PHARMACY, tried=True)
    assert text.text.startswith("You told us what you have already tried")
    assert "Try these checks first" not in words(text)


@pytest.mark.parametrize("kind", sorted(set(Kind.values) - RA_ONLY_KINDS))
def test_it_says_how_to_use_cis_once_the_person_moved_on_to_it(kind):
    text = guidance.guidance(kind=kind, state=State.CIS_SELF_SERVICE)
    assert text.title == "Use Care Identity Service self-service"
    assert not re.search(r"\btry (CIS|Care Identity Service)", words(text), re.IGNORECASE)
    assert "contact the Registration Authority (RA)" in words(text)


def test_it_gives_the_in_pharmacy_checks_of_the_kind():
    steps = guidance.in_pharmacy_steps("reader_software")
    assert any("Identity Agent" in step for step in steps)
    assert "90 days" in " ".join(guidance.in_pharmacy_steps("certificates_expiring"))


def test_it_fills_in_the_windows_from_settings(settings):
    settings.WINDOW_RA_REPLY_DAYS = 3
    text = guidance.guidance(kind="locked", state=State.RA_CONTACTED)
    assert "Allow 3 working days for a reply." in text.text


def test_it_tells_an_emergency_to_phone():
    text = guidance.guidance(kind="locked", state=State.RA_CONTACTED, is_emergency=True)
    assert "phone the RA now" in text.warning
    assert "Allow half a working day for a reply." in text.text
    assert "working days" not in words(text)


def test_it_says_what_to_do_next_when_the_emergencys_ra_replied():
    text = guidance.guidance(kind="locked", state=State.RA_CONTACTED, is_emergency=True, waiting_for="pharmacy_update")
    assert text.title == "The RA has replied: resolve it or take the next step"
    assert "phone them" in text.warning
    assert "due" not in words(text) and "half a working day" not in words(text)


def test_it_tells_the_owner_and_not_staff_about_copying_in_the_lpc():
    owner = " ".join(guidance.guidance(kind="locked", state=State.RA_CONTACTED, role="owner").steps)
    staff = " ".join(guidance.guidance(kind="locked", state=State.RA_CONTACTED, role="staff").steps)
    assert "copy them in" in owner
    assert "ask the pharmacy owner" in staff


def test_it_tells_the_lpc_officer_about_escalating_to_cpe_it(settings):
    settings.CPE_IT_EMAIL = "it@cpe.example"
    steps = " ".join(guidance.guidance(kind="locked", state=State.LPC_CC, role="lpc_officer").steps)
    assert "it@cpe.example" in steps


def test_it_stops_asking_cpe_it_to_triage_once_it_is_triaged():
    before = guidance.guidance(kind="locked", state=State.ESCALATED, role="cpe_it")
    after = guidance.guidance(kind="locked", state=State.ESCALATED, role="cpe_it", triaged=True)
    assert any(step.startswith("Triage it:") for step in before.steps)
    assert after.title == "Triaged by CPE IT"
    assert not any(step.startswith("Triage it:") for step in after.steps)


def test_it_tells_the_lpc_to_follow_up_the_advice_cpe_it_returned():
    returned = guidance.guidance(
        kind="locked", state=State.ESCALATED, role="lpc_officer", triaged=True, waiting_for="lpc_follow_up"
    )
    assert "follow their advice" in " ".join(returned.steps)
    late = guidance.guidance(kind="locked", state=State.ESCALATED, role="lpc_officer", triaged=True, overdue=True)
    assert late.title == "The LPC's follow-up of CPE IT's advice is due"


def test_it_says_what_to_do_after_the_ra_replied():
    text = guidance.guidance(kind="locked", state=State.RA_CONTACTED, waiting_for="pharmacy_update")
    assert "The RA has replied" in text.text
    assert "Wait" not in text.title


def test_it_says_chase_once_the_ra_reply_is_overdue():
    text = guidance.guidance(kind="locked", state=State.RA_CONTACTED, overdue=True)
    assert text.title == "Chase the RA"
    assert "Allow" not in text.text


def test_it_reads_guidance_for_an_issue_as_its_user(issue, owner, staff):
    assert guidance.guidance_for(issue=issue, user=owner).title == "Try to fix it in the pharmacy"


def test_it_says_the_lpc_follows_up_once_it_logged_work(settings):
    """In lpc_cc after LPC work the follow-up window runs: the text names it, not the LPC's time to act."""
    settings.WINDOW_LPC_FOLLOW_UP_DAYS = 5
    acting = guidance.guidance(kind="locked", state=State.LPC_CC, role="lpc_officer", waiting_for="lpc_action")
    following = guidance.guidance(kind="locked", state=State.LPC_CC, role="lpc_officer", waiting_for="lpc_follow_up")
    assert acting.title == "The LPC is helping"
    assert following.title == "The LPC is working on it"
    assert "5 working days" in following.text and "to act" not in following.text
    assert "Follow up the work you logged" in " ".join(following.steps)
    late = guidance.guidance(kind="locked", state=State.LPC_CC, role="staff", waiting_for="lpc_follow_up", overdue=True)
    assert late.title == "The LPC's follow-up is due"
