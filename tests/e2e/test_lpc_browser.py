"""The LPC officer in Chromium: signing in lands on the LPC dashboard, which lists the issue waiting
on the LPC as overdue; the officer logs work with the RA on the issue page (bad input first), which
stops the LPC window and starts the follow-up. axe-core finds no violation on the way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from issues.models import Deadline, EventKind, Issue, IssueEvent, State
from tests.e2e.browser import PASSWORD, assert_accessible
from tests.issues.factories import IssueFactory, PharmacyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_officer_lands_on_the_dashboard_and_logs_work_with_the_ra(page, axe):
    officer = UserFactory.create(email="officer@lpc.example", full_name="Lee Officer")
    pharmacy = PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FR123")
    assert pharmacy.lpc is not None
    pharmacy.lpc.officers.add(officer)
    late: Issue = IssueFactory.create(
        pharmacy=pharmacy, state=State.LPC_CC, due_at=timezone.now() - timedelta(days=3), summary="Card locked"
    )
    IssueEvent.objects.create(issue=late, kind=EventKind.REQUEST_CONFIRMED, text="Dear RA, ...")
    IssueFactory.create(pharmacy=pharmacy, state=State.RA_CONTACTED, summary="Not the LPC's yet")

    page.goto("/login/")
    page.locator("[name=username]").fill(officer.email)
    page.locator("[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]", has_text="Log in").click()
    page.wait_for_url("**/dashboard/lpc/")
    expect(page.locator("h1")).to_contain_text("What needs you now")
    waiting = page.get_by_role("table", name="Issues waiting on your LPC")
    expect(waiting).to_contain_text(late.reference)
    expect(waiting).to_contain_text("LPC action overdue since")
    expect(page.locator("main")).not_to_contain_text("Not the LPC's yet")
    assert_accessible(axe, page)

    waiting.get_by_role("link", name=late.reference).click()
    page.locator("summary", has_text="Log the LPC's work with the RA or NHS England").click()
    form = page.locator("#action-lpc_work")
    form.get_by_label("The NHS England regional team").check()
    form.get_by_label("An email sent from Smartcard Route").check()
    form.get_by_label("What was done or said").fill("Could you ask the RA to unlock it?")
    form.get_by_role("button", name="Log the work").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("NHS England regional team")
    assert_accessible(axe, page)

    form.get_by_label("The RA", exact=True).check()
    form.get_by_label("A phone call").check()
    form.get_by_label("What was done or said").fill("Spoke to the RA manager: unlocking today.")
    form.get_by_role("button", name="Log the work").click()
    expect(page.locator("main")).to_contain_text("Your work is on the timeline.")
    expect(page.locator(".app-timeline")).to_contain_text("A phone call with the RA")
    assert_accessible(axe, page)
    late.refresh_from_db()
    assert late.due_kind == Deadline.LPC_FOLLOW_UP
