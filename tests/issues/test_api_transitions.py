"""The JSON API's writes to an issue: transitions, notes, phone calls and RA replies."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from issues import route, services
from issues.api import IssueViewSet
from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose, State
from smartcard_route.mail.models import OutboundEmail
from tests.issues.factories import IssueFactory, PharmacyFactory


def transitions_url(issue: Issue) -> str:
    return f"/api/v1/issues/{issue.reference}/transitions/"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def as_staff(api, staff) -> APIClient:
    api.force_login(staff)
    return api


@pytest.fixture
def as_owner(api, owner) -> APIClient:
    api.force_login(owner)
    return api


def state_of(issue: Issue) -> str:
    return Issue.objects.values_list("state", flat=True).get(pk=issue.pk)


# 200 ------------------------------------------------------------------------------------------


def test_it_runs_a_transition_and_answers_with_the_issue(as_staff, issue, staff):
    response = as_staff.post(
        transitions_url(issue), {"transition": "try_cis", "note": "Self-unlock failed"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "cis_self_service"
    assert body["state_label"] == "Trying Care Identity Service self-service"
    assert body["allowed_transitions"] == ["contact_ra", "resolve", "withdraw"]
    last = body["events"][-1]
    assert (last["kind"], last["transition"], last["from_state"], last["to_state"], last["text"]) == (
        "transition",
        "try_cis",
        "in_pharmacy",
        "cis_self_service",
        "Self-unlock failed",
    )
    assert last["actor"] == {"name": staff.full_name}
    assert state_of(issue) == State.CIS_SELF_SERVICE


def test_it_contacts_the_ra_and_starts_the_reply_window(as_staff, issue, pharmacy):
    response = as_staff.post(
        transitions_url(issue),
        {"transition": "contact_ra", "question": "Please unlock my card.", "contact_phone": "0113 496 0999"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "ra_contacted"
    assert body["due_kind"] == Deadline.RA_REPLY
    assert body["due_at"] is not None
    assert body["contact_phone"] == "0113 496 0999"
    email = OutboundEmail.objects.get(issue=issue)
    assert email.to == [pharmacy.ra.email]
    assert email.status == OutboundEmail.Status.QUEUED


def test_it_contacts_the_ra_from_the_users_own_mailbox(as_staff, issue):
    response = as_staff.post(
        transitions_url(issue),
        {"transition": "contact_ra", "question": "Please unlock my card.", "send_via": "own_mail"},
        format="json",
    )
    assert response.status_code == 200
    assert not OutboundEmail.objects.filter(purpose=MailPurpose.RA_REQUEST).exists()
    assert EventKind.REQUEST_CONFIRMED in [event["kind"] for event in response.json()["events"]]


def test_it_lets_an_owner_cc_the_lpc_while_contacting_the_ra(as_owner, issue):
    response = as_owner.post(
        transitions_url(issue), {"transition": "contact_ra", "question": "Please help.", "cc_lpc": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "lpc_cc"


def test_it_resolves(as_staff, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    response = as_staff.post(
        transitions_url(issue),
        {"transition": "resolve", "note": "RA unlocked it", "fixed_by_step": "ra"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["resolution_note"], body["fixed_by_step"]) == ("resolved", "RA unlocked it", "ra")
    assert body["due_at"] is None
    assert body["resolved_at"] is not None


def test_it_lets_an_lpc_officer_escalate(api, lpc_officer, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    services.issue_log_ra_reply(user=staff, issue=issue, text="We cannot help.")
    api.force_login(lpc_officer)
    response = api.post(
        transitions_url(issue), {"transition": "escalate_to_cpe", "note": "The RA will not act."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "escalated"


def test_it_accepts_token_authentication_for_writes(api, staff, issue):
    from rest_framework.authtoken.models import Token

    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    response = api.post(transitions_url(issue), {"transition": "try_cis"}, format="json")
    assert response.status_code == 200


# 400 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"transition"}),
        ({"transition": "teleport"}, {"transition"}),
        ({"transition": ["try_cis"]}, {"transition"}),
        ({"transition": "resolve"}, {"note", "fixed_by_step"}),
        ({"transition": "resolve", "note": "done", "fixed_by_step": "magic"}, {"fixed_by_step"}),
        ({"transition": "resolve", "note": "x" * 5001, "fixed_by_step": "ra"}, {"note"}),
        ({"transition": "withdraw", "reason": "   "}, {"reason"}),
        ({"transition": "try_cis", "reason": "not a field of try_cis"}, {"reason"}),
        ({"transition": "contact_ra"}, {"question"}),
        ({"transition": "contact_ra", "question": "Help", "contact_phone": "12345"}, {"contact_phone"}),
        ({"transition": "contact_ra", "question": "Help", "smartcard_number": "1234"}, {"smartcard_number"}),
        ({"transition": "contact_ra", "question": "Help", "send_via": "pigeon"}, {"send_via"}),
        ({"transition": "contact_ra", "question": "Help", "cc_lpc": "perhaps"}, {"cc_lpc"}),
    ],
)
def test_it_answers_400_with_field_errors(as_staff, issue, body, fields):
    response = as_staff.post(transitions_url(issue), body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert state_of(issue) == State.IN_PHARMACY
    assert not IssueEvent.objects.filter(issue=issue).exists()


def test_it_answers_400_with_the_services_field_errors(as_staff, pharmacy, staff):
    """The service validates against the issue too: contacting the RA needs a Smartcard number."""
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, smartcard_number="", no_card_yet=False)
    response = as_staff.post(transitions_url(issue), {"transition": "contact_ra", "question": "Help"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["smartcard_number"]
    assert state_of(issue) == State.IN_PHARMACY
    assert not OutboundEmail.objects.exists()


def test_it_takes_a_signed_in_browsers_write_only_with_its_csrf_token(staff, issue):
    """As /api/docs/'s "Try it out" sends it: the session cookie, and the CSRF token in a header."""
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(staff)
    browser.get("/api/docs/")
    token = browser.cookies["csrftoken"].value
    body = {"transition": "try_cis", "note": "tried"}
    assert browser.post(transitions_url(issue), body, format="json").status_code == 403  # no token
    assert state_of(issue) == State.IN_PHARMACY
    response = browser.post(transitions_url(issue), body, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert state_of(issue) == State.CIS_SELF_SERVICE


def test_it_refuses_a_form_encoded_body(as_staff, issue):
    """JSON in: a form's body is 415, and nothing moves."""
    response = as_staff.post(transitions_url(issue), {"transition": "try_cis"}, format="multipart")
    assert response.status_code == 415
    assert state_of(issue) == State.IN_PHARMACY


# 401, 403, 404 --------------------------------------------------------------------------------


def test_it_answers_401_to_anonymous_transitions(api, issue):
    response = api.post(transitions_url(issue), {"transition": "try_cis"}, format="json")
    assert response.status_code == 401
    assert state_of(issue) == State.IN_PHARMACY


@pytest.mark.parametrize(
    ("persona", "state", "body"),
    [
        ("staff", State.RA_CONTACTED, {"transition": "cc_lpc"}),
        ("staff", State.IN_PHARMACY, {"transition": "contact_ra", "question": "Help", "cc_lpc": True}),
        ("owner", State.LPC_CC, {"transition": "escalate_to_cpe", "note": "Please"}),
        ("lpc_officer", State.LPC_CC, {"transition": "withdraw", "reason": "Not ours"}),
        ("cpe_it", State.IN_PHARMACY, {"transition": "try_cis"}),
    ],
)
def test_it_answers_403_when_the_role_may_not(api, request, pharmacy, staff, persona, state, body):
    user = request.getfixturevalue(persona)
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state)
    api.force_login(user)
    response = api.post(transitions_url(issue), body, format="json")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Only ")
    assert state_of(issue) == state
    assert not IssueEvent.objects.filter(issue=issue).exists()


