"""Issue 8's journey in Chromium, from the pharmacy owner to NHS England: the owner's issue passes
its RA window; the owner copies in the LPC; the LPC officer finds it on their dashboard as waiting
on them, logs work with the RA (the LPC window stops, the follow-up starts), then escalates; CPE IT
triage it, accept the suggested systemic case that holds it and two similar issues, record the
highlight to NHS England's Transformation Directorate and download the evidence pack. axe-core
finds no violation on any page on the way."""

from __future__ import annotations

import email
import io
import zipfile
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from issues import services
from issues.clock import subtract_working_days
from issues.models import CaseStatus, Deadline, EventKind, Kind, State, SystemicCase, TriageOutcome
from issues.nudges import nudges_sweep
from tests.e2e.browser import assert_accessible, log_in
from tests.issues.factories import (
    IssueFactory,
    LPCFactory,
    PharmacyFactory,
    RegistrationAuthorityFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def take_action(page, name: str) -> None:
    """Open one of the issue page's actions (a details element holding its form)."""
    page.locator(f"#action-{name} summary").click()


def test_it_carries_an_issue_from_the_owner_to_nhs_england(page, axe):
    ra = RegistrationAuthorityFactory.create(name="Leeds RA", email="ra@leeds.example")
    lpc = LPCFactory.create(name="West Yorkshire LPC", email="lpc@wy.example")
    officer = UserFactory.create(email="officer@wy.example", full_name="Lee Officer")
    lpc.officers.add(officer)
    owner = UserFactory.create(email="owner@riverside.example", full_name="Olu Owner")
    riverside = PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FR123", ra=ra, lpc=lpc)
    riverside.owner.members.add(owner)
    cpe_it = UserFactory.create(email="casey@cpe.example", full_name="Casey IT", is_cpe_it=True)
    # Two similar issues (same RA, same kind) at two other pharmacies, reported this month.
    similar = [
        IssueFactory.create(pharmacy=PharmacyFactory.create(ra=ra, lpc=lpc), kind=Kind.CERTIFICATES_EXPIRING)
        for _ in range(2)
    ]

    # The owner reported it and asked the RA three working days ago: the RA's two days have passed.
    asked_at = subtract_working_days(timezone.now(), 3)
    with time_machine.travel(asked_at, tick=False):
        issue = IssueFactory.create(
            pharmacy=riverside,
            reporter=owner,
            kind=Kind.CERTIFICATES_EXPIRING,
            summary="Certificates expired on the pharmacist's card",
        )
        services.issue_contact_ra(user=owner, issue=issue, question="Please renew the certificates.")
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED and issue.due_at is not None
    nudges_sweep(now=issue.due_at + timedelta(minutes=1))
    issue.refresh_from_db()
    assert issue.is_overdue and issue.events.filter(kind=EventKind.NUDGE).exists()

    # The owner sees it overdue and copies in the LPC.
    log_in(page, owner.email)
    page.goto(reverse("issues:detail", args=[issue.reference]))
    expect(page.locator(".app-issue-deadline")).to_contain_text("RA reply overdue since")
    assert_accessible(axe, page)
    take_action(page, "cc_lpc")
    page.get_by_role("button", name="Copy in the LPC").click()
    expect(page.locator(".app-issue-status")).to_contain_text("LPC involved")
    assert_accessible(axe, page)
    issue.refresh_from_db()
    assert (issue.state, issue.due_kind) == (State.LPC_CC, Deadline.LPC_ACTION)

    # The LPC officer lands on their dashboard: the issue waits on the LPC.
    log_in(page, officer.email)
    page.wait_for_url("**" + reverse("dashboards:lpc"))
    waiting = page.get_by_role("table", name="Issues waiting on your LPC")
    expect(waiting).to_contain_text(issue.reference)
    assert_accessible(axe, page)

    # They log a call with the RA: the LPC window stops and the follow-up starts.
    waiting.get_by_role("link", name=issue.reference).click()
    take_action(page, "lpc_work")
    form = page.locator("#action-lpc_work")
    form.get_by_label("The RA", exact=True).check()
    form.get_by_label("A phone call").check()
    form.get_by_label("What was done or said").fill("The RA manager is short of staff; no date for the renewal.")
    form.get_by_role("button", name="Log the work").click()
    expect(page.locator("main")).to_contain_text("Your work is on the timeline.")
    assert_accessible(axe, page)
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.LPC_FOLLOW_UP
    assert issue.events.filter(kind=EventKind.CLOCK, data__cleared=Deadline.LPC_ACTION).exists()

    # Nothing moves locally: the officer escalates to CPE IT.
    take_action(page, "escalate_to_cpe")
    page.get_by_label("What the LPC has tried, and why it needs CPE IT").fill(
        "Called the RA twice; three pharmacies here have the same problem."
    )
    page.get_by_role("button", name="Escalate to CPE IT").click()
    expect(page.locator(".app-issue-status")).to_contain_text("Escalated to CPE IT")
    assert_accessible(axe, page)
    issue.refresh_from_db()
    assert (issue.state, issue.due_kind) == (State.ESCALATED, Deadline.CPE_TRIAGE)

    # CPE IT land on their dashboard, find it to triage and triage it.
    log_in(page, cpe_it.email)
    page.wait_for_url("**" + reverse("dashboards:cpe_it"))
    to_triage = page.get_by_role("region", name="Escalations awaiting triage")
    expect(to_triage).to_contain_text(issue.reference)
    assert_accessible(axe, page)
    to_triage.get_by_role("link", name=issue.reference).click()
    take_action(page, "triage")
    page.get_by_label("Linked to a systemic case").check()
    page.get_by_label("Triage note").fill("Same RA, same kind, three pharmacies: a systemic case.")
    page.get_by_role("button", name="Record the triage").click()
    expect(page.get_by_text("Your triage is recorded.")).to_be_visible()
    assert_accessible(axe, page)
    issue.refresh_from_db()
    assert (issue.triage_outcome, issue.cpe_owner, issue.due_at) == (TriageOutcome.SYSTEMIC_CASE, cpe_it, None)

    # The dashboard suggests the group of three; CPE IT accept it as a case.
    page.goto(reverse("dashboards:cpe_it"))
    suggestions = page.get_by_role("table", name="Suggested groups of issues")
    expect(suggestions).to_contain_text("Leeds RA")
    suggestions.get_by_role("link", name="Group into a case").click()
    expect(page.get_by_text("The case will hold these 3 issues")).to_be_visible()
    assert_accessible(axe, page)
    page.get_by_role("button", name="Open the case").click()
    case = SystemicCase.objects.get()
    expect(page.locator("h1")).to_contain_text(case.title)
    assert set(case.issues.all()) == {issue, *similar}
    assert_accessible(axe, page)

    # The highlight to NHS England's Transformation Directorate, then the evidence pack.
    page.get_by_text("Record the highlight to NHS England").click()
    page.get_by_label("Date it was sent").fill(timezone.localdate().strftime("%d/%m/%Y"))
    page.get_by_label("Sent to").fill("td@england.nhs.example")
    page.get_by_label("What was sent").fill("Leeds RA has not renewed certificates for three pharmacies.")
    page.get_by_role("button", name="Record the highlight").click()
    expect(page.locator(".nhsuk-tag", has_text="Highlighted to NHS England")).to_be_visible()
    assert_accessible(axe, page)
    case.refresh_from_db()
    assert case.status == CaseStatus.HIGHLIGHTED and case.highlighted_to == "td@england.nhs.example"

    with page.expect_download() as caught:
        page.get_by_role("link", name="Download the evidence pack (.zip)").click()
    pack = zipfile.ZipFile(io.BytesIO(Path(caught.value.path()).read_bytes()))
    summary = pack.read("summary.html").decode()
    assert all(each.reference in summary for each in (issue, *similar))
    assert "Leeds RA has not renewed certificates" in summary
    # The request to the RA, as its original message.
    request = issue.outbound_emails.get(purpose="ra_request")
    emls = [name for name in pack.namelist() if name.endswith(".eml")]
    messages = [email.message_from_bytes(pack.read(name), policy=policy.default) for name in emls]
    assert f"<{request.message_id.strip('<>')}>" in {str(message["Message-ID"]).strip() for message in messages}
