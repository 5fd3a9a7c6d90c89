"""The directory in Chromium: log in, search, open the RA and LPC pages, report a correction, and
run axe-core on every directory page (zero violations)."""

from __future__ import annotations

import time

import pytest
from django.core import mail

from directory.demo import seed_directory
from tests.e2e.browser import assert_accessible, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def accounts(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    return seed_directory()


def test_it_searches_the_directory_and_reports_a_correction(page, axe, accounts, celery_worker_thread, settings):
    settings.DIRECTORY_MANAGER_EMAIL = "manager@directory.example"
    log_in(page, accounts.staff.email, accounts.password)

    page.goto("/directory/")
    assert page.locator("h1").inner_text() == "Find a pharmacy"
    assert page.locator("table").get_by_role("link", name="FDW11").is_visible()  # your pharmacies
    assert_accessible(axe, page)

    page.get_by_label("ODS code, pharmacy name or postcode").fill("moorland")
    page.get_by_role("button", name="Search").click()
    assert page.locator("#results").inner_text().startswith("3 pharmacies match")
    assert_accessible(axe, page)

    page.get_by_role("link", name="FMC21").click()
    assert page.locator("h1").inner_text().endswith("Moorland Chemists Oldham")
    assert_accessible(axe, page)

    page.locator("main").get_by_role(
        "link", name="West Pennine Commissioning Support Unit Registration Authority"
    ).click()
    assert "westpennine.ra@nhs.example" in page.locator("main").inner_text()
    assert_accessible(axe, page)

    page.get_by_role("link", name="Report wrong or missing details").click()
    page.get_by_role("button", name="Send report").click()  # nothing typed
    assert page.locator(".nhsuk-error-summary").is_visible()
    assert page.title().startswith("Error: ")
    assert_accessible(axe, page)

    page.get_by_label("What is wrong or missing?").fill("The RA's phone number is now 0161 496 0299.")
    page.get_by_role("button", name="Send report").click()
    assert "The directory manager has your report" in page.locator("main").inner_text()
    assert_accessible(axe, page)  # the RA page, with its success banner and "may be out of date" warning

    deadline = time.monotonic() + 20
    while not mail.outbox and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [message.to for message in mail.outbox] == [["manager@directory.example"]]

    for path, heading in (
        ("/directory/ras/", "Registration Authorities"),
        ("/directory/lpcs/", "Local Pharmaceutical Committees"),
    ):
        page.goto(path)
        assert page.locator("h1").inner_text() == heading
        assert_accessible(axe, page)

    page.get_by_role("link", name="Community Pharmacy North Riding").click()
    assert page.locator("table").get_by_role("link", name="FDW13").is_visible()
    assert_accessible(axe, page)


def test_the_directory_manager_corrects_an_ra_from_a_report_and_the_reporter_is_told(page, axe, accounts):
    """Issue 11's journey: from a correction report to the RA's edit page, the change in the RA's
    history (who, before, after), the report done with a note, and the reporter emailed."""
    from directory.models import CorrectionReport
    from smartcard_route.mail.models import OutboundEmail

    ra = accounts.staff.pharmacies.first().ra
    old_email = ra.email
    ra.correction_reports.create(reporter=accounts.staff, details="The RA's email is now dales.ra@nhs.example.")
    log_in(page, accounts.directory_manager.email, accounts.password)

    page.goto("/directory/corrections/")
    assert "The RA's email is now dales.ra@nhs.example." in page.locator("main").inner_text()
    assert_accessible(axe, page)

    page.get_by_role("link", name="Edit the entry and mark the report done").click()
    assert page.locator("h1").inner_text().endswith(ra.name)
    assert_accessible(axe, page)

    page.get_by_role("button", name=f"Edit {ra.name}").click()
    assert page.locator("h1").inner_text().endswith(f"Edit {ra.name}")
    assert_accessible(axe, page)
    page.get_by_label("Email", exact=True).fill("not an email")
    page.get_by_role("button", name="Save changes").click()
    assert page.locator(".nhsuk-error-summary").is_visible() and page.title().startswith("Error: ")
    assert_accessible(axe, page)
    page.get_by_label("Email", exact=True).fill("Dales.RA@nhs.example")
    page.get_by_role("button", name="Save changes").click()

    # Back on the report's page, which links to the RA's history.
    assert "Saved:" in page.locator("main").inner_text()
    page.get_by_role("link", name="See the history of changes").click()
    history = page.locator("main").inner_text()
    assert "Changed" in history and accounts.directory_manager.full_name in history
    assert old_email in history and "dales.ra@nhs.example" in history
    assert_accessible(axe, page)

    page.go_back()
    page.get_by_label("What did you change? (optional)").fill("Changed the email address.")
    page.get_by_role("button", name="Mark as done and tell").click()
    assert "There are no open correction reports." in page.locator("main").inner_text()
    assert_accessible(axe, page)

    told = OutboundEmail.objects.get(purpose="correction_handled")
    assert told.to == [accounts.staff.email] and "Changed the email address." in told.body_text
    assert CorrectionReport.objects.get().handling_note == "Changed the email address."


def test_every_page_of_the_directory_manager_passes_axe(page, axe, accounts):
    log_in(page, accounts.directory_manager.email, accounts.password)
    for path in (
        "/directory/manage/",
        "/directory/manage/ras/",
        "/directory/manage/ras/new/",
        "/directory/manage/lpcs/",
        "/directory/manage/owners/",
        "/directory/manage/pharmacies/",
        "/directory/manage/icbs/",
        "/directory/manage/icbs/new/",
        "/directory/manage/without-ra/",
        "/directory/manage/import/",
    ):
        page.goto(path)
        assert page.locator("h1").is_visible(), path
        assert_accessible(axe, page)
    page.goto("/directory/manage/pharmacies/")
    page.locator("table").get_by_role("link").first.click()
    assert_accessible(axe, page)
    page.get_by_role("button", name="Save changes").click()
    assert_accessible(axe, page)
