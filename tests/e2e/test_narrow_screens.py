"""On a phone (375 px wide), the lists and both dashboards fit the screen: no page scrolls sideways,
whatever the length of an RA's name or the number of columns (the issue tables become NHS.UK
frontend's responsive cards; the RA figures' table scrolls inside its own container)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from issues.models import State
from tests.e2e.browser import log_in
from tests.issues.factories import IssueFactory, PharmacyFactory, RegistrationAuthorityFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def page_width(page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def broken_headings(page) -> list[str]:
    """The column headings of the issue tables' cards whose text does not read on one line (a
    heading squeezed by its cell's content broke as "Probl em"): its lines' boxes at more than one
    height."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('.app-issue-table .nhsuk-table__heading')]
              .filter((heading) => heading.offsetParent !== null)
              .filter((heading) => {
                  const text = document.createRange();
                  text.selectNodeContents(heading);
                  return new Set([...text.getClientRects()].map((box) => Math.round(box.top))).size > 1;
              })
              .map((heading) => heading.textContent.trim())"""
        )
    )


def test_the_lists_and_dashboards_fit_a_phone(page):
    ra = RegistrationAuthorityFactory.create(
        name="North East and North Cumbria Integrated Care Board Registration Authority Service"
    )
    officer = UserFactory.create(email="officer@lpc.example")
    cpe_it = UserFactory.create(email="it@cpe.example", is_cpe_it=True)
    pharmacy = PharmacyFactory.create(name="Riverside Pharmacy", ra=ra)
    assert pharmacy.lpc is not None
    pharmacy.lpc.officers.add(officer)
    for state in (State.LPC_CC, State.ESCALATED, State.RA_CONTACTED):
        IssueFactory.create(pharmacy=pharmacy, state=state, summary="Certificates expired on the card")
    page.set_viewport_size({"width": 375, "height": 800})

    log_in(page, officer.email)
    for url in (reverse("dashboards:lpc"), reverse("issues:list")):
        page.goto(url)
        assert page_width(page) <= 375, url
        assert not broken_headings(page), url

    log_in(page, cpe_it.email)
    for url in (reverse("dashboards:cpe_it"), reverse("issues:list"), reverse("dashboards:figures"), "/cases/"):
        page.goto(url)
        assert page_width(page) <= 375, url
        assert not broken_headings(page), url
