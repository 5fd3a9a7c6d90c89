"""Where signing in lands (issues.views.home.landing, settings.LOGIN_REDIRECT_URL): LPC officers on
their dashboard, CPE IT on theirs, everyone else on the start page; a `?next=` page comes first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.issues.factories import UserFactory

PASSWORD = "correct-horse-battery"  # tests/issues/factories.py UserFactory


def log_in(client, user, **extra):
    return client.post(reverse("login"), {"username": user.email, "password": PASSWORD, **extra}, follow=True)


@pytest.mark.parametrize(
    ("persona", "lands_on"),
    [
        ("lpc_officer", "/dashboard/lpc/"),
        ("cpe_it", "/dashboard/cpe-it/"),
        ("staff", "/"),
        ("owner", "/"),
        ("directory_manager", "/"),
    ],
)
def test_it_lands_each_role_on_its_page_after_signing_in(request, client, persona, lands_on):
    user = request.getfixturevalue(persona)
    response = log_in(client, user)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == lands_on
    assert response.redirect_chain[0][0] == reverse("landing")


def test_an_lpc_officer_who_is_also_cpe_it_lands_on_cpe_its_dashboard(client, pharmacy):
    user = UserFactory.create(is_cpe_it=True)
    pharmacy.lpc.officers.add(user)
    assert log_in(client, user).redirect_chain[-1][0] == "/dashboard/cpe-it/"


def test_the_page_asked_for_comes_first(client, lpc_officer):
    response = log_in(client, lpc_officer, next="/issues/")
    assert response.redirect_chain[0][0] == "/issues/"


def test_a_signed_in_officer_sent_to_the_login_page_lands_on_the_dashboard(client, lpc_officer):
    client.force_login(lpc_officer)
    response = client.get(reverse("login"), follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/lpc/"


def test_the_landing_page_asks_who_you_are_first(client, db):
    response = client.get(reverse("landing"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
