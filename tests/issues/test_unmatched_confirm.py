"""Unmatched mail, CPE IT's side: the issues an email may belong to (from its sender and subject),
attaching it only through a confirmation that shows the issue, undoing an attachment, the race of
two people attaching it at once; on the pages and in the API; CPE IT only."""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from issues.correspondence import inbound
from issues.correspondence.outbound import correspondence_for, thread_message_ids
from issues.exceptions import TransitionNotAllowedNow
from issues.models import Deadline, EventKind, InboundEmailMatch, Issue, IssueEvent, State, UnmatchedEmail
from issues.selectors.cpe import unmatched_email_suggestions
from smartcard_route.mail.models import InboundEmail
from tests.issues.factories import IssueFactory, PharmacyFactory
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import GENERIC_ADDRESS, RA_EMAIL, make_issue, routed

pytestmark = pytest.mark.django_db

SERIAL = count()


def stray(
    *, from_email: str = RA_EMAIL, subject: str = "Card unlocked for your pharmacy", **fields: Any
) -> InboundEmail:
    """An email in CPE IT's queue, as inbound routing leaves one that matched nothing."""
    email = InboundEmail.objects.create(
        esp_name="test",
        message_id=f"<stray-{next(SERIAL)}@ra.example>",
        from_email=from_email,
        to=[GENERIC_ADDRESS],
        subject=subject,
        body_text="Done: the card is unlocked.",
        **fields,
    )
    UnmatchedEmail.objects.create(email=email, created_at=email.received_at)
    return email


def attach_url(email: InboundEmail) -> str:
    return reverse("issues:unmatched_mail_attach", args=[email.pk])


def undo_url(email: InboundEmail) -> str:
    return reverse("issues:unmatched_mail_undo", args=[email.pk])


def detail_url(email: InboundEmail) -> str:
    return reverse("issues:unmatched_mail_detail", args=[email.pk])


def issue_url(issue: Issue) -> str:
    return reverse("issues:detail", kwargs={"reference": issue.reference})


def nothing_recorded(email: InboundEmail) -> bool:
    return (
        routed(email)[0] == "unmatched"
        and not IssueEvent.objects.filter(kind=EventKind.EMAIL_IN).exists()
        and not InboundEmailMatch.objects.exists()
    )


# The confirmation ------------------------------------------------------------------------------------


def test_it_shows_the_issue_the_email_would_join_and_saves_nothing(client: Client, cpe_it: Any, issue: Issue):
    email = stray()
    client.force_login(cpe_it)

    response = client.get(attach_url(email), {"reference": issue.reference.lower()})

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Attach it to {issue.reference}?" in page
    assert issue.summary in page and "High Street Pharmacy (ODS code " + issue.pharmacy.ods_code + ")" in page
    assert "West Yorkshire RA" in page and "RA contacted" in page
    assert 'name="confirm" value="yes"' in page and f'name="reference" value="{issue.reference}"' in page
    assert nothing_recorded(email)


def test_a_post_without_the_confirmation_only_shows_it(client: Client, cpe_it: Any, issue: Issue):
    email = stray()
    client.force_login(cpe_it)

    response = client.post(attach_url(email), {"reference": issue.reference})

    assert response.status_code == 200 and f"Attach it to {issue.reference}?" in response.content.decode()
    assert nothing_recorded(email)


def test_it_attaches_once_confirmed_and_offers_to_undo_it(client: Client, cpe_it: Any, issue: Issue, reporter: Any):
    email = stray()
    client.force_login(cpe_it)

    response = client.post(attach_url(email), {"reference": issue.reference, "confirm": "yes"})

    assert response.status_code == 302 and response["Location"] == issue_url(issue)
    assert routed(email)[:3] == ("matched", issue.pk, "manual")
    page = client.get(issue_url(issue)).content.decode()
    assert f"The email is on {issue.reference} now." in page
    assert f'action="{undo_url(email)}"' in page and "Undo: take it off this issue" in page
    client.force_login(reporter)
    assert "Undo: take it off this issue" not in client.get(issue_url(issue)).content.decode()


