"""The JSON API: listing, reading and reporting issues (/api/v1/issues/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from issues.models import EventKind, Issue, Kind, State
from tests.issues.factories import IssueEventFactory, IssueFactory, PharmacyFactory

LIST_URL = "/api/v1/issues/"


def detail_url(issue: Issue) -> str:
    return f"/api/v1/issues/{issue.reference}/"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def as_staff(api, staff) -> APIClient:
    api.force_login(staff)
    return api


def report_body(**overrides):
    body = {
        "pharmacy": "FA123",
        "kind": "locked",
        "summary": "Card locked after three wrong passcodes",
        "details": "Locked at 9am.",
        "tried_in_pharmacy": "Checked the reader.",
        "smartcard_number": "1234 5678 9012",
        "contact_name": "Sam Patel",
        "contact_phone": "0113 496 0002",
        "is_emergency": False,
    }
    body.update(overrides)
    return body


# Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/api/v1/"), ("get", LIST_URL), ("post", LIST_URL), ("get", "/api/v1/issues/SC-000001/")],
)
def test_it_answers_401_to_anonymous_requests(api, issue, method, url):
    response = getattr(api, method)(url, {}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_it_answers_401_to_a_wrong_token(api, issue):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get(LIST_URL).status_code == 401


def test_it_accepts_a_token(api, staff, issue):
    token = Token.objects.create(user=staff)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get(LIST_URL)
    assert response.status_code == 200
    assert [row["reference"] for row in response.json()["results"]] == [issue.reference]


def test_it_refuses_the_token_of_an_inactive_user(api, staff, issue):
    token = Token.objects.create(user=staff)
    staff.is_active = False
    staff.save()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get(LIST_URL).status_code == 401


def test_it_accepts_a_session(as_staff, issue):
    assert as_staff.get(LIST_URL).status_code == 200


# List -----------------------------------------------------------------------------------------


def test_it_lists_only_the_issues_in_scope(api, staff, outsider, issue):
    elsewhere = IssueFactory.create(pharmacy=outsider.pharmacies.get(), reporter=outsider)
    api.force_login(staff)
    references = [row["reference"] for row in api.get(LIST_URL).json()["results"]]
    assert references == [issue.reference]
    api.force_login(outsider)
    references = [row["reference"] for row in api.get(LIST_URL).json()["results"]]
    assert references == [elsewhere.reference]


def test_it_lists_every_issue_for_cpe_it(api, cpe_it, issue, outsider):
    elsewhere = IssueFactory.create(pharmacy=outsider.pharmacies.get(), reporter=outsider)
    api.force_login(cpe_it)
    references = {row["reference"] for row in api.get(LIST_URL).json()["results"]}
    assert references == {issue.reference, elsewhere.reference}


def test_it_shows_lpc_officers_only_issues_the_lpc_is_involved_in(api, lpc_officer, pharmacy, staff):
    involved = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    not_involved = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    api.force_login(lpc_officer)
    references = [row["reference"] for row in api.get(LIST_URL).json()["results"]]
    assert references == [involved.reference]
    assert api.get(detail_url(not_involved)).status_code == 404


def test_it_lists_the_fields_of_each_issue(as_staff, issue):
    row = as_staff.get(LIST_URL).json()["results"][0]
    assert row["reference"] == issue.reference
    assert row["url"] == f"http://testserver/api/v1/issues/{issue.reference}/"
    assert row["pharmacy"] == {"ods_code": "FA123", "name": "Riverside Pharmacy"}
    assert row["reporter"] == {"name": "Sam Patel"}
    assert row["kind"] == "locked"
    assert row["kind_label"] == "Card locked or passcode forgotten"
    assert row["state"] == "in_pharmacy"
    assert row["state_label"] == "Trying to fix it in the pharmacy"
    assert row["due_at"] is None
    assert row["is_overdue"] is False
    assert "events" not in row


@pytest.fixture
def assorted(pharmacy, staff, owner):
    """Issues of the staff member's pharmacy and of a second pharmacy of the same owner."""
    second = PharmacyFactory.create(name="Hillside Pharmacy", ods_code="FB456", owner=pharmacy.owner)
    past = timezone.now() - timedelta(hours=1)
    return {
        "locked": IssueFactory.create(pharmacy=pharmacy, reporter=staff, kind=Kind.LOCKED),
        "overdue": IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED, due_at=past),
        "waiting": IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED),
        "resolved": IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RESOLVED),
        "lost": IssueFactory.create(pharmacy=second, reporter=owner, kind=Kind.LOST_STOLEN_DAMAGED),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=ra_contacted", {"overdue", "waiting"}),
        ("state=resolved", {"resolved"}),
        ("state=open", {"locked", "overdue", "waiting", "lost"}),
        ("kind=lost_stolen_damaged", {"lost"}),
        ("pharmacy=FB456", {"lost"}),
        ("pharmacy=fb456", {"lost"}),
        ("overdue=true", {"overdue"}),
        ("overdue=false", {"locked", "waiting", "resolved", "lost"}),
        ("state=ra_contacted&overdue=false", {"waiting"}),
        ("", {"locked", "overdue", "waiting", "resolved", "lost"}),
    ],
)
def test_it_filters_the_list(api, owner, assorted, query, expected):
    api.force_login(owner)
    response = api.get(f"{LIST_URL}?{query}")
    assert response.status_code == 200
    by_reference = {issue.reference: name for name, issue in assorted.items()}
    assert {by_reference[row["reference"]] for row in response.json()["results"]} == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=closed", "state"),
        ("kind=broken", "kind"),
        ("pharmacy=NOT-AN-ODS", "pharmacy"),
        ("overdue=maybe", "overdue"),
    ],
)
def test_it_answers_400_to_a_bad_filter(as_staff, issue, query, field):
    response = as_staff.get(f"{LIST_URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_it_does_not_widen_scope_through_the_pharmacy_filter(as_staff, outsider, issue):
    IssueFactory.create(pharmacy=outsider.pharmacies.get(), reporter=outsider)
    response = as_staff.get(f"{LIST_URL}?pharmacy=FZ999")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_it_paginates_newest_first(as_staff, pharmacy, staff):
    now = timezone.now()
    issues = [
        IssueFactory.create(pharmacy=pharmacy, reporter=staff, created_at=now - timedelta(minutes=n)) for n in range(5)
    ]
    first = as_staff.get(f"{LIST_URL}?page_size=2").json()
    assert first["count"] == 5
    assert [row["reference"] for row in first["results"]] == [issues[0].reference, issues[1].reference]
    assert first["previous"] is None
    third = as_staff.get(first["next"].replace("http://testserver", "")).json()
    third = as_staff.get(third["next"].replace("http://testserver", "")).json()
    assert [row["reference"] for row in third["results"]] == [issues[4].reference]
    assert third["next"] is None
    assert as_staff.get(f"{LIST_URL}?page=9").status_code == 404


def test_it_caps_the_page_size(as_staff, pharmacy, staff):
    IssueFactory.create_batch(3, pharmacy=pharmacy, reporter=staff)
    response = as_staff.get(f"{LIST_URL}?page_size=100000")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


def _list_queries(client: APIClient) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{LIST_URL}?page_size=200")
        assert response.status_code == 200
    return len(queries)


def test_it_lists_in_a_constant_number_of_queries(api, owner, pharmacy, staff, django_assert_max_num_queries):
    token = Token.objects.create(user=owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    IssueFactory.create_batch(3, pharmacy=pharmacy, reporter=staff)
    few = _list_queries(api)
    other_pharmacies = PharmacyFactory.create_batch(5, owner=pharmacy.owner)
    for n in range(120):
        IssueFactory.create(
            pharmacy=other_pharmacies[n % 5], reporter=staff, state=State.RA_CONTACTED if n % 2 else State.IN_PHARMACY
        )
    with django_assert_max_num_queries(4):  # the token, the roles (the scope's parts), the count and the page
        response = api.get(f"{LIST_URL}?page_size=200")
    assert len(response.json()["results"]) == 123
    assert _list_queries(api) == few


# Detail ---------------------------------------------------------------------------------------


def test_it_shows_an_issue_with_its_timeline_and_allowed_transitions(as_staff, issue, staff):
    IssueEventFactory.create(issue=issue, kind=EventKind.NOTE, actor=staff, text="Tried another reader.")
    response = as_staff.get(detail_url(issue))
    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == issue.reference
    assert body["state"] == "in_pharmacy"
    assert body["state_label"] == "Trying to fix it in the pharmacy"
    assert body["smartcard_number"] == "123456789012"
    assert body["allowed_transitions"] == ["try_cis", "contact_ra", "resolve", "withdraw"]
    assert body["events"] == [
        {
            "kind": "note",
            "kind_label": "Note",
            "actor": {"name": "Sam Patel"},
            "from_state": "",
            "to_state": "",
            "transition": None,
            "text": "Tried another reader.",
            "created_at": body["events"][0]["created_at"],
        }
    ]


def test_it_shows_the_deadline(as_staff, pharmacy, staff):
    due = timezone.now() - timedelta(minutes=5)
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED, due_at=due)
    body = as_staff.get(detail_url(issue)).json()
    assert body["due_kind"] == "ra_reply"
    assert body["due_kind_label"] == "RA reply"
    assert body["is_overdue"] is True
    assert body["due_at"] is not None
    assert body["allowed_transitions"] == ["resolve", "withdraw"]


def test_it_tailors_allowed_transitions_to_the_role(api, owner, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    api.force_login(owner)
    assert api.get(detail_url(issue)).json()["allowed_transitions"] == ["cc_lpc", "resolve", "withdraw"]


@pytest.mark.parametrize("reference", ["sc-{pk}", "SC-{pk:06d}", "{pk}"])
def test_it_finds_an_issue_by_any_spelling_of_its_reference(as_staff, issue, reference):
    response = as_staff.get(f"/api/v1/issues/{reference.format(pk=issue.pk)}/")
    assert response.status_code == 200
    assert response.json()["reference"] == issue.reference


@pytest.mark.parametrize("reference", ["SC-999999", "nonsense", "SC-"])
def test_it_answers_404_to_an_unknown_reference(as_staff, issue, reference):
    response = as_staff.get(f"/api/v1/issues/{reference}/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_it_answers_404_outside_scope(api, outsider, issue):
    api.force_login(outsider)
    assert api.get(detail_url(issue)).status_code == 404


# Create ---------------------------------------------------------------------------------------


def test_it_reports_an_issue(as_staff, staff):
    response = as_staff.post(LIST_URL, report_body(is_emergency=True), format="json")
    assert response.status_code == 201
    issue = Issue.objects.get()
    body = response.json()
    assert response["Location"] == f"/api/v1/issues/{issue.reference}/"
    assert body["reference"] == issue.reference
    assert body["state"] == "in_pharmacy"
    assert body["smartcard_number"] == "123456789012"
    assert body["is_emergency"] is True
    assert body["allowed_transitions"] == ["try_cis", "contact_ra", "resolve", "withdraw"]
    assert [event["kind"] for event in body["events"]] == ["reported"]
    assert issue.reporter == staff
    assert issue.pharmacy.ods_code == "FA123"


def test_it_reports_with_no_card_yet(as_staff):
    response = as_staff.post(
        LIST_URL, report_body(kind="new_card", smartcard_number="", no_card_yet=True), format="json"
    )
    assert response.status_code == 201
    assert response.json()["no_card_yet"] is True


def test_it_lets_an_owner_report_for_any_of_their_pharmacies(api, owner, pharmacy):
    PharmacyFactory.create(ods_code="FB456", owner=pharmacy.owner)
    api.force_login(owner)
    response = api.post(LIST_URL, report_body(pharmacy="fb456"), format="json")
    assert response.status_code == 201
    assert response.json()["pharmacy"]["ods_code"] == "FB456"


@pytest.mark.parametrize("code", ["FZ999", "FY111"])
def test_it_refuses_to_report_for_a_pharmacy_the_user_does_not_work_at(as_staff, outsider, code):
    response = as_staff.post(LIST_URL, report_body(pharmacy=code), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["pharmacy"]
    assert "work at or own" in response.json()["pharmacy"][0]
    assert not Issue.objects.exists()


def test_it_refuses_cpe_it_reporting(api, cpe_it, pharmacy):
    api.force_login(cpe_it)
    response = api.post(LIST_URL, report_body(), format="json")
    assert response.status_code == 400
    assert "pharmacy" in response.json()


def test_it_reports_every_bad_field_at_once_and_saves_nothing(as_staff):
    body = report_body(
        pharmacy="",
        kind="broken",
        summary="x" * 201,
        details="d" * 5001,
        smartcard_number="1234 5678",
        contact_name="",
        contact_phone="call me",
        is_emergency="perhaps",
    )
    response = as_staff.post(LIST_URL, body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {
        "pharmacy",
        "kind",
        "summary",
        "details",
        "smartcard_number",
        "contact_name",
        "contact_phone",
        "is_emergency",
    }
    assert errors["smartcard_number"] == [
        "Enter the 12-digit Smartcard number from the front of the card, below the photo."
    ]
    assert errors["contact_phone"] == ["Enter a phone number using only digits, spaces and +."]
    assert not Issue.objects.exists()


def test_it_requires_the_required_fields(as_staff):
    response = as_staff.post(LIST_URL, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"pharmacy", "kind", "summary", "contact_name", "contact_phone"}


def test_it_refuses_a_smartcard_number_with_no_card_yet(as_staff):
    response = as_staff.post(LIST_URL, report_body(no_card_yet=True), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["smartcard_number"]
    assert not Issue.objects.exists()


def test_it_refuses_a_non_uk_phone_number(as_staff):
    response = as_staff.post(LIST_URL, report_body(contact_phone="+1 202 555 0100"), format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["contact_phone"]


def test_it_refuses_a_body_that_is_not_an_object(as_staff):
    response = as_staff.post(LIST_URL, ["not", "an", "object"], format="json")
    assert response.status_code == 400
    assert not Issue.objects.exists()


def test_it_refuses_malformed_json(as_staff):
    response = as_staff.post(LIST_URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert not Issue.objects.exists()


def test_it_returns_html_in_text_as_is(as_staff):
    summary = '<script>alert("x")</script> & <b>bold</b>'
    response = as_staff.post(
        LIST_URL, report_body(summary=summary, details="<img src=x onerror=alert(1)>"), format="json"
    )
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert response.json()["summary"] == summary
    assert response.json()["details"] == "<img src=x onerror=alert(1)>"
    listed = as_staff.get(LIST_URL).json()["results"][0]
    assert listed["summary"] == summary


def test_it_answers_a_browser_with_json_not_html(as_staff):
    """The browsable API is off: a browser's Accept gets the JSON (which a browser shows as text, so
    markup in it never runs), and a client that will take only HTML is told 406."""
    as_staff.post(LIST_URL, report_body(summary="<script>alert(1)</script>"), format="json")
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = as_staff.get(LIST_URL, HTTP_ACCEPT=browser_accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["results"][0]["summary"] == "<script>alert(1)</script>"
    assert as_staff.get(LIST_URL, HTTP_ACCEPT="text/html").status_code == 406


# Overdue, as the pages say it -----------------------------------------------------------------


def test_it_says_an_overdue_issue_is_overdue_in_words(as_staff, pharmacy, staff):
    with time_machine.travel("2026-11-25 17:00:00+00:00", tick=False):  # a Wednesday
        issue = IssueFactory.create(
            pharmacy=pharmacy,
            reporter=staff,
            state=State.RA_CONTACTED,
            due_at=timezone.now(),
            due_kind="ra_reply",
        )
    with time_machine.travel("2026-12-01 17:00:00+00:00", tick=False):  # four working days later
        body = as_staff.get(detail_url(issue)).json()
        listed = as_staff.get(LIST_URL, {"overdue": "true"}).json()

    assert body["is_overdue"] is True
    assert body["deadline_text"] == "RA reply overdue since Wednesday 25 November, 17:00 (4 working days)"
    assert body["status_label"] == "RA contacted"
    assert [row["reference"] for row in listed["results"]] == [issue.reference]


def test_it_says_ready_to_contact_the_ra_for_a_kind_only_the_ra_can_fix(as_staff, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, kind=Kind.LOST_STOLEN_DAMAGED)

    body = as_staff.get(detail_url(issue)).json()

    assert body["state"] == State.IN_PHARMACY
    assert body["status_label"] == "Ready to contact the RA"
    assert body["deadline_text"] == ""


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("reported_after=31/02/2026", "reported_after"),
        ("pharmacy=999999", "pharmacy"),
        ("emergency=perhaps", "emergency"),
        ("reported_after=2026-03-02&reported_before=2026-03-01", "reported_before"),
    ],
)
def test_it_answers_400_with_field_errors_to_the_new_filters(as_staff, issue, query, field):
    response = as_staff.get(f"{LIST_URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_it_searches_and_filters_by_emergency(as_staff, pharmacy, staff, issue):
    urgent = IssueFactory.create(pharmacy=pharmacy, reporter=staff, is_emergency=True, summary="Cannot log in")
    rows = as_staff.get(f"{LIST_URL}?emergency=true&q=log+in").json()["results"]
    assert [row["reference"] for row in rows] == [urgent.reference]


def test_it_lists_filtered_in_a_constant_number_of_queries(api, cpe_it, django_assert_max_num_queries):
    for _ in range(6):
        IssueFactory.create_batch(20, pharmacy=PharmacyFactory.create())
    api.force_authenticate(cpe_it)
    ra = PharmacyFactory.create().ra_id
    with django_assert_max_num_queries(3):  # the RA choice, the count and the page
        response = api.get(f"{LIST_URL}?page_size=200&state=open&q=a&ra={ra}")
    assert response.status_code == 200


def test_no_filter_shows_a_pharmacy_another_pharmacys_issue(as_staff, outsider, issue):
    theirs = IssueFactory.create(pharmacy=outsider.pharmacies.get(), reporter=outsider, is_emergency=True)
    for query in (f"q={theirs.reference}", "q=FZ999", "state=all&emergency=true", "pharmacy=FZ999&state=all"):
        response = as_staff.get(f"{LIST_URL}?{query}")
        assert response.status_code == 200
        assert theirs.reference not in {row["reference"] for row in response.json()["results"]}
