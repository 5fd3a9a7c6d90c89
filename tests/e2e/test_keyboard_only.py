"""Keyboard only (issue 10, part 6): the pharmacy's report journey from the start page to the issue
page, and one action of each role, with no mouse at all (tests/e2e/keyboard.py: Tab, Shift+Tab,
Enter, Space, the arrow keys in a group of radios, and typing), every control reached showing its
focus.

- pharmacy staff: log in, report a locked card, reach the issue page, move the issue on to CIS;
- an LPC officer: from the dashboard to the issue, log work with the RA;
- CPE IT: from the dashboard to an escalation, triage it (returned to the LPC with advice);
- the directory manager: mark a correction report done.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from directory.models import CorrectionReport
from issues.models import EventKind, Issue, State, TriageOutcome
from tests.e2e.browser import PASSWORD
from tests.e2e.keyboard import FocusNotVisible, choose, press, tab_to, type_into
from tests.issues.factories import IssueFactory, LPCFactory, PharmacyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in_by_keyboard(page: Any, email: str) -> None:
    """From the log-in page: type the email address and password, press the Log in button."""
    page.goto("/login/")
    type_into(page, page.get_by_label("Email address"), email)
    type_into(page, page.get_by_role("textbox", name="Password"), PASSWORD)
    press(page, page.get_by_role("button", name="Log in"))
    page.wait_for_url(lambda url: "/login/" not in url)


def test_a_pharmacist_reports_a_problem_and_moves_it_on_by_keyboard(page: Any) -> None:
    pharmacist = UserFactory.create(email="priya@riverside.example", full_name="Priya Shah", phone="0113 496 0111")
    PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FR123", staff=[pharmacist])

    page.goto("/")
    press(page, page.get_by_role("button", name="Log in to start"))
    expect(page.locator("h1")).to_have_text("Log in to Smartcard Route")
    type_into(page, page.get_by_label("Email address"), pharmacist.email)
    type_into(page, page.get_by_role("textbox", name="Password"), PASSWORD)
    press(page, page.get_by_role("button", name="Log in"))
    expect(page.locator("h1")).to_have_text("Get a Smartcard problem fixed")

    press(page, page.locator("main").get_by_role("button", name="Report a Smartcard problem"))
    expect(page.locator("h1")).to_contain_text("What kind of problem is it?")
    choose(page, page.get_by_label("Card locked or passcode forgotten"))
    press(page, page.get_by_role("button", name="Continue"))

    expect(page.locator("h1")).to_contain_text("What have you already tried in the pharmacy?")
    type_into(page, page.get_by_label("What you have tried, and what happened"), "The unlock email never came.")
    press(page, page.get_by_role("button", name="Continue"))

    expect(page.locator("h1")).to_contain_text("Tell us about the problem")
    type_into(page, page.get_by_label("Summary"), "Card locked after three wrong passcodes")
    type_into(page, page.get_by_label("Smartcard number"), "1234 5678")  # too short: an error first
    choose(page, page.get_by_label("No", exact=True))
    press(page, page.get_by_role("button", name="Continue"))
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()  # NHS.UK frontend moves focus to the error summary
    press(page, summary.get_by_role("link").first)  # its link takes focus to the field in error
    smartcard = page.get_by_label("Smartcard number")
    expect(smartcard).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("1234 5678 9012")
    press(page, page.get_by_role("button", name="Continue"))

    expect(page.locator("h1")).to_contain_text("Check your answers")
    press(page, page.get_by_role("button", name="Report the problem"))
    expect(page.locator(".nhsuk-panel")).to_contain_text("Problem reported")
    issue = Issue.objects.get()
    press(page, page.get_by_role("button", name="Go to the issue"))
    expect(page.locator(".app-issue-status")).to_contain_text("Trying to fix it in the pharmacy")

    # Move the issue on: open the action (a disclosure) with Enter, type a note, press its button.
    press(page, page.locator("summary", has_text="Move on to CIS self-service"))
    type_into(page, page.get_by_label("A note for the timeline (optional)"), "The unlock email never arrived.")
    press(page, page.get_by_role("button", name="Move on to CIS", exact=True), key="Space")
    expect(page.get_by_text("You are now trying Care Identity Service self-service.")).to_be_visible()
    issue.refresh_from_db()
    assert issue.state == State.CIS_SELF_SERVICE


def test_an_lpc_officer_logs_work_with_the_ra_by_keyboard(page: Any) -> None:
    officer = UserFactory.create(email="officer@lpc.example", full_name="Lee Officer")
    pharmacy = PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FR123")
    assert pharmacy.lpc is not None
    pharmacy.lpc.officers.add(officer)
    issue = IssueFactory.create(pharmacy=pharmacy, state=State.LPC_CC, summary="Card locked")

    log_in_by_keyboard(page, officer.email)
    expect(page.locator("h1")).to_contain_text("What needs you now")
    press(page, page.get_by_role("table", name="Issues waiting on your LPC").get_by_role("link", name=issue.reference))
    press(page, page.locator("summary", has_text="Log the LPC's work with the RA or NHS England"))
    form = page.locator("#action-lpc_work")
    choose(page, form.get_by_label("The RA", exact=True))
    choose(page, form.get_by_label("A phone call"))
    type_into(page, form.get_by_label("What was done or said"), "Spoke to the RA manager: unlocking today.")
    press(page, form.get_by_role("button", name="Log the work"))
    expect(page.locator("main")).to_contain_text("Your work is on the timeline.")
    assert issue.events.filter(kind=EventKind.LPC_WORK).exists()


def test_cpe_it_triage_an_escalation_by_keyboard(page: Any) -> None:
    pharmacy = PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FR123", lpc=LPCFactory.create())
    escalation = IssueFactory.create(pharmacy=pharmacy, state=State.ESCALATED, summary="Certificates expired")
    cpe_it = UserFactory.create(email="it@cpe.example", full_name="Casey IT", is_cpe_it=True)

    log_in_by_keyboard(page, cpe_it.email)
    to_triage = page.get_by_role("region", name="Escalations awaiting triage")
    press(page, to_triage.get_by_role("link", name=escalation.reference))
    press(page, page.locator("#action-triage summary"))
    choose(page, page.get_by_label("Returned to the LPC with advice"))
    type_into(page, page.get_by_label("Triage note"), "Ask the RA's Sponsor to renew the certificates.")
    press(page, page.get_by_role("button", name="Record the triage"))
    expect(page.locator("main")).to_contain_text("your advice is on its way to the LPC")
    escalation.refresh_from_db()
    assert escalation.triage_outcome == TriageOutcome.RETURNED_TO_LPC


def test_the_directory_manager_handles_a_correction_report_by_keyboard(page: Any) -> None:
    staff = UserFactory.create(email="staff@riverside.example")
    pharmacy = PharmacyFactory.create(staff=[staff])
    report = CorrectionReport.objects.create(ra=pharmacy.ra, reporter=staff, details="The RA moved office.")
    manager = UserFactory.create(email="directory@cpe.example", is_directory_manager=True)

    log_in_by_keyboard(page, manager.email)
    page.goto(f"/directory/corrections/{report.pk}/")  # the report's own page, where it is handled
    expect(page.locator("main")).to_contain_text("The RA moved office.")
    press(page, page.get_by_role("button", name="Mark as done and tell"))
    expect(page.locator("main")).to_contain_text("There are no open correction reports.")
    report.refresh_from_db()
    assert report.status == CorrectionReport.Status.DONE


def test_tab_to_fails_where_focus_is_not_visible(page: Any) -> None:
    """The focus check is not vacuous: a link whose focus style is taken away fails it."""
    page.goto("/login/")
    link = page.get_by_role("link", name="Forgotten your password?")
    link.evaluate(  # the link keeps its unfocused look when focused (an inline style: the CSP allows it)
        "el => { const style = getComputedStyle(el);"
        " for (const p of ['outline', 'box-shadow', 'background-color', 'color', 'text-decoration'])"
        " el.style.setProperty(p, style.getPropertyValue(p), 'important'); }"
    )
    with pytest.raises(FocusNotVisible):
        tab_to(page, link)