@pytest.mark.parametrize(
    ("reference", "message"),
    [("", "Enter the reference"), ("hello", "Enter an issue reference"), ("SC-999999", "There is no issue SC-999999")],
)
def test_a_bad_reference_answers_400_with_the_error_summary(
    client: Client, cpe_it: Any, issue: Issue, reference: str, message: str
):
    email = stray()
    client.force_login(cpe_it)

    for response in (
        client.get(attach_url(email), {"reference": reference}),
        client.post(attach_url(email), {"reference": reference, "confirm": "yes"}),
    ):
        assert response.status_code == 400
        page = response.content.decode()
        assert "There is a problem" in page and message in page and 'href="#reference"' in page
    assert nothing_recorded(email)


def test_the_email_page_asks_for_a_reference_through_the_confirmation(client: Client, cpe_it: Any):
    email = stray()
    client.force_login(cpe_it)

    page = client.get(detail_url(email)).content.decode()

    form = page.split('<form method="get"')[1].split("</form>")[0]
    assert f'action="{attach_url(email)}"' in form and 'name="reference"' in form


# Suggestions ----------------------------------------------------------------------------------------


def references(found: list[Any]) -> list[str]:
    return [suggestion.issue.reference for suggestion in found]


def test_it_suggests_the_issues_of_the_senders_ra_open_ones_first(cpe_it: Any, issue: Issue, other_issue: Issue):
    closed = make_issue(pharmacy=issue.pharmacy, reporter=issue.reporter, state=State.RESOLVED)

    found = unmatched_email_suggestions(user=cpe_it, email=stray(subject="Re: your request"))

    assert references(found) == [issue.reference, closed.reference]
    assert found[0].reasons == (f"{RA_EMAIL} is the pharmacy's RA.",)
    assert other_issue.reference not in references(found)


def test_it_knows_the_ras_own_domain_but_not_a_shared_one(cpe_it: Any, issue: Issue, settings: Any):
    found = unmatched_email_suggestions(user=cpe_it, email=stray(from_email="colleague@ra.example"))
    assert references(found) == [issue.reference]
    assert found[0].reasons == ("colleague@ra.example writes from the domain of the pharmacy's RA.",)

    ra = issue.pharmacy.ra
    assert ra is not None
    ra.email = "ra.team@nhs.net"
    ra.save()
    settings.INBOUND_SHARED_MAIL_DOMAINS = ["nhs.net"]
    assert unmatched_email_suggestions(user=cpe_it, email=stray(from_email="someone@nhs.net")) == []


def test_it_suggests_the_reporters_and_the_pharmacys_issues(cpe_it: Any, issue: Issue, colleague: Any):
    elsewhere = make_issue(state=State.RA_CONTACTED)
    found = unmatched_email_suggestions(user=cpe_it, email=stray(from_email="Sam.Patel@highstreet.example"))
    assert references(found) == [issue.reference]
    assert "Sam.Patel@highstreet.example reported this issue." in found[0].reasons

    found = unmatched_email_suggestions(user=cpe_it, email=stray(from_email=colleague.email))
    assert references(found) == [issue.reference]
    assert found[0].reasons == (f"{colleague.email} is the pharmacy's, or one of its staff or owners.",)
    assert elsewhere.reference not in references(found)


def test_it_suggests_the_issue_with_earlier_mail_from_the_sender_first(cpe_it: Any, issue: Issue, pharmacy: Any):
    same_pharmacy = make_issue(pharmacy=pharmacy, reporter=issue.reporter, state=State.RA_CONTACTED)
    earlier = stray(from_email="helpdesk@contractor.example")
    inbound.inbound_email_attach(user=cpe_it, email=earlier, reference=issue.reference)

    found = unmatched_email_suggestions(user=cpe_it, email=stray(from_email="helpdesk@contractor.example"))

    assert references(found) == [issue.reference]
    assert found[0].reasons == ("Earlier email from helpdesk@contractor.example is on this issue.",)
    assert same_pharmacy.reference not in references(found)


