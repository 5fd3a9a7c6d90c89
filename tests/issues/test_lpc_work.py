"""The LPC officer's work inside a step (route.LPC_WORK, services.issue_log_lpc_work): who may log
it and where, the clock it stops and starts, the email it sends on the issue's thread, the issue
page and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from issues import services
from issues.exceptions import IssueActionForbidden, TransitionNotAllowedNow
from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose, State, TriageOutcome
from issues.selectors import issue_allowed_actions
from smartcard_route.mail.models import OutboundEmail
from tests.issues.factories import IssueFactory, UserFactory, outbound_email_about

LONDON = ZoneInfo("Europe/London")
ROLES = ["staff", "owner", "lpc_officer", "cpe_it", "outsider"]
CALL = {"with_whom": "ra", "how": "call", "text": "Spoke to the RA manager: they will unlock it today."}


def make(pharmacy: Any, staff: Any, state: str, **fields: Any) -> Issue:
    issue: Issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state, **fields)
    return issue


def expected(role: str, state: str, *, returned: bool = False) -> str:
    if role == "outsider":
        return "forbidden"
    if role == "lpc_officer" and state not in (State.LPC_CC, State.ESCALATED):
        return "forbidden"  # the LPC is not involved: the officer cannot see it
    if role != "lpc_officer":
        return "forbidden"
    if state == State.LPC_CC or (state == State.ESCALATED and returned):
        return "ok"
    return "not_now"


CASES = [(state, False) for state in State.values] + [(State.ESCALATED, True)]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("state", "returned"), CASES, ids=[f"{s}{'-returned' if r else ''}" for s, r in CASES])
def test_it_lets_only_the_lpcs_officer_log_lpc_work_where_the_lpc_is_awaited(
    request, pharmacy, staff, role, state, returned
):
    user = request.getfixturevalue(role)
    fields = {"triage_outcome": TriageOutcome.RETURNED_TO_LPC, "due_kind": Deadline.NONE} if returned else {}
    issue = make(pharmacy, staff, state, **fields)
    result = expected(role, state, returned=returned)

    assert ("lpc_work" in issue_allowed_actions(user=user, issue=issue)) == (result == "ok")
    if result == "ok":
        event = services.issue_log_lpc_work(user=user, issue=issue, **CALL)
        assert (event.kind, event.actor, event.data["with_whom"], event.data["how"]) == (
            EventKind.LPC_WORK,
            user,
            "ra",
            "call",
        )
        return
    error = IssueActionForbidden if result == "forbidden" else TransitionNotAllowedNow
    with pytest.raises(error):
        services.issue_log_lpc_work(user=user, issue=issue, **CALL)
    assert not IssueEvent.objects.filter(issue=issue, kind=EventKind.LPC_WORK).exists()


def test_it_stops_the_lpc_window_and_starts_five_working_days_of_follow_up(pharmacy, staff, lpc_officer):
    issue = make(pharmacy, staff, State.LPC_CC)
    with time_machine.travel(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON), tick=False):  # a Monday
        services.issue_log_lpc_work(user=lpc_officer, issue=issue, **CALL)

    assert (issue.due_kind, issue.due_at) == (Deadline.LPC_FOLLOW_UP, datetime(2026, 12, 7, 10, 0, tzinfo=LONDON))
    fresh = Issue.objects.get(pk=issue.pk)
    assert (fresh.state, fresh.due_kind, fresh.due_at, fresh.next_nudge_at) == (
        State.LPC_CC,
        Deadline.LPC_FOLLOW_UP,
        datetime(2026, 12, 7, 10, 0, tzinfo=LONDON),
        datetime(2026, 12, 7, 10, 0, tzinfo=LONDON),
    )
    clocks = [e.text for e in IssueEvent.objects.filter(issue=issue, kind=EventKind.CLOCK).order_by("pk")]
    assert clocks == [
        "No longer waiting for the LPC.",
        "LPC follow-up due by Monday 7 December 2026, 10:00 (5 working days).",
    ]


def test_more_work_restarts_the_follow_up_window_across_christmas(pharmacy, staff, lpc_officer):
    issue = make(pharmacy, staff, State.LPC_CC)
    with time_machine.travel(datetime(2026, 12, 21, 9, 0, tzinfo=LONDON), tick=False):
        services.issue_log_lpc_work(user=lpc_officer, issue=issue, **CALL)
    with time_machine.travel(datetime(2026, 12, 23, 12, 0, tzinfo=LONDON), tick=False):
        services.issue_log_lpc_work(user=lpc_officer, issue=issue, with_whom="nhse_region", how="note", text="Asked.")
    # Half of 23 December, 24, 29, 30 and 31 December, half of 4 January (25 and 28 December and
    # 1 January are bank holidays).
    assert issue.due_at == datetime(2027, 1, 4, 12, 0, tzinfo=LONDON)
    assert Issue.objects.get(pk=issue.pk).due_kind == Deadline.LPC_FOLLOW_UP
    cleared = IssueEvent.objects.filter(issue=issue, kind=EventKind.CLOCK, data__cleared=Deadline.LPC_FOLLOW_UP)
    assert cleared.get().text == "No longer waiting for the LPC's follow-up."


def test_it_starts_the_follow_up_of_an_issue_cpe_it_returned_to_the_lpc(pharmacy, staff, lpc_officer):
    issue = make(pharmacy, staff, State.ESCALATED, triage_outcome=TriageOutcome.RETURNED_TO_LPC, due_kind=Deadline.NONE)
    services.issue_log_lpc_work(user=lpc_officer, issue=issue, **CALL)
    fresh = Issue.objects.get(pk=issue.pk)
    assert (fresh.state, fresh.due_kind) == (State.ESCALATED, Deadline.LPC_FOLLOW_UP)


def test_it_leaves_a_wait_for_cpe_it_alone(pharmacy, staff, lpc_officer):
    """Returned once, then back with CPE IT (its triage window runs): the LPC's work does not stop it."""
    issue = make(pharmacy, staff, State.ESCALATED, triage_outcome=TriageOutcome.RETURNED_TO_LPC)
    assert issue.due_kind == Deadline.CPE_TRIAGE
    services.issue_log_lpc_work(user=lpc_officer, issue=issue, **CALL)
    assert Issue.objects.get(pk=issue.pk).due_kind == Deadline.CPE_TRIAGE


