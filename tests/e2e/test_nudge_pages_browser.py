"""In Chromium, the pages a reminder (nudge) email is about: the reminder emails settings page, and
the issue page opened at the action the email suggests (#action-<name>), which must show that
action's form open. axe-core finds no violation on either."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from issues.models import NotificationPreference, State
from tests.e2e.browser import assert_accessible, log_in
from tests.issues.factories import IssueFactory, PharmacyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pharmacist():
    user = UserFactory.create(email="priya@riverside.example", full_name="Priya Shah")
    PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FR123", staff=[user])
    return user


def test_it_chooses_the_daily_digest_from_the_header(page, axe, pharmacist):
    log_in(page, pharmacist.email)
    page.get_by_role("link", name="Reminder emails").click()
    expect(page.locator("h1")).to_have_text("Reminder emails")
    expect(page.get_by_label("Email me each reminder straight away")).to_be_checked()
    assert_accessible(axe, page)

    page.get_by_label("One email each weekday morning listing my reminders").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".app-messages__banner")).to_contain_text("Saved: you will get one email each weekday morning")
    expect(page.get_by_label("One email each weekday morning listing my reminders")).to_be_checked()
    assert NotificationPreference.objects.get(user=pharmacist).nudge_delivery == "daily_digest"
    assert_accessible(axe, page)


def test_it_opens_the_action_a_reminder_links_to(page, axe, pharmacist):
    issue = IssueFactory.create(pharmacy=pharmacist.pharmacies.get(), reporter=pharmacist, state=State.RA_CONTACTED)
    log_in(page, pharmacist.email)

    page.goto(f"/issues/{issue.reference}/")
    resolve, note = page.locator("details#action-resolve"), page.locator("details#action-note")
    expect(resolve).not_to_have_attribute("open", "")
    expect(note).not_to_have_attribute("open", "")

    page.goto(f"/issues/{issue.reference}/#action-resolve")
    expect(resolve).to_have_attribute("open", "")
    expect(resolve.locator("summary")).to_be_focused()
    expect(page.get_by_label("How it was fixed")).to_be_visible()
    expect(note).not_to_have_attribute("open", "")
    assert_accessible(axe, page)

    # A link within the page (the fragment changes, the page does not reload).
    page.evaluate("window.location.hash = '#action-note'")
    expect(note).to_have_attribute("open", "")
    expect(note.locator("summary")).to_be_focused()