def test_it_suggests_the_issues_the_subject_names(cpe_it: Any, issue: Issue, other_issue: Issue):
    other_issue.smartcard_number = "700123456789"
    other_issue.save()
    by_card = stray(from_email="x@unknown.example", subject="Card 7001 2345 6789 renewed")
    by_reference = stray(from_email="x@unknown.example", subject=f"About [{other_issue.reference}]")
    by_ods = stray(from_email="x@unknown.example", subject=f"Pharmacy {other_issue.pharmacy.ods_code} is fixed")

    for email, reason in (
        (by_card, "The subject has this issue's Smartcard number."),
        (by_reference, "The subject names this issue's reference."),
        (by_ods, "The subject names the pharmacy's ODS code."),
    ):
        found = unmatched_email_suggestions(user=cpe_it, email=email)
        assert references(found)[:1] == [other_issue.reference], email.subject
        assert found[0].reasons == (reason,)


def test_a_reference_in_the_subject_beats_the_senders_ra(cpe_it: Any, issue: Issue, pharmacy: Any):
    named = make_issue(pharmacy=pharmacy, reporter=issue.reporter, state=State.RESOLVED)

    found = unmatched_email_suggestions(user=cpe_it, email=stray(subject=f"Re: [{named.reference}] done"))

    assert references(found) == [named.reference, issue.reference]
    assert found[0].score > found[1].score


def test_the_email_page_offers_each_suggestion_as_one_click_to_the_confirmation(
    client: Client, cpe_it: Any, issue: Issue, django_assert_max_num_queries: Any
):
    email = stray()
    for _ in range(30):  # many issues of the same RA, and others
        make_issue(pharmacy=issue.pharmacy, reporter=issue.reporter, state=State.RESOLVED)
        make_issue(state=State.ESCALATED)
    client.force_login(cpe_it)

    with django_assert_max_num_queries(10):
        page = client.get(detail_url(email)).content.decode()

    suggestions = page.split('id="suggestions"')[1].split("</table>")[0]
    assert suggestions.count("Attach to this issue") == 10
    assert f'href="{attach_url(email)}?reference={issue.reference}"' in suggestions
    assert suggestions.index(issue.reference) < suggestions.index("Attach to this issue")


# Undo ----------------------------------------------------------------------------------------------


def test_undo_puts_the_mail_back_in_the_queue_and_says_so_on_the_issue(client: Client, cpe_it: Any, issue: Issue):
    email = stray()
    client.force_login(cpe_it)
    client.post(attach_url(email), {"reference": issue.reference, "confirm": "yes"})
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE  # the RA's reply stopped the RA window

    response = client.post(undo_url(email))

    assert response.status_code == 302 and response["Location"] == detail_url(email)
    assert UnmatchedEmail.objects.filter(email=email).exists()
    match = InboundEmailMatch.objects.get(email=email)
    assert match.detached_by == cpe_it and match.detached_at is not None
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN).count() == 1  # never deleted
    detached = IssueEvent.objects.get(issue=issue, kind=EventKind.EMAIL_DETACHED)
    assert detached.actor == cpe_it and "back in CPE IT's unmatched mail" in detached.text
    assert "does not start that window again" in detached.text
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE  # not restarted: the event says so
    page = client.get(issue_url(issue)).content.decode()
    assert "Taken off" in page and "went back to the unmatched mail" in page and "Email taken off" in page
    assert "Undo: take it off this issue" not in page
    assert "Attach it to another issue" in client.get(detail_url(email)).content.decode()


def test_undo_twice_is_refused_the_second_time(client: Client, cpe_it: Any, issue: Issue):
    email = stray()
    inbound.inbound_email_attach(user=cpe_it, email=email, reference=issue.reference)
    client.force_login(cpe_it)
    assert client.post(undo_url(email)).status_code == 302

    again = client.post(undo_url(email))

    assert again.status_code == 409 and "taken off already" in again.content.decode()
    assert IssueEvent.objects.filter(kind=EventKind.EMAIL_DETACHED).count() == 1


