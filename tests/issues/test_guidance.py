"""Guidance at every step: every kind and stage has text, and it follows the route."""

from __future__ import annotations

import pytest

from issues import guidance
from issues.models import OPEN_STATES, Kind, State


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


def test_it_sends_a_lost_card_straight_to_the_ra():
    assert guidance.kind_allows_skipping_to_ra("lost_stolen_damaged")
    assert not guidance.kind_allows_skipping_to_ra("locked")
    text = guidance.guidance(kind="lost_stolen_damaged", state=State.IN_PHARMACY)
    assert "RA" in text.title
    assert "contact the Registration Authority (RA) now" in text.text


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
    assert "half a working day" in text.warning


def test_it_tells_the_owner_and_not_staff_about_copying_in_the_lpc():
    owner = " ".join(guidance.guidance(kind="locked", state=State.RA_CONTACTED, role="owner").steps)
    staff = " ".join(guidance.guidance(kind="locked", state=State.RA_CONTACTED, role="staff").steps)
    assert "copy them in" in owner
    assert "ask the pharmacy owner" in staff


def test_it_tells_the_lpc_officer_about_escalating_to_cpe_it(settings):
    settings.CPE_IT_EMAIL = "it@cpe.example"
    steps = " ".join(guidance.guidance(kind="locked", state=State.LPC_CC, role="lpc_officer").steps)
    assert "it@cpe.example" in steps


def test_it_says_what_to_do_after_the_ra_replied():
    text = guidance.guidance(kind="locked", state=State.RA_CONTACTED, waiting_for="pharmacy_update")
    assert "The RA has replied" in text.text


def test_it_reads_guidance_for_an_issue_as_its_user(issue, owner, staff):
    assert guidance.guidance_for(issue=issue, user=owner).title == "Try to fix it in the pharmacy"