@pytest.fixture
def lpc_issue(pharmacy, staff):
    """With the LPC, after a request to the RA sent from Smartcard Route."""
    issue = make(pharmacy, staff, State.LPC_CC)
    outbound_email_about(
        issue,
        purpose=MailPurpose.RA_REQUEST,
        to=[pharmacy.ra.email],
        subject=f"[{issue.reference}] Smartcard help",
        body_text="Please unlock the card.",
        message_id="<request-1@smartcard-route.localhost>",
        status=OutboundEmail.Status.SENT,
    )
    return issue


def test_it_emails_the_nhse_contact_on_the_issues_thread(lpc_issue, lpc_officer, settings):
    issue = lpc_issue
    event = services.issue_log_lpc_work(
        user=lpc_officer,
        issue=issue,
        with_whom="nhse_region",
        how="email",
        to=" smartcard.lead@england.nhs.example ",
        text="Could you ask the RA to look at this?\n\nThey have not answered us for a week.",
    )

    email = OutboundEmail.objects.get(issue=issue, purpose=MailPurpose.LPC_WORK)
    assert email.to == ["smartcard.lead@england.nhs.example"]
    assert email.cc == [lpc_officer.email]
    assert email.subject.startswith(f"[{issue.reference}] ")
    assert issue.pharmacy.name in email.subject
    assert email.reply_to == f"{settings.INBOUND_LOCAL_PART}+{issue.tracking_token}@{settings.INBOUND_DOMAIN}"
    assert email.in_reply_to == "<request-1@smartcard-route.localhost>"
    assert email.references == "<request-1@smartcard-route.localhost>"
    assert not email.auto_submitted  # written by a person
    assert "They have not answered us for a week." in email.body_text
    assert "Please unlock the card." in email.body_text  # the RA correspondence so far
    assert "<p>They have not answered us for a week.</p>" in email.body_html
    assert list(event.emails.all()) == [email]
    assert event.data == {
        "with_whom": "nhse_region",
        "how": "email",
        "to": "smartcard.lead@england.nhs.example",
        "in_words": "An email to smartcard.lead@england.nhs.example (the NHS England regional team), sent from "
        "Smartcard Route",
    }