def test_an_email_taken_off_may_go_to_another_issue_and_no_longer_counts_on_the_first(
    cpe_it: Any, issue: Issue, pharmacy: Any
):
    right = make_issue(pharmacy=pharmacy, reporter=issue.reporter, state=State.RA_CONTACTED)
    email = stray()
    inbound.inbound_email_attach(user=cpe_it, email=email, reference=issue.reference)
    inbound.inbound_email_detach(user=cpe_it, email=email)

    inbound.inbound_email_attach(user=cpe_it, email=email, reference=right.reference)

    assert routed_active(email) == [right.pk]
    assert UnmatchedEmail.objects.filter(email=email).exists() is False
    assert email.message_id not in thread_message_ids(issue) and email.message_id in thread_message_ids(right)
    assert [event.kind for event in correspondence_for(issue)] == []


def routed_active(email: InboundEmail) -> list[int]:
    return list(
        InboundEmailMatch.objects.filter(email=email, detached_at__isnull=True).values_list("issue_id", flat=True)
    )


def test_the_unmatched_list_offers_to_undo_recent_attachments(
    client: Client, cpe_it: Any, issue: Issue, django_assert_max_num_queries: Any
):
    for n in range(15):
        inbound.inbound_email_attach(user=cpe_it, email=stray(subject=f"Attached {n}"), reference=issue.reference)
        stray(subject=f"Waiting {n}")
    client.force_login(cpe_it)

    with django_assert_max_num_queries(12):
        page = client.get(reverse("issues:unmatched_mail")).content.decode()

    attached = page.split('id="recently-attached"')[1].split("</table>")[0]
    assert attached.count(">Undo<") == 10 and "Attached 14" in attached and "Attached 0" not in attached
    assert "Waiting 3" in page.split('id="recently-attached"')[0]


# Two people attaching at once ------------------------------------------------------------------------


def test_two_people_attaching_at_once_record_it_once(cpe_it: Any, issue: Issue, other_issue: Issue):
    email = stray()
    # Both saw the email unmatched and confirmed their issue ...
    for target in (issue, other_issue):
        assert inbound.inbound_email_attach_preview(user=cpe_it, email=email, reference=target.reference) == target
    # ... the first claims it; the second finds the claim gone and records nothing.
    first = inbound.inbound_email_record(
        email=email, issue=issue, matched_by=InboundEmailMatch.MatchedBy.MANUAL, attached_by=cpe_it
    )
    with pytest.raises(TransitionNotAllowedNow, match="already attached"):
        inbound.inbound_email_record(
            email=email, issue=other_issue, matched_by=InboundEmailMatch.MatchedBy.MANUAL, attached_by=cpe_it
        )

    assert first is not None and routed_active(email) == [issue.pk]
    assert IssueEvent.objects.filter(kind=EventKind.EMAIL_IN).count() == 1
    with pytest.raises(TransitionNotAllowedNow, match="already attached"):
        inbound.inbound_email_attach(user=cpe_it, email=email, reference=other_issue.reference)


# Scope ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["reporter", "owner", "lpc_officer"])
def test_nobody_but_cpe_it_confirms_attaches_or_undoes(
    client: Client, request: pytest.FixtureRequest, cpe_it: Any, issue: Issue, who: str
):
    waiting = stray()
    attached = stray()
    inbound.inbound_email_attach(user=cpe_it, email=attached, reference=issue.reference)
    user = request.getfixturevalue(who)
    client.force_login(user)

    assert client.get(attach_url(waiting), {"reference": issue.reference}).status_code == 404
    assert client.post(attach_url(waiting), {"reference": issue.reference, "confirm": "yes"}).status_code == 404
    assert client.post(undo_url(attached)).status_code == 404
    api = APIClient()
    api.force_authenticate(user)
    assert api.get("/api/v1/unmatched-mail/").status_code == 404
    assert api.get(f"/api/v1/unmatched-mail/{waiting.pk}/suggestions/").status_code == 404
    assert api.post(f"/api/v1/unmatched-mail/{waiting.pk}/attach/", {"reference": issue.reference}).status_code == 404
    assert api.post(f"/api/v1/unmatched-mail/{attached.pk}/undo/").status_code == 404
    assert routed(waiting)[0] == "unmatched" and routed_active(attached) == [issue.pk]


