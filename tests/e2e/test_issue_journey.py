"""The pharmacy's journey in Chromium: report a locked card, record the CIS attempt, contact the RA
from the app (the email leaves through the outbox and a real Celery worker), see the deadline, log
the RA's reply and resolve the issue. axe-core finds no violation on any page on the way."""

from __future__ import annotations

import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from issues.models import EventKind, Issue, MailPurpose, State
from issues.presentation import deadline_text
from smartcard_route.mail.models import OutboundEmail
from tests.e2e.browser import assert_accessible, log_in
from tests.issues.factories import PharmacyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pharmacist():
    user = UserFactory.create(email="priya@riverside.example", full_name="Priya Shah", phone="0113 496 0111")
    PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FR123", staff=[user])
    return user


def continue_to(page, heading: str, axe: Axe) -> None:
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_contain_text(heading)
    assert_accessible(axe, page)


def take_action(page, summary: str) -> None:
    """Open one of the issue page's actions (a details element holding its short form)."""
    page.locator("summary", has_text=summary).click()


def wait_until_sent(email_id: int, timeout: float = 30) -> OutboundEmail:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        email = OutboundEmail.objects.get(pk=email_id)
        if email.status == OutboundEmail.Status.SENT:
            return email
        time.sleep(0.1)
    raise AssertionError(f"The worker did not send the email within {timeout:.0f} s (status {email.status}).")


def test_it_takes_a_locked_card_from_report_to_resolved(page, axe, pharmacist, celery_worker_thread, mailoutbox):
    log_in(page, pharmacist.email)

    # Report a Smartcard problem: one question per page, then check your answers.
    page.goto("/issues/report/")
    expect(page.locator("h1")).to_contain_text("What kind of problem is it?")
    assert_accessible(axe, page)
    page.get_by_label("Card locked or passcode forgotten").check()
    continue_to(page, "What have you already tried in the pharmacy?", axe)
    expect(page.get_by_text("Care Identity Management (CIM)").first).to_be_visible()

    page.get_by_label("What you have tried, and what happened").fill("The unlock email never arrived.")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_contain_text("Tell us about the problem")
    # A mistake first: the error summary names it and nothing is saved.
    page.get_by_label("Summary").fill("Card locked after three wrong passcodes")
    page.get_by_label("Smartcard number").fill("1234 5678")
    page.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    assert_accessible(axe, page)
    assert not Issue.objects.exists()

    page.get_by_label("Smartcard number").fill("1234 5678 9012")
    continue_to(page, "Check your answers", axe)
    expect(page.locator(".nhsuk-summary-list")).to_contain_text("1234 5678 9012")

    page.get_by_role("button", name="Report the problem").click()
    expect(page.locator(".nhsuk-panel")).to_contain_text("Problem reported")
    issue = Issue.objects.get()
    expect(page.locator(".nhsuk-panel")).to_contain_text(issue.reference)
    assert_accessible(axe, page)

    # The issue page: the checks in the pharmacy did not fix it, so move on to CIS self-service.
    page.get_by_role("button", name="Go to the issue").click()
    expect(page.locator(".app-issue-status")).to_contain_text("Trying to fix it in the pharmacy")
    assert_accessible(axe, page)
    take_action(page, "Move on to CIS self-service")
    page.get_by_label("A note for the timeline (optional)").fill("The unlock email never arrived.")
    page.get_by_role("button", name="Move on to CIS", exact=True).click()
    expect(page.get_by_text("You are now trying Care Identity Service self-service.")).to_be_visible()
    expect(page.locator(".app-issue-status")).to_contain_text("Trying Care Identity Service self-service")
    assert_accessible(axe, page)

    # Contact the RA from the app: the request goes through the outbox and the Celery worker.
    page.get_by_role("button", name="Contact the RA").click()
    expect(page.locator("h1")).to_contain_text("Contact the Registration Authority")
    assert_accessible(axe, page)
    page.get_by_label("Send it from Smartcard Route").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".app-issue-status")).to_contain_text("RA contacted")
    email = OutboundEmail.objects.get(issue=issue, purpose=MailPurpose.RA_REQUEST)
    sent = wait_until_sent(email.pk)
    assert sent.to == [issue.pharmacy.ra.email]
    assert [message.subject for message in mailoutbox] == [sent.subject]
    assert sent.subject.startswith(f"[{issue.reference}]")

    # The deadline in words, and the email as sent on the timeline.
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED
    page.reload()
    expect(page.locator(".app-issue-deadline")).to_contain_text(deadline_text(issue))
    expect(page.locator(".app-issue-deadline")).to_contain_text("2 working days")
    expect(page.locator(".app-timeline__email").first).to_contain_text("Sent")
    assert_accessible(axe, page)

    # The RA replies by phone or to someone's own mailbox: log it, then resolve.
    take_action(page, "Log the RA's reply")
    page.get_by_label("What the RA said").fill("We added your nhs.net address. Unlock the card yourself now.")
    page.get_by_role("button", name="Log the reply").click()
    expect(page.get_by_text("The RA's reply is on the timeline.")).to_be_visible()
    assert_accessible(axe, page)

    take_action(page, "Mark it as resolved")
    page.get_by_label("The Registration Authority").check()
    page.get_by_label("How it was fixed").fill("Unlocked it with the one-time code.")
    page.get_by_role("button", name="Mark as resolved").click()
    expect(page.locator(".app-issue-status")).to_contain_text("Resolved")
    assert_accessible(axe, page)

    issue.refresh_from_db()
    assert (issue.state, issue.fixed_by_step, issue.due_at) == (State.RESOLVED, "ra", None)
    assert issue.events.filter(kind=EventKind.RA_REPLY).exists()
    assert issue.events.filter(kind=EventKind.EMAIL_OUT).exists()