def test_it_answers_404_outside_scope(api, outsider, issue):
    api.force_login(outsider)
    response = api.post(transitions_url(issue), {"transition": "withdraw", "reason": "x"}, format="json")
    assert response.status_code == 404
    assert state_of(issue) == State.IN_PHARMACY


def test_it_answers_404_before_looking_at_the_body(api, outsider, issue):
    api.force_login(outsider)
    assert api.post(transitions_url(issue), {"transition": "teleport"}, format="json").status_code == 404


# 409 ------------------------------------------------------------------------------------------


def test_it_answers_409_when_the_transition_is_not_possible_from_the_state(as_staff, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    response = as_staff.post(transitions_url(issue), {"transition": "try_cis"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Moving on to Care Identity Service self-service is not possible now: the issue is 'RA contacted'."
    }
    assert state_of(issue) == State.RA_CONTACTED


def test_it_answers_409_when_a_guard_fails(as_staff, staff):
    no_ra = PharmacyFactory.create(ra=None, staff=[staff])
    issue = IssueFactory.create(pharmacy=no_ra, reporter=staff)
    response = as_staff.post(transitions_url(issue), {"transition": "contact_ra", "question": "Help"}, format="json")
    assert response.status_code == 409
    assert "no Registration Authority" in response.json()["detail"]
    assert state_of(issue) == State.IN_PHARMACY
    assert not OutboundEmail.objects.exists()


def test_it_answers_409_when_someone_else_changed_the_issue_first(as_staff, monkeypatch, issue, owner):
    """The lost race: between the API loading the issue and running the transition, the owner
    withdraws it through the service layer. The staff member's resolve must not overwrite that."""
    load = IssueViewSet.get_object

    def load_then_lose_the_race(self):
        loaded = load(self)
        services.issue_withdraw(user=owner, issue=Issue.objects.get(pk=loaded.pk), reason="Reported twice")
        return loaded

    monkeypatch.setattr(IssueViewSet, "get_object", load_then_lose_the_race)
    response = as_staff.post(
        transitions_url(issue),
        {"transition": "resolve", "note": "Fixed", "fixed_by_step": "in_pharmacy"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This issue was changed by someone else. Check the latest details and try again."
    }
    issue.refresh_from_db()
    assert issue.state == State.WITHDRAWN
    assert issue.withdrawn_reason == "Reported twice"
    assert issue.resolution_note == ""
    transitions = IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITION)
    assert [event.data["transition"] for event in transitions] == ["withdraw"]


# Notes, phone calls, RA replies ---------------------------------------------------------------


def test_it_adds_a_note(as_staff, issue, staff):
    response = as_staff.post(f"/api/v1/issues/{issue.reference}/notes/", {"text": "<b>Tried</b> again"}, format="json")
    assert response.status_code == 201
    assert response.json()["kind"] == "note"
    assert response.json()["text"] == "<b>Tried</b> again"
    assert IssueEvent.objects.get(issue=issue, kind=EventKind.NOTE).actor == staff


def test_it_logs_a_phone_call_with_the_ra_as_its_reply(as_staff, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    response = as_staff.post(
        f"/api/v1/issues/{issue.reference}/phone-calls/",
        {"text": "RA will unlock today", "with_ra": True},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["kind"] == "phone_call"
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE


def test_it_logs_an_ra_reply(as_staff, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    response = as_staff.post(f"/api/v1/issues/{issue.reference}/ra-replies/", {"text": "Unlocked"}, format="json")
    assert response.status_code == 201
    assert response.json()["kind"] == "ra_reply"
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE


@pytest.mark.parametrize(
    ("path", "body", "fields"),
    [
        ("notes", {}, {"text"}),
        ("notes", {"text": ""}, {"text"}),
        ("notes", {"text": "x" * 5001}, {"text"}),
        ("phone-calls", {"text": "Called"}, {"with_ra"}),
        ("ra-replies", {"text": " "}, {"text"}),
    ],
)
def test_it_answers_400_to_a_bad_note(as_staff, pharmacy, staff, path, body, fields):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)  # the RA was asked
    response = as_staff.post(f"/api/v1/issues/{issue.reference}/{path}/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == fields
    assert not IssueEvent.objects.filter(issue=issue).exists()


@pytest.mark.parametrize("path", ["notes", "phone-calls", "ra-replies"])
def test_it_answers_404_to_notes_outside_scope(api, outsider, issue, path):
    api.force_login(outsider)
    response = api.post(f"/api/v1/issues/{issue.reference}/{path}/", {"text": "hi", "with_ra": False}, format="json")
    assert response.status_code == 404
    assert not IssueEvent.objects.filter(issue=issue).exists()


@pytest.mark.parametrize("path", ["transitions", "notes", "phone-calls", "ra-replies"])
def test_it_refuses_get_on_write_endpoints(as_staff, issue, path):
    assert as_staff.get(f"/api/v1/issues/{issue.reference}/{path}/").status_code == 405


# The prepared request to the RA ---------------------------------------------------------------


def test_it_shows_the_prepared_request_to_the_ra(as_staff, issue, pharmacy):
    response = as_staff.get(f"/api/v1/issues/{issue.reference}/ra-request/?question=Please+unlock+<my>+card")
    assert response.status_code == 200
    body = response.json()
    assert body["to"] == pharmacy.ra.email
    assert body["cc"] == [body["reply_to"]]
    assert body["subject"].startswith(f"[{issue.reference}]")
    assert "Please unlock <my> card" in body["body_text"]
    assert "123456789012" in body["body_text"].replace(" ", "")
    assert body["mailto_url"].startswith(f"mailto:{pharmacy.ra.email}?cc=")
    assert body["missing"] == []
    assert not IssueEvent.objects.filter(issue=issue).exists()


def test_it_says_when_the_directory_has_no_ra(as_staff, staff):
    issue = IssueFactory.create(pharmacy=PharmacyFactory.create(ra=None, staff=[staff]), reporter=staff)
    body = as_staff.get(f"/api/v1/issues/{issue.reference}/ra-request/").json()
    assert body["to"] == ""
    assert body["missing"] == ["ra"]


def test_it_answers_404_to_the_ra_request_outside_scope(api, outsider, issue):
    api.force_login(outsider)
    assert api.get(f"/api/v1/issues/{issue.reference}/ra-request/").status_code == 404


def test_it_answers_400_to_an_overlong_question(as_staff, issue):
    response = as_staff.get(f"/api/v1/issues/{issue.reference}/ra-request/?question={'x' * 5001}")
    assert response.status_code == 400
    assert list(response.json()) == ["question"]


def test_it_takes_exactly_the_fields_each_transition_service_takes():
    """Each transition's API serializer is built from its row of the route table (issues.route)."""
    from issues.api.serializers import TRANSITION_SERIALIZERS

    assert set(TRANSITION_SERIALIZERS) == set(route.TRANSITIONS)
    for name, serializer_class in TRANSITION_SERIALIZERS.items():
        assert set(serializer_class().fields) == {"transition", *route.ACTIONS[name].field_names}, name


# Where the route allows an RA reply or a call with the RA (issues.route.RA_ASKED) ----------------

NOT_ASKED = (
    "The RA has not been asked about this issue yet: contact the RA first. A reply or a call with the RA can "
    "be logged once the request is sent."
)


def test_it_answers_409_to_an_ra_reply_before_the_ra_was_asked(as_staff, issue):
    response = as_staff.post(f"/api/v1/issues/{issue.reference}/ra-replies/", {"text": "Unlocked"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": NOT_ASKED}
    assert not IssueEvent.objects.filter(issue=issue).exists()


def test_it_answers_409_to_a_call_with_the_ra_before_the_ra_was_asked_but_logs_other_calls(as_staff, issue):
    url = f"/api/v1/issues/{issue.reference}/phone-calls/"
    response = as_staff.post(url, {"text": "Rang the RA", "with_ra": True}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": NOT_ASKED}
    assert not IssueEvent.objects.filter(issue=issue).exists()
    response = as_staff.post(url, {"text": "Rang our IT", "with_ra": False}, format="json")
    assert response.status_code == 201
    assert response.json()["kind"] == "phone_call"


@pytest.mark.parametrize(
    ("path", "body"),
    [("ra-replies", {"text": "Unlocked"}), ("phone-calls", {"text": "Rang", "with_ra": True})],
)
@pytest.mark.parametrize("state", [State.RESOLVED, State.WITHDRAWN])
def test_it_answers_409_to_a_reply_or_a_call_on_a_closed_issue(as_staff, pharmacy, staff, state, path, body):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state)
    response = as_staff.post(f"/api/v1/issues/{issue.reference}/{path}/", body, format="json")
    assert response.status_code == 409
    assert "is not possible now" in response.json()["detail"]
    assert not IssueEvent.objects.filter(issue=issue).exists()


def test_it_takes_a_yes_or_no_sent_as_a_string(as_staff, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    url = f"/api/v1/issues/{issue.reference}/phone-calls/"
    assert as_staff.post(url, {"text": "Rang the RA", "with_ra": "true"}, format="json").status_code == 201
    assert IssueEvent.objects.get(issue=issue, kind=EventKind.PHONE_CALL).data == {"with_ra": True}
    response = as_staff.post(url, {"text": "Rang", "with_ra": "perhaps"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"with_ra": ["Choose yes or no."]}


def test_it_answers_409_to_the_cis_step_for_a_kind_only_the_ra_can_fix(as_staff, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, kind="old_card_series")
    response = as_staff.post(transitions_url(issue), {"transition": "try_cis"}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Only the RA can fix this kind of problem")
    detail = as_staff.get(f"/api/v1/issues/{issue.reference}/").json()
    assert detail["allowed_transitions"] == ["contact_ra", "resolve", "withdraw"]