# The API -------------------------------------------------------------------------------------------


@pytest.fixture
def api(cpe_it: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(cpe_it)
    return client


def test_the_api_lists_unmatched_mail_in_a_constant_number_of_queries(
    api: APIClient, django_assert_max_num_queries: Any
):
    stray(subject="First")
    with django_assert_max_num_queries(3) as few:
        body = api.get("/api/v1/unmatched-mail/").json()
    assert body["count"] == 1 and body["results"][0]["subject"] == "First"
    assert body["results"][0]["page_url"].endswith(detail_url(InboundEmail.objects.get()))

    for n in range(40):
        stray(subject=f"More {n}")
    with django_assert_max_num_queries(len(few)):
        assert api.get("/api/v1/unmatched-mail/").json()["count"] == 41


def test_the_api_suggests_attaches_and_undoes(api: APIClient, cpe_it: Any, issue: Issue):
    email = stray()
    for _ in range(20):
        IssueFactory.create(pharmacy=PharmacyFactory.create(), state=State.RA_CONTACTED)

    suggestions = api.get(f"/api/v1/unmatched-mail/{email.pk}/suggestions/").json()
    assert [row["issue"]["reference"] for row in suggestions] == [issue.reference]
    assert suggestions[0]["ra_name"] == "West Yorkshire RA" and suggestions[0]["reasons"]

    bad = api.post(f"/api/v1/unmatched-mail/{email.pk}/attach/", {"reference": "nonsense"}, format="json")
    assert bad.status_code == 400 and "reference" in bad.json()
    assert api.post(f"/api/v1/unmatched-mail/{email.pk}/attach/", {}, format="json").status_code == 400

    attached = api.post(f"/api/v1/unmatched-mail/{email.pk}/attach/", {"reference": issue.reference}, format="json")
    assert attached.status_code == 201, attached.json()
    assert attached.json()["issue"]["reference"] == issue.reference
    assert attached.json()["event"]["kind"] == "email_in"
    again = api.post(f"/api/v1/unmatched-mail/{email.pk}/attach/", {"reference": issue.reference}, format="json")
    assert again.status_code == 409
    assert api.get(f"/api/v1/unmatched-mail/{email.pk}/suggestions/").json() == []

    undone = api.post(f"/api/v1/unmatched-mail/{email.pk}/undo/")
    assert undone.status_code == 200 and undone.json()["kind"] == "email_detached"
    assert api.post(f"/api/v1/unmatched-mail/{email.pk}/undo/").status_code == 409
    assert UnmatchedEmail.objects.filter(email=email).exists()
    assert api.get("/api/v1/unmatched-mail/").json()["count"] == 1


def test_the_confirmation_and_the_suggestions_cost_a_constant_number_of_queries(
    client: Client, api: APIClient, cpe_it: Any, issue: Issue, django_assert_max_num_queries: Any
):
    email = stray()
    client.force_login(cpe_it)
    with django_assert_max_num_queries(12) as few_page:
        assert client.get(attach_url(email), {"reference": issue.reference}).status_code == 200
    with django_assert_max_num_queries(6) as few_api:
        assert api.get(f"/api/v1/unmatched-mail/{email.pk}/suggestions/").status_code == 200

    for n in range(30):
        make_issue(pharmacy=issue.pharmacy, reporter=issue.reporter, state=State.RA_CONTACTED)
        stray(subject=f"Other {n}")
    with django_assert_max_num_queries(len(few_page)):
        assert client.get(attach_url(email), {"reference": issue.reference}).status_code == 200
    with django_assert_max_num_queries(len(few_api)):
        assert len(api.get(f"/api/v1/unmatched-mail/{email.pk}/suggestions/").json()) == 10
