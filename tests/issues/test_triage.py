"""CPE IT's triage of an escalation (route.TRIAGE, issues.services.issue_triage): who may, where, what
it records, the clock it stops (and the LPC follow-up it starts with the advice to the LPC), a
re-triage; on the issue page and in the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from issues import services
from issues.exceptions import IssueActionForbidden, TransitionNotAllowedNow
from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose, State, TriageOutcome
from issues.selectors import issue_allowed_actions
from smartcard_route.mail.models import OutboundEmail
from tests.issues.factories import IssueFactory, UserFactory, outbound_email_about

pytestmark = pytest.mark.django_db

ROLES = ["staff", "owner", "lpc_officer", "cpe_it", "outsider", "directory_manager"]
ADVICE = "Ask the RA's Sponsor to re-issue the certificate; CPE IT has seen this with this RA before."


@pytest.fixture
def escalated(pharmacy, staff) -> Issue:
    return IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.ESCALATED)


def triage(user: Any, issue: Issue, outcome: str = TriageOutcome.HANDLED, **fields: Any) -> IssueEvent:
    return services.issue_triage(user=user, issue=issue, outcome=outcome, note=fields.pop("note", ADVICE), **fields)


# Who may, and where -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", State.values)
@pytest.mark.parametrize("role", ROLES)
def test_only_cpe_it_may_triage_and_only_an_escalation(request, pharmacy, staff, role, state):
    user = request.getfixturevalue(role)
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state)
    before = (issue.due_at, issue.due_kind)

    if role != "cpe_it":
        with pytest.raises(IssueActionForbidden):
            triage(user, issue)
    elif state != State.ESCALATED:
        with pytest.raises(TransitionNotAllowedNow, match="Triaging is not possible now"):
            triage(user, issue)
    else:
        triage(user, issue)

    issue.refresh_from_db()
    recorded = IssueEvent.objects.filter(issue=issue, kind=EventKind.TRIAGE).exists()
    assert recorded == (role == "cpe_it" and state == State.ESCALATED)
    if not recorded:
        assert (issue.due_at, issue.due_kind, issue.triage_outcome, issue.cpe_owner_id) == (*before, "", None)
    offered = "triage" in issue_allowed_actions(user=user, issue=issue)
    assert offered == recorded


def test_it_names_who_may_triage(staff, escalated):
    with pytest.raises(IssueActionForbidden, match="Only the CPE IT team can triage an escalation"):
        triage(staff, escalated)


# What it records ----------------------------------------------------------------------------------


def test_it_records_the_owner_the_outcome_and_the_note_and_stops_the_triage_clock(cpe_it, escalated):
    event = triage(cpe_it, escalated)

    escalated.refresh_from_db()
    assert escalated.cpe_owner == cpe_it  # the user themself by default
    assert escalated.triage_outcome == TriageOutcome.HANDLED
    assert escalated.triaged_at == event.created_at
    assert (escalated.due_at, escalated.due_kind, escalated.next_nudge_at) == (None, Deadline.NONE, None)
    assert escalated.state == State.ESCALATED
    assert event.kind == EventKind.TRIAGE and event.actor == cpe_it and event.text == ADVICE
    assert event.data["outcome"] == "handled" and event.data["owner_id"] == cpe_it.pk
    clock = IssueEvent.objects.filter(issue=escalated, kind=EventKind.CLOCK).get()
    assert clock.text == "No longer waiting for CPE IT's triage."
    assert not OutboundEmail.objects.filter(issue=escalated).exists()  # handled: nobody is emailed


def test_it_gives_it_to_another_member_of_cpe_it_by_email_address(cpe_it, escalated):
    colleague = UserFactory.create(email="robin@cpe.example", full_name="Robin IT", is_cpe_it=True)

    event = triage(cpe_it, escalated, owner="ROBIN@cpe.example")

    escalated.refresh_from_db()
    assert escalated.cpe_owner == colleague and event.actor == cpe_it
    assert event.data["owner_name"] == "Robin IT"


@pytest.mark.parametrize("who", ["lpc_officer", "inactive", "nobody"])
def test_it_refuses_an_owner_outside_the_cpe_it_team(request, cpe_it, escalated, who):
    owner = {
        "lpc_officer": lambda: request.getfixturevalue("lpc_officer").email,
        "inactive": lambda: UserFactory.create(email="gone@cpe.example", is_cpe_it=True, is_active=False),
        "nobody": lambda: "nobody@cpe.example",
    }[who]()

    with pytest.raises(ValidationError) as error:
        triage(cpe_it, escalated, owner=owner)

    assert "is not an active member of it" in error.value.message_dict["owner"][0]
    escalated.refresh_from_db()
    assert escalated.cpe_owner is None and escalated.due_kind == Deadline.CPE_TRIAGE
    assert not IssueEvent.objects.filter(issue=escalated).exists()


def test_it_needs_a_note_and_an_outcome(cpe_it, escalated):
    with pytest.raises(ValidationError) as error:
        services.issue_triage(user=cpe_it, issue=escalated, outcome="shrug", note="  ")

    assert set(error.value.message_dict) == {"outcome", "note"}
    assert not IssueEvent.objects.filter(issue=escalated).exists()


def test_it_returns_the_issue_to_the_lpc_with_the_advice_on_the_issues_thread(cpe_it, lpc_officer, escalated):
    escalation = outbound_email_about(
        escalated,
        purpose=MailPurpose.CPE_ESCALATION,
        to=["it@cpe.org.uk"],
        subject=f"[{escalated.reference}] LPC escalation",
        body_text="...",
        message_id="<escalation-1@smartcard-route.localhost>",
    )

    event = triage(cpe_it, escalated, outcome=TriageOutcome.RETURNED_TO_LPC)

    escalated.refresh_from_db()
    assert escalated.triage_outcome == TriageOutcome.RETURNED_TO_LPC
    assert escalated.due_kind == Deadline.LPC_FOLLOW_UP and escalated.due_at is not None
    assert escalated.next_nudge_at == escalated.due_at
    advice = OutboundEmail.objects.get(issue=escalated, purpose=MailPurpose.TRIAGE)
    lpc = escalated.pharmacy.lpc
    assert advice.to == [lpc.email, lpc_officer.email] and advice.cc == [cpe_it.email]
    assert advice.in_reply_to == escalation.message_id and advice.references == escalation.message_id
    assert advice.subject.startswith(f"[{escalated.reference}] CPE IT's advice for Riverside Pharmacy (FA123)")
    assert ADVICE in advice.body_text and "within 5 working days" in advice.body_text
    assert escalated.tracking_token in advice.reply_to
    assert advice.issue_link.event == event
    clocks = list(IssueEvent.objects.filter(issue=escalated, kind=EventKind.CLOCK).values_list("text", flat=True))
    assert clocks[0] == "No longer waiting for CPE IT's triage."
    assert clocks[1].startswith("LPC follow-up due by")


def test_it_cannot_return_it_to_an_lpc_the_directory_has_no_address_for(cpe_it, escalated):
    lpc = escalated.pharmacy.lpc
    lpc.email = ""
    lpc.save()

    with pytest.raises(TransitionNotAllowedNow, match="the advice cannot be sent to the LPC"):
        triage(cpe_it, escalated, outcome=TriageOutcome.RETURNED_TO_LPC)

    escalated.refresh_from_db()
    assert escalated.triage_outcome == "" and escalated.due_kind == Deadline.CPE_TRIAGE
    assert not OutboundEmail.objects.exists()


def test_it_records_a_systemic_case_outcome_without_mail(cpe_it, escalated):
    triage(cpe_it, escalated, outcome=TriageOutcome.SYSTEMIC_CASE)

    escalated.refresh_from_db()
    assert escalated.triage_outcome == TriageOutcome.SYSTEMIC_CASE and escalated.due_kind == Deadline.NONE
    assert not OutboundEmail.objects.exists()


def test_it_may_be_triaged_again_each_time_an_event(cpe_it, escalated):
    colleague = UserFactory.create(email="robin@cpe.example", full_name="Robin IT", is_cpe_it=True)
    triage(cpe_it, escalated, outcome=TriageOutcome.RETURNED_TO_LPC)

    second = triage(cpe_it, escalated, outcome=TriageOutcome.HANDLED, owner=colleague, note="We take it back.")

    escalated.refresh_from_db()
    assert (escalated.cpe_owner, escalated.triage_outcome) == (colleague, TriageOutcome.HANDLED)
    assert escalated.due_kind == Deadline.NONE  # the LPC is no longer awaited
    assert second.data["previous_outcome"] == "returned_to_lpc" and second.data["previous_owner_id"] == cpe_it.pk
    assert IssueEvent.objects.filter(issue=escalated, kind=EventKind.TRIAGE).count() == 2
    last_clock = IssueEvent.objects.filter(issue=escalated, kind=EventKind.CLOCK).last()
    assert last_clock is not None and last_clock.text == "No longer waiting for the LPC's follow-up."


# The issue page -------------------------------------------------------------------------------------


def detail(issue: Issue) -> str:
    return reverse("issues:detail", kwargs={"reference": issue.reference})


def test_it_offers_triage_on_the_issue_page_with_the_user_as_the_owner(client, cpe_it, escalated):
    client.force_login(cpe_it)

    page = client.get(detail(escalated)).content.decode()

    assert 'id="action-triage"' in page and "Triage it" in page
    assert 'value="it@cpe.example" checked' in page
    assert "Being handled by CPE IT" in page and "Returned to the LPC with advice" in page


def test_it_triages_from_the_issue_page(client, cpe_it, lpc_officer, escalated):
    client.force_login(cpe_it)
    url = reverse("issues:action", kwargs={"reference": escalated.reference, "action": "triage"})

    response = client.post(
        url, {"triage-owner": cpe_it.email, "triage-outcome": "returned_to_lpc", "triage-note": ADVICE}
    )

    assert response.status_code == 302
    escalated.refresh_from_db()
    assert escalated.triage_outcome == TriageOutcome.RETURNED_TO_LPC
    page = client.get(detail(escalated)).content.decode()
    assert "your advice is on its way to the LPC" in page
    summary = page.split("About the problem")[1].split("Timeline")[0]
    assert "CPE IT triage" in summary and "Returned to the LPC with advice, owned by Casey IT" in summary
    # The LPC sees the outcome and the advice on its timeline.
    client.force_login(lpc_officer)
    page = client.get(detail(escalated)).content.decode()
    assert "Returned to the LPC with advice, owned by Casey IT" in page
    timeline = page.split('aria-label="Timeline"')[1]
    assert "Triaged by CPE IT" in timeline and "The advice was emailed to the LPC" in timeline
    assert "Ask the RA&#39;s Sponsor" in timeline


def test_it_shows_errors_and_saves_nothing_when_the_triage_form_is_incomplete(client, cpe_it, staff, escalated):
    client.force_login(cpe_it)
    url = reverse("issues:action", kwargs={"reference": escalated.reference, "action": "triage"})

    response = client.post(url, {"triage-owner": staff.email, "triage-note": ""})

    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page
    for field in ("triage-owner", "triage-outcome", "triage-note"):
        assert f'href="#{field}' in page, field
    escalated.refresh_from_db()
    assert escalated.triage_outcome == "" and not IssueEvent.objects.filter(issue=escalated).exists()


# The API ---------------------------------------------------------------------------------------------


def api_as(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def triage_url(issue: Issue) -> str:
    return f"/api/v1/issues/{issue.reference}/triage/"


def test_it_triages_through_the_api(cpe_it, escalated):
    response = api_as(cpe_it).post(
        triage_url(escalated), {"outcome": "systemic_case", "note": "Same RA as SC-1."}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "triage" and response.json()["text"] == "Same RA as SC-1."
    detail = api_as(cpe_it).get(f"/api/v1/issues/{escalated.reference}/").json()
    assert detail["triage_outcome"] == "systemic_case" and detail["cpe_owner"] == {"name": "Casey IT"}
    assert detail["triaged_at"]


def test_the_api_answers_400_403_404_and_409_as_for_other_actions(cpe_it, lpc_officer, outsider, escalated, pharmacy):
    assert api_as(cpe_it).post(triage_url(escalated), {"outcome": "x"}, format="json").json().keys() == {
        "outcome",
        "note",
    }
    assert api_as(lpc_officer).post(triage_url(escalated), {"outcome": "handled", "note": "n"}).status_code == 403
    assert api_as(outsider).post(triage_url(escalated), {"outcome": "handled", "note": "n"}).status_code == 404
    waiting = IssueFactory.create(pharmacy=pharmacy, state=State.RA_CONTACTED)
    assert api_as(cpe_it).post(triage_url(waiting), {"outcome": "handled", "note": "n"}).status_code == 409
    assert not IssueEvent.objects.filter(kind=EventKind.TRIAGE).exists()
