"""smartcard_route.fragments: the issue list's filters drawn once and kept give the same HTML as
drawing them each time, follow the values, choices and errors, and cost no query more or less."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.models import RegistrationAuthority
from smartcard_route import fragments
from tests.issues.factories import IssueFactory

pytestmark = pytest.mark.django_db

LIST = "/issues/"
FORM = re.compile(r'<form method="get" class="app-filters".*?</form>', re.S)


def filters_of(client, params: dict[str, str]) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, params)
    forms = FORM.findall(response.content.decode())
    assert len(forms) == 1
    return forms[0], len(queries)


def drawn_each_time(client, params: dict[str, str], monkeypatch) -> str:
    """The form as drawn with nothing kept."""
    monkeypatch.setattr(fragments, "FRAGMENTS_KEPT", 0)
    fragments.forget_fragments()
    html, _ = filters_of(client, params)
    monkeypatch.undo()
    return html


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"state": "all", "kind": "other", "overdue": "on", "q": "card"},
        {"state": "nonsense", "reported_after": "2026-13-01"},  # errors: the summary and inline messages
    ],
)
def test_the_kept_form_is_the_form_drawn_each_time(client, staff, pharmacy, monkeypatch, params):
    IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    client.force_login(staff)
    expected = drawn_each_time(client, params, monkeypatch)
    fragments.forget_fragments()
    first, first_queries = filters_of(client, params)
    kept, kept_queries = filters_of(client, params)
    assert first == expected and kept == expected
    assert first_queries == kept_queries  # the RA and LPC choices are read once either way


def test_the_kept_form_follows_the_values_choices_and_errors(client, staff, pharmacy):
    IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    client.force_login(staff)
    fragments.forget_fragments()
    plain, _ = filters_of(client, {})
    chosen, _ = filters_of(client, {"ra": str(pharmacy.ra_id)})
    wrong, _ = filters_of(client, {"reported_after": "2026-13-01"})
    chosen_ra = re.compile(rf'value="{pharmacy.ra_id}"\s+selected')
    assert not chosen_ra.search(plain) and chosen_ra.search(chosen)
    assert "nhsuk-error-message" in wrong and "nhsuk-error-message" not in plain
    # Another RA in the user's scope changes the choices, so the form is drawn again.
    RegistrationAuthority.objects.filter(pk=pharmacy.ra_id).update(name="Renamed RA")
    renamed, _ = filters_of(client, {})
    assert "Renamed RA" in renamed and "Renamed RA" not in plain


def test_it_keeps_at_most_fragments_kept(client, staff, pharmacy, monkeypatch):
    monkeypatch.setattr(fragments, "FRAGMENTS_KEPT", 2)
    fragments.forget_fragments()
    client.force_login(staff)
    for words in ("a", "b", "c", "d"):
        filters_of(client, {"q": words})
    assert len(fragments._kept) == 2
