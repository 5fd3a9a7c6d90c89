"""smartcard_route.fragments: the issue list's filters, and every page's header and footer, drawn
once and kept give the same HTML as drawing them each time, follow what they depend on (values,
choices, errors; the user's name and links; each session's own CSRF token) and cost no query more."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_filters.fields import ModelChoiceField as FilterModelChoiceField

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


# The header and footer (templates/base.jinja, fragments.kept_html).

HEADER = re.compile(r"<header\b.*?</header>", re.S)
FOOTER = re.compile(r"<footer\b.*?</footer>", re.S)
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PAGES = ["/", LIST, "/issues/report/", "/directory/", "/account/notifications/", "/login/"]


def header_and_footer(client, path: str) -> tuple[str, str]:
    html = client.get(path, follow=True).content.decode()
    assert fragments.SLOT not in html
    (header,), (footer,) = HEADER.findall(html), FOOTER.findall(html)
    return TOKEN.sub('name="csrfmiddlewaretoken" value="..."', header), footer


@pytest.mark.parametrize("persona", ["staff", "lpc_officer", "cpe_it", None])
def test_the_kept_header_and_footer_are_those_drawn_each_time(request, client, persona, monkeypatch):
    if persona is not None:
        client.force_login(request.getfixturevalue(persona))
    monkeypatch.setattr(fragments, "FRAGMENTS_KEPT", 0)
    fragments.forget_fragments()
    expected = {path: header_and_footer(client, path) for path in PAGES}
    monkeypatch.undo()
    fragments.forget_fragments()
    for _ in range(2):  # drawn and kept, then kept
        assert {path: header_and_footer(client, path) for path in PAGES} == expected
    # Each page marks its own link as current: the pages' headers are not all one.
    if persona is not None:
        assert len({header for header, _ in expected.values()}) > 1


def test_each_session_logs_out_with_its_own_csrf_token(staff):
    fragments.forget_fragments()
    clients = [Client(enforce_csrf_checks=True) for _ in range(2)]
    tokens = []
    for client, user in zip(clients, [staff, staff], strict=True):  # same user, same name: one kept header
        client.force_login(user)
        (header,) = HEADER.findall(client.get(LIST).content.decode())
        (token,) = TOKEN.findall(header)
        tokens.append(token)
    assert tokens[0] != tokens[1]
    # Each token is its own session's: the other session's is refused, its own logs out.
    assert clients[0].post("/logout/", {"csrfmiddlewaretoken": tokens[1]}).status_code == 403
    assert clients[0].post("/logout/", {"csrfmiddlewaretoken": tokens[0]}).status_code == 302
    assert clients[0].get(LIST).status_code == 302  # logged out
    assert clients[1].get(LIST).status_code == 200


def test_the_kept_header_follows_the_users_name_and_links(client, staff, lpc_officer, pharmacy):
    fragments.forget_fragments()
    client.force_login(staff)
    before, _ = header_and_footer(client, LIST)
    staff.full_name = "Samira Patel"
    staff.save()
    renamed, _ = header_and_footer(client, LIST)
    assert "Sam Patel" in before and "Samira Patel" in renamed and "Sam Patel" not in renamed
    # A new role brings its links.
    pharmacy.lpc.officers.add(staff)
    officer, _ = header_and_footer(client, LIST)
    assert "LPC dashboard" in officer and "LPC dashboard" not in renamed


def test_a_name_of_markup_stays_text_in_the_kept_header(client, staff):
    fragments.forget_fragments()
    staff.full_name = f"<script>alert(1)</script>{{{{ kept_slot }}}} {fragments.SLOT[:12]}"
    staff.save()
    client.force_login(staff)
    for _ in range(2):
        header, _ = header_and_footer(client, LIST)
        assert "<script>alert(1)" not in header and "&lt;script&gt;alert(1)&lt;/script&gt;" in header


# The choices of a ModelChoiceField, read as a list (fragments._choices).


@pytest.mark.parametrize(
    "field",
    [
        lambda: forms.ModelChoiceField(RegistrationAuthority.objects.order_by("name")),
        lambda: forms.ModelChoiceField(RegistrationAuthority.objects.order_by("name"), empty_label=None),
        lambda: FilterModelChoiceField(RegistrationAuthority.objects.order_by("name"), null_label="No RA"),
        lambda: FilterModelChoiceField(
            RegistrationAuthority.objects.order_by("name"), empty_label=None, null_label="No RA"
        ),
        lambda: forms.ChoiceField(choices=[("a", "A"), ("b", "B")]),
    ],
)
def test_choices_are_the_iterators_in_one_plain_query(pharmacy, outsider, field):
    expected_field, listed_field = field(), field()
    with CaptureQueriesContext(connection) as iterated:
        expected = [choice for choice in expected_field.choices]
    with CaptureQueriesContext(connection) as listed:
        choices = fragments._choices(listed_field)
    assert choices == expected
    assert [str(label) for _, label in choices] == [str(label) for _, label in expected]
    assert len(expected) >= 2
    is_model = isinstance(listed_field, forms.ModelChoiceField)
    assert len(listed) == (1 if is_model else 0)
    assert not any("DECLARE" in query["sql"].upper() for query in listed.captured_queries)
    if is_model and connection.vendor == "postgresql":  # what the list avoids: a server-side cursor
        assert any("DECLARE" in query["sql"].upper() for query in iterated.captured_queries)
