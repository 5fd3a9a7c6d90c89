"""In Chromium: an issue whose RA missed its deadline and that has had two reminders still reads as
overdue everywhere (DESIGN.md, clock: reminders move `next_nudge_at`, never `due_at`): "Only overdue"
lists it, the dashboard counts it, and its page says "overdue since". axe-core finds no violation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from issues.clock import subtract_working_days
from issues.models import EventKind, Issue, IssueEvent, State
from issues.nudges import nudges_sweep
from issues.services.events import start_clock
from tests.e2e.browser import assert_accessible, log_in
from tests.issues.factories import IssueFactory, PharmacyFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def reminded_twice() -> tuple[Issue, datetime]:
    """An issue whose RA was asked 8 working days ago, swept at its deadline and a window later."""
    reporter = UserFactory.create(email="priya@riverside.example", full_name="Priya Shah")
    pharmacy = PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FR123", staff=[reporter])
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=reporter, state=State.RA_CONTACTED, summary="Card locked")
    asked = subtract_working_days(timezone.now(), 8)
    start_clock(issue, kind="ra_reply", actor=reporter, now=asked)
    issue.save()
    deadline = issue.due_at
    assert deadline is not None
    nudges_sweep(now=deadline + timedelta(minutes=1))
    issue.refresh_from_db()
    assert issue.next_nudge_at is not None and issue.next_nudge_at < timezone.now()
    nudges_sweep(now=issue.next_nudge_at + timedelta(minutes=1))
    issue.refresh_from_db()
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.NUDGE).count() == 2
    assert issue.due_at == deadline  # the reminders moved only the cursor
    return issue, deadline


def test_it_still_shows_an_issue_reminded_twice_as_overdue(page, axe):
    issue, _deadline = reminded_twice()
    cpe_it = UserFactory.create(email="it@cpe.example", full_name="Casey IT", is_cpe_it=True)
    log_in(page, cpe_it.email)

    page.goto(reverse("issues:list"))
    page.get_by_label("Only overdue").check()
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(issue.reference)
    expect(rows.first).to_contain_text("Overdue")
    assert_accessible(axe, page)

    page.goto(reverse("dashboards:cpe_it"))
    overdue = page.locator("table.app-state-counts tr", has_text="Overdue")
    expect(overdue.locator("td").nth(1)).to_have_text("1")

    page.goto(f"/issues/{issue.reference}/")
    expect(page.locator("main")).to_contain_text(
        re.compile(r"RA reply overdue since \w+day \d+ \w+.*\(\d working days\)")
    )
    assert_accessible(axe, page)