def test_it_sends_the_request_from_the_users_own_mailbox_and_shows_the_lists(page, axe, pharmacist):
    """The other way to contact the RA, and the list and dashboards, all checked by axe-core."""
    from tests.issues.factories import IssueFactory

    pharmacy = pharmacist.pharmacies.get()
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=pharmacist, summary="<b>Card</b> locked")
    officer = UserFactory.create(email="officer@lpc.example", full_name="Lee Officer")
    pharmacy.lpc.officers.add(officer)
    cpe = UserFactory.create(email="it@cpe.example", full_name="Casey IT", is_cpe_it=True)
    escalated = IssueFactory.create(pharmacy=pharmacy, reporter=pharmacist, state=State.ESCALATED)
    assert escalated.pk

    log_in(page, pharmacist.email)
    page.goto("/issues/")
    expect(page.locator("table").get_by_text("<b>Card</b> locked")).to_be_visible()  # HTML shown as text
    assert_accessible(axe, page)

    page.goto(f"/issues/{issue.reference}/contact-ra/")
    page.get_by_label("Send it from your own email").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_contain_text("Send the request from your own email")
    mailto = page.get_by_role("link", name="Open it in your email program").get_attribute("href")
    assert mailto is not None and mailto.startswith(f"mailto:{pharmacy.ra.email}?cc=")
    expect(page.get_by_role("button", name="Copy the email")).to_be_visible()  # shown by issue-contact-ra.js
    assert_accessible(axe, page)
    page.get_by_role("button", name="I have sent it").click()
    expect(page.locator(".app-issue-status")).to_contain_text("RA contacted")
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED
    assert issue.events.filter(kind=EventKind.REQUEST_CONFIRMED).exists()

    page.context.clear_cookies()
    log_in(page, officer.email)
    page.goto("/dashboard/lpc/")
    expect(page.locator("table").first).to_contain_text(escalated.reference)
    assert_accessible(axe, page)

    page.context.clear_cookies()
    log_in(page, cpe.email)
    page.goto("/dashboard/cpe-it/")
    expect(page.locator("table").first).to_contain_text(escalated.reference)
    assert_accessible(axe, page)
