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


def test_it_lets_the_directory_manager_handle_a_report(page, axe, accounts):
    ra = accounts.staff.pharmacies.first().ra
    ra.correction_reports.create(reporter=accounts.staff, details="The RA moved to a new office.")
    log_in(page, accounts.directory_manager.email, accounts.password)

    page.goto("/directory/corrections/")
    assert "The RA moved to a new office." in page.locator("main").inner_text()
    assert_accessible(axe, page)

    page.get_by_role("button", name="Mark as done").click()
    assert "There are no open correction reports." in page.locator("main").inner_text()
    assert_accessible(axe, page)
