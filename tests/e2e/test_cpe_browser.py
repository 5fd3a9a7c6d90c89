"""In Chromium, CPE IT's day: the dashboard shows an escalation to triage and an unmatched email;
they triage the escalation (returned to the LPC with advice), attach the email to its issue from a
suggestion through the confirmation page, and undo it. axe-core finds no violation on any page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from issues.models import InboundEmailMatch, Issue, State, TriageOutcome, UnmatchedEmail
from smartcard_route.mail.models import InboundEmail
from tests.e2e.browser import assert_accessible, log_in
from tests.issues.factories import (
    IssueFactory,
    LPCFactory,
    PharmacyFactory,
    RegistrationAuthorityFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cpe_it_triage_an_escalation_and_sort_out_unmatched_mail(page, axe):
    ra = RegistrationAuthorityFactory.create(name="West Yorkshire RA", email="ra.team@ra.example")
    officer = UserFactory.create(email="lee@lpc.example", full_name="Lee Officer")
    pharmacy = PharmacyFactory.create(
        name="Riverside Pharmacy", ods_code="FR123", ra=ra, lpc=LPCFactory.create(officers=[officer])
    )
    escalation: Issue = IssueFactory.create(pharmacy=pharmacy, state=State.ESCALATED, summary="Certificates expired")
    waiting: Issue = IssueFactory.create(pharmacy=pharmacy, state=State.RA_CONTACTED, summary="Card locked")
    email = InboundEmail.objects.create(
        esp_name="test",
        message_id="<reply-1@ra.example>",
        from_email="ra.team@ra.example",
        to=["issues@smartcard-route.localhost"],
        subject="Card unlocked",
        body_text="We have unlocked the card.",
    )
    UnmatchedEmail.objects.create(email=email, created_at=email.received_at)
    cpe_it = UserFactory.create(email="it@cpe.example", full_name="Casey IT", is_cpe_it=True)
    log_in(page, cpe_it.email)

    page.goto(reverse("dashboards:cpe_it"))
    expect(page.locator("#to-triage")).to_contain_text("Escalations awaiting triage (1)")
    expect(page.locator("main")).to_contain_text("Unmatched mail (1)")
    assert_accessible(axe, page)

    page.get_by_role("link", name=escalation.reference).click()
    page.locator("#action-triage summary").click()
    page.get_by_label("Returned to the LPC with advice").check()
    page.get_by_label("Triage note").fill("Ask the RA's Sponsor to renew the certificates.")
    page.get_by_role("button", name="Record the triage").click()
    expect(page.locator("main")).to_contain_text("your advice is on its way to the LPC")
    expect(page.locator("main")).to_contain_text("Returned to the LPC with advice, owned by Casey IT")
    assert_accessible(axe, page)
    escalation.refresh_from_db()
    assert escalation.triage_outcome == TriageOutcome.RETURNED_TO_LPC

    page.goto(reverse("dashboards:cpe_it"))
    expect(page.locator("main")).to_contain_text("Triaged escalations by owner (1)")
    page.get_by_role("link", name="Card unlocked").click()
    expect(page.locator("#suggestions")).to_be_visible()
    assert_accessible(axe, page)

    page.get_by_role("link", name=f"Attach to this issue ({waiting.reference})").click()
    expect(page.locator("h1")).to_contain_text(f"Attach it to {waiting.reference}?")
    expect(page.locator("main")).to_contain_text("Riverside Pharmacy (ODS code FR123)")
    assert_accessible(axe, page)
    assert UnmatchedEmail.objects.filter(email=email).exists()  # nothing saved yet

    page.get_by_role("button", name=f"Attach it to {waiting.reference}").click()
    expect(page.locator("main")).to_contain_text(f"The email is on {waiting.reference} now.")
    assert_accessible(axe, page)

    page.get_by_role("button", name="Undo: take it off this issue").click()
    expect(page.locator("main")).to_contain_text("back in the unmatched mail")
    assert_accessible(axe, page)
    assert UnmatchedEmail.objects.filter(email=email).exists()
    assert InboundEmailMatch.objects.get(email=email).detached_by == cpe_it