def test_an_email_to_the_ra_goes_to_the_directorys_address_when_none_is_given(lpc_issue, lpc_officer, pharmacy):
    services.issue_log_lpc_work(user=lpc_officer, issue=lpc_issue, with_whom="ra", how="email", text="Any news?")
    email = OutboundEmail.objects.get(issue=lpc_issue, purpose=MailPurpose.LPC_WORK)
    assert email.to == [pharmacy.ra.email]


def test_a_note_or_a_call_sends_no_email_and_keeps_no_address(lpc_issue, lpc_officer):
    event = services.issue_log_lpc_work(
        user=lpc_officer, issue=lpc_issue, with_whom="ra", how="note", to="ra@example.org", text="Chased."
    )
    assert event.data["to"] == ""
    assert event.data["in_words"] == "Work with the RA"
    assert not OutboundEmail.objects.filter(issue=lpc_issue, purpose=MailPurpose.LPC_WORK).exists()


@pytest.mark.parametrize(
    ("given", "errors"),
    [
        ({"with_whom": "", "how": "", "text": ""}, {"with_whom", "how", "text"}),
        ({"with_whom": "cpe", "how": "fax", "text": "x"}, {"with_whom", "how"}),
        ({"with_whom": "nhse_region", "how": "email", "text": "x"}, {"to"}),
        ({"with_whom": "nhse_region", "how": "email", "to": "not an address", "text": "x"}, {"to"}),
        ({"with_whom": "ra", "how": "email", "to": "a@" + "b" * 260 + ".example", "text": "x"}, {"to"}),
    ],
)
def test_it_refuses_bad_fields_and_saves_nothing(lpc_issue, lpc_officer, given, errors):
    with pytest.raises(ValidationError) as raised:
        services.issue_log_lpc_work(user=lpc_officer, issue=lpc_issue, **given)
    assert set(raised.value.message_dict) == errors
    assert not IssueEvent.objects.filter(issue=lpc_issue, kind__in=[EventKind.LPC_WORK, EventKind.CLOCK]).exists()
    assert Issue.objects.get(pk=lpc_issue.pk).due_kind == Deadline.LPC_ACTION


def test_an_email_to_an_ra_without_an_address_asks_for_one(lpc_issue, lpc_officer, pharmacy):
    pharmacy.ra.email = ""
    pharmacy.ra.save()
    with pytest.raises(ValidationError) as raised:
        services.issue_log_lpc_work(user=lpc_officer, issue=lpc_issue, with_whom="ra", how="email", text="Hello")
    assert "enter the address of your contact at the RA" in raised.value.message_dict["to"][0]
    assert not OutboundEmail.objects.filter(issue=lpc_issue, purpose=MailPurpose.LPC_WORK).exists()


# The issue page


def action_url(issue: Issue) -> str:
    return reverse("issues:action", args=[issue.reference, "lpc_work"])


def test_the_issue_page_offers_the_form_and_shows_the_work_on_the_timeline(client, lpc_issue, lpc_officer):
    client.force_login(lpc_officer)
    page = client.get(reverse("issues:detail", args=[lpc_issue.reference])).content.decode()
    assert 'id="action-lpc_work"' in page
    assert "The NHS England regional team" in page

    response = client.post(
        action_url(lpc_issue),
        {"lpc_work-with_whom": "ra", "lpc_work-how": "call", "lpc_work-text": "Spoke to the RA manager."},
    )

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Your work is on the timeline." in page
    assert "A phone call with the RA" in page
    assert "Spoke to the RA manager." in page
    assert "LPC follow-up due by" in page
    # "What to do now" follows the clock: the follow-up, not the LPC's time to act.
    assert "The LPC is working on it" in page and "The LPC is helping" not in page


