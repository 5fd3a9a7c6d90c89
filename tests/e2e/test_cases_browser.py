"""In Chromium: CPE IT ticks three similar issues on the list, groups them into a systemic case
through the confirmation page, records the highlight to NHS England and downloads the evidence
pack; the suggestion of the same group leads to the same confirmation; the pharmacy sees only the
case's title and status on its issue. axe-core finds no violation on any of those pages."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from issues.models import CaseStatus, Kind, State, SystemicCase
from tests.e2e.browser import assert_accessible, log_in
from tests.issues.factories import IssueFactory, PharmacyFactory, RegistrationAuthorityFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_groups_issues_records_the_highlight_and_downloads_the_pack(page, axe):
    ra = RegistrationAuthorityFactory.create(name="Leeds RA")
    reporter = UserFactory.create(email="priya@riverside.example", full_name="Priya Shah")
    pharmacies = [PharmacyFactory.create(ra=ra) for _ in range(3)]
    pharmacies[0].staff.add(reporter)
    issues = [
        IssueFactory.create(pharmacy=pharmacy, reporter=reporter, kind=Kind.LOCKED, state=State.ESCALATED)
        for pharmacy in pharmacies
    ]
    cpe_it = UserFactory.create(email="it@cpe.example", full_name="Casey IT", is_cpe_it=True)
    log_in(page, cpe_it.email)

    page.goto(reverse("cases:suggestions"))
    expect(page.locator("table tbody tr")).to_have_count(1)
    assert_accessible(axe, page)

    page.goto(reverse("issues:list"))
    for issue in issues:
        page.locator(f"#select-{issue.reference}").check(force=True)
    assert_accessible(axe, page)
    page.get_by_role("button", name="Group into a systemic case").click()
    expect(page.get_by_text("The case will hold these 3 issues")).to_be_visible()
    assert_accessible(axe, page)
    page.get_by_role("button", name="Open the case").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter a title.")
    assert_accessible(axe, page)
    page.get_by_label("Title").fill("Locked cards at Leeds RA")
    page.get_by_role("button", name="Open the case").click()
    expect(page.locator("h1")).to_contain_text("Locked cards at Leeds RA")
    case = SystemicCase.objects.get()
    assert case.links.count() == 3
    assert_accessible(axe, page)

    page.get_by_text("Record the highlight to NHS England").click()
    page.get_by_label("Date it was sent").fill("27/11/2026")
    page.get_by_label("Sent to").fill("td@england.nhs.example")
    page.get_by_label("What was sent").fill("Three pharmacies cannot unlock their cards.")
    page.get_by_role("button", name="Record the highlight").click()
    expect(page.locator(".nhsuk-tag", has_text="Highlighted to NHS England")).to_be_visible()
    case.refresh_from_db()
    assert case.status == CaseStatus.HIGHLIGHTED
    assert_accessible(axe, page)

    with page.expect_download() as caught:
        page.get_by_role("link", name="Download the evidence pack (.zip)").click()
    pack = zipfile.ZipFile(io.BytesIO(Path(caught.value.path()).read_bytes()))
    summary = pack.read("summary.html").decode()
    assert all(issue.reference in summary for issue in issues)

    page.goto(reverse("cases:list"))
    assert_accessible(axe, page)
    page.goto(reverse("dashboards:cpe_it"))
    expect(page.get_by_role("heading", name="Systemic cases")).to_be_visible()
    assert_accessible(axe, page)

    page.context.clear_cookies()
    log_in(page, reporter.email)
    page.goto(reverse("issues:detail", args=[issues[0].reference]))
    expect(page.locator(".app-issue-case")).to_have_text(
        "Part of systemic case: Locked cards at Leeds RA (Highlighted to NHS England)"
    )
    expect(page.get_by_text("Three pharmacies cannot unlock their cards.")).to_have_count(0)
    assert_accessible(axe, page)
