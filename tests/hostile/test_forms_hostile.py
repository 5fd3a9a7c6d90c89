"""hypothesis on every form of the site: each form (POST, and GET: filters, search) found in the
HTML of the pages that hold them (tests/hostile/forms.py), every field a user types into filled with hostile text
(tests/hostile/strategies.py), posted as the persona who may use it.

Each answer is a clear error (the page again with NHS.UK's error summary, 400 or 200) or the input
stored (a redirect whose page renders), never a 500. Each example runs in a savepoint rolled back
after it, so every example meets the same issue in the same state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issues.models import Issue, State
from tests.access.world import World, build_world
from tests.hostile.forms import Form, forms_of, urlencoded
from tests.hostile.strategies import NASTY, api_text

LONG = max(NASTY, key=len)

pytestmark = pytest.mark.django_db
EXAMPLES = 4


@pytest.fixture
def world(db: None) -> World:
    world = build_world()
    Issue.objects.filter(pk=world.objects["issue_b"].pk).update(state=State.ESCALATED)
    return world


def _issue(label: str) -> Callable[[World], str]:
    return lambda w: reverse("issues:detail", kwargs={"reference": w.objects[label].reference})


def _report_step(step: str) -> Callable[[World], str]:
    return lambda w: reverse("issues:report_step", kwargs={"step": step})


# (persona, page) -> the page's URL; the persona may use the page's forms.
PAGES: dict[str, tuple[str, Callable[[World], str]]] = {
    "issue in the pharmacy (staff)": ("staff_a", _issue("issue_a_quiet")),
    "issue with the LPC (owner)": ("owner_a", _issue("issue_a")),
    "issue with the LPC (officer: LPC work, escalate)": ("officer_a", _issue("issue_a")),
    "issue escalated (CPE IT: triage)": ("cpe_it", _issue("issue_b")),
    "contact the RA": (
        "staff_a",
        lambda w: reverse("issues:contact_ra", kwargs={"reference": w.objects["issue_a_quiet"].reference}),
    ),
    "report: pharmacy": ("staff_a", _report_step("pharmacy")),
    "report: kind": ("staff_a", _report_step("kind")),
    "report: tried": ("staff_a", _report_step("tried")),
    "report: details": ("staff_a", _report_step("details")),
    "new case": ("cpe_it", lambda w: reverse("cases:new")),
    "case page": ("cpe_it", lambda w: reverse("cases:detail", kwargs={"reference": w.objects["case"].reference})),
    "unmatched mail": (
        "cpe_it",
        lambda w: reverse("issues:unmatched_mail_detail", kwargs={"pk": w.objects["unmatched"].pk}),
    ),
    "RA correction report": ("staff_a", lambda w: reverse("directory:ra_report", kwargs={"pk": w.objects["ra"].pk})),
    "LPC correction report": (
        "staff_a",
        lambda w: reverse("directory:lpc_report", kwargs={"pk": w.objects["lpc_a"].pk}),
    ),
    "issue list (filters)": ("staff_a", lambda w: reverse("issues:list")),
    "pharmacy search": ("staff_a", lambda w: reverse("directory:pharmacy_search")),
    "reminder emails": ("staff_a", lambda w: reverse("notifications:notification_preferences")),
    "log in": ("anonymous", lambda w: reverse("login")),
    "password reset": ("anonymous", lambda w: reverse("password_reset")),
}


def _client(world: World, persona: str) -> Client:
    client = Client(raise_request_exception=False)
    if persona != "anonymous":
        client.force_login(world.users[persona])
    return client


def _answer_report_steps(client: Client, world: World, upto: str) -> None:
    """The report's earlier steps answered validly, so the step under test is reachable."""
    pharmacy = world.objects["pharmacy_a"].ods_code
    answers = {"pharmacy": {"pharmacy": pharmacy}, "kind": {"kind": "locked"}, "tried": {"tried_in_pharmacy": "x"}}
    for step, data in answers.items():
        if step == upto:
            return
        page = client.get(reverse("issues:report_step", kwargs={"step": step}))
        fixed = {name: value for form in forms_of(page.content.decode(), "") for name, value in form.fixed}
        client.post(reverse("issues:report_step", kwargs={"step": step}), {**fixed, **data})


def _body(response: Any) -> str:
    content = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    return content.decode("utf-8", errors="replace")


def _post(client: Client, form: Form, texts: list[str]) -> Any:
    pairs = [*form.fixed, *zip(form.typed, texts, strict=False)]
    if form.method == "get":
        return client.get(form.action + "?" + urlencoded(pairs).decode())
    return client.post(form.action, urlencoded(pairs), content_type="application/x-www-form-urlencoded")


def _check(client: Client, where: str, response: Any) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code}"
    if response.status_code == 400 and response["Content-Type"].startswith("text/html"):
        assert "nhsuk-error-summary" in _body(response), f"{where}: a 400 without an error summary"
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/"):
            shown = client.get(location)
            assert shown.status_code < 500, f"{where} -> {location}: {shown.status_code}"


def _page_forms(client: Client, url: str) -> list[Form]:
    response = client.get(url, follow=True)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    forms = forms_of(_body(response), response.request["PATH_INFO"])
    for form in forms:
        if not form.typed:  # a form of choices only (radios, a select): the choices get the text
            form.typed = [name for name, _ in form.fixed if name != "csrfmiddlewaretoken"]
    return [form for form in forms if form.typed]


def _cases() -> Iterator[Any]:
    for name in PAGES:
        yield pytest.param(name, id=name)


@pytest.mark.parametrize("page", list(_cases()))
def test_it_answers_hostile_text_in_every_form_with_an_error_or_stores_it(world: World, page: str) -> None:
    persona, url_of = PAGES[page]
    client = _client(world, persona)
    url = url_of(world)
    if page.startswith("report: "):
        _answer_report_steps(client, world, page.removeprefix("report: "))
    forms = _page_forms(client, url)
    assert forms, f"{page}: no form with a field to type into at {url}"
    widest = max(len(form.typed) for form in forms)

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
    )
    @given(index=st.integers(0, len(forms) - 1), texts=st.lists(api_text, min_size=widest, max_size=widest))
    def fuzz(index: int, texts: list[str]) -> None:
        form = forms[index]
        with transaction.atomic():
            _check(client, f"{page} x {form.action} x {form.typed}", _post(client, form, texts))
            transaction.set_rollback(True)

    fuzz()
    # And the worst of the fixed list in every field of every form: 100,000 characters followed by
    # NUL, a right-to-left override, ESC, DEL and a lone surrogate.
    for form in forms:
        for text in (LONG + "\x00\u202e\x1b\x7f\ud800",):
            with transaction.atomic():
                _check(client, f"{page} x {form.action} x {text[:20]!r}", _post(client, form, [text] * len(form.typed)))
                transaction.set_rollback(True)