def test_the_issue_page_shows_bad_input_in_the_error_summary(client, lpc_issue, lpc_officer):
    client.force_login(lpc_officer)
    response = client.post(
        action_url(lpc_issue),
        {"lpc_work-with_whom": "nhse_region", "lpc_work-how": "email", "lpc_work-text": "Hello"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "nhsuk-error-summary" in page
    assert 'href="#lpc_work-to"' in page
    assert not IssueEvent.objects.filter(issue=lpc_issue, kind=EventKind.LPC_WORK).exists()


def test_the_page_refuses_the_pharmacy_and_hides_the_issue_from_others(client, lpc_issue, staff, outsider):
    client.force_login(staff)
    assert client.post(action_url(lpc_issue), {"lpc_work-text": "x"}).status_code == 403
    client.force_login(outsider)
    assert client.post(action_url(lpc_issue), {"lpc_work-text": "x"}).status_code == 404


def test_the_page_hides_the_issue_from_another_lpcs_officer(client, lpc_issue):
    other = IssueFactory.create(state=State.LPC_CC)
    officer = UserFactory.create(email="other.officer@lpc.example")
    assert other.pharmacy.lpc is not None
    other.pharmacy.lpc.officers.add(officer)
    client.force_login(officer)
    assert client.post(action_url(lpc_issue), {"lpc_work-text": "x"}).status_code == 404


# The API


def api_for(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def lpc_work_url(issue: Issue) -> str:
    return f"/api/v1/issues/{issue.reference}/lpc-work/"


def test_the_api_logs_lpc_work(lpc_issue, lpc_officer):
    response = api_for(lpc_officer).post(
        lpc_work_url(lpc_issue),
        {"with_whom": "nhse_region", "how": "email", "to": "lead@england.nhs.example", "text": "Please help."},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == EventKind.LPC_WORK
    assert response.json()["text"] == "Please help."
    assert OutboundEmail.objects.get(issue=lpc_issue, purpose=MailPurpose.LPC_WORK).to == ["lead@england.nhs.example"]
    assert Issue.objects.get(pk=lpc_issue.pk).due_kind == Deadline.LPC_FOLLOW_UP


def test_the_api_answers_bad_input_with_field_errors(lpc_issue, lpc_officer):
    response = api_for(lpc_officer).post(
        lpc_work_url(lpc_issue), {"with_whom": "ra", "how": "email", "to": "nope", "text": ""}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"to", "text"}


def test_the_api_refuses_others_and_hides_the_issue_outside_scope(lpc_issue, staff, outsider, cpe_it):
    assert api_for(staff).post(lpc_work_url(lpc_issue), CALL, format="json").status_code == 403
    assert api_for(cpe_it).post(lpc_work_url(lpc_issue), CALL, format="json").status_code == 403
    assert api_for(outsider).post(lpc_work_url(lpc_issue), CALL, format="json").status_code == 404


def test_the_api_says_when_it_is_not_possible_now(pharmacy, staff, lpc_officer):
    issue = make(pharmacy, staff, State.RESOLVED, lpc_involved_at=datetime(2026, 11, 2, tzinfo=LONDON))
    response = api_for(lpc_officer).post(lpc_work_url(issue), CALL, format="json")
    assert response.status_code == 409


def test_the_guidance_tells_the_officer_to_log_work_or_escalate(client, lpc_issue, lpc_officer):
    client.force_login(lpc_officer)
    page = client.get(reverse("issues:detail", args=[lpc_issue.reference])).content.decode()
    assert "log that work here: a note, a phone call, or an email sent from this page" in page
    assert "follow it up after 5 working days" in page
    assert "escalate it to the CPE IT team" in page
