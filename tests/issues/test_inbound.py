"""Inbound mail on issues, end to end through the ESP webhooks (Postmark and Amazon SES): threaded
onto the right issues (every one it was sent to), left unmatched for CPE IT, and what it does there
(the RA's reply stops the RA window; the pharmacy's own request is recorded; auto-replies change
nothing)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from issues.models import Deadline, EventKind, InboundEmailMatch, Issue, IssueEvent, MailPurpose, State, UnmatchedEmail
from smartcard_route.mail.models import InboundEmail, OutboundEmail
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import (
    GENERIC_ADDRESS,
    RA_EMAIL,
    REQUEST_MESSAGE_ID,
    Deliver,
    make_issue,
    only_email,
    routed,
    tracking_address,
)
from tests.mail import payloads
from tests.mail.payloads import Mail

pytestmark = pytest.mark.django_db


def email_events(issue: Issue) -> list[IssueEvent]:
    return list(IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN))


def test_it_threads_the_ras_reply_to_the_tracking_address_and_stops_the_ra_window(
    deliver: Deliver, issue: Issue, reporter: Any
) -> None:
    response = deliver(
        Mail(
            from_email=RA_EMAIL,
            from_name="Registration Authority Team",
            to=[tracking_address(issue)],
            subject=f"RE: [{issue.reference}] Smartcard help",
            text="We have unlocked the card.",
        )
    )

    assert response.status_code == 200
    email = only_email()
    assert routed(email) == ("matched", issue.pk, "token", "ra")
    assert email.body_text.strip() == "We have unlocked the card."
    [event] = email_events(issue)
    assert event.data["message_id"] == email.message_id
    assert "ra.team@ra.example" in event.text
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED
    assert issue.due_kind == Deadline.PHARMACY_UPDATE  # the RA window stopped; the pharmacy's began
    notice = OutboundEmail.objects.get(issue=issue, purpose=MailPurpose.NOTIFICATION)
    assert notice.to == [reporter.email]
    assert issue.reference in notice.subject
    assert "We have unlocked the card." in notice.body_text


def test_it_threads_a_reply_by_in_reply_to_our_request(
    deliver: Deliver, issue: Issue, ra_request: OutboundEmail
) -> None:
    deliver(
        Mail(
            from_email="colleague.of.the.ra@ra.example",  # the RA's domain, another mailbox
            to=[GENERIC_ADDRESS],
            subject="Re: your request",
            in_reply_to=REQUEST_MESSAGE_ID,
            references=REQUEST_MESSAGE_ID,
        )
    )

    email = only_email()
    assert routed(email)[1:] == (issue.pk, "thread", "ra")
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE


def test_it_threads_a_reply_to_an_earlier_inbound_email(deliver: Deliver, issue: Issue, owner: Any) -> None:
    first = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="We are looking into it")
    deliver(first)
    deliver(
        Mail(
            from_email=owner.email,
            to=[RA_EMAIL, GENERIC_ADDRESS],
            subject="Re: We are looking into it",
            in_reply_to=first.message_id,
        )
    )

    second = InboundEmail.objects.get(from_email=owner.email)
    assert routed(second)[1:] == (issue.pk, "thread", "pharmacy")
    assert len(email_events(issue)) == 2


def test_it_matches_the_subject_reference_from_a_sender_known_to_the_issue(
    deliver: Deliver, issue: Issue, lpc_officer: Any
) -> None:
    deliver(Mail(from_email=lpc_officer.email, to=[GENERIC_ADDRESS], subject=f"Update on {issue.reference}"))

    email = only_email()
    assert routed(email)[1:] == (issue.pk, "reference", "lpc")
    [event] = email_events(issue)
    assert event.actor == lpc_officer
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.RA_REPLY  # only the RA's reply stops the RA window


def test_it_leaves_a_subject_reference_from_a_stranger_unmatched(deliver: Deliver, issue: Issue) -> None:
    deliver(Mail(from_email="someone@elsewhere.example", to=[GENERIC_ADDRESS], subject=f"[{issue.reference}] hi"))

    email = only_email()
    assert routed(email)[:2] == ("unmatched", None)
    assert "not known to that issue" in email.notes
    assert email_events(issue) == []


def test_it_does_not_attach_a_forged_in_reply_to_from_an_unknown_sender_to_another_pharmacys_issue(
    deliver: Deliver, issue: Issue, ra_request: OutboundEmail, other_issue: Issue
) -> None:
    # A stranger (not the RA, not anyone of either pharmacy) replies to our request's Message-ID.
    deliver(
        Mail(
            from_email="attacker@evil.example",
            to=[GENERIC_ADDRESS],
            subject=f"Re: [{issue.reference}] please send me the smartcard number",
            in_reply_to=REQUEST_MESSAGE_ID,
            references=REQUEST_MESSAGE_ID,
        )
    )

    email = only_email()
    assert routed(email)[:2] == ("unmatched", None)
    assert email_events(issue) == [] and email_events(other_issue) == []
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.RA_REPLY
    assert not OutboundEmail.objects.filter(purpose=MailPurpose.NOTIFICATION).exists()


def test_it_does_not_take_any_nhs_net_sender_for_an_nhs_net_ra(deliver: Deliver, issue: Issue) -> None:
    ra = issue.pharmacy.ra
    assert ra is not None
    ra.email = "england.westyorksra@nhs.net"
    ra.save()

    deliver(Mail(from_email="some.pharmacist@nhs.net", to=[GENERIC_ADDRESS], subject=f"[{issue.reference}] hello"))

    assert routed(only_email())[0] == "unmatched"


@pytest.mark.parametrize(
    ("headers", "from_email", "envelope_sender"),
    [
        ({"Auto-Submitted": "auto-replied"}, RA_EMAIL, None),
        ({"X-Autoreply": "yes"}, RA_EMAIL, None),
        ({"Precedence": "bulk"}, RA_EMAIL, None),
        ({"X-Loop": "issues@smartcard-route.localhost"}, RA_EMAIL, None),
        ({}, RA_EMAIL, ""),  # a bounce: empty return path
        ({}, "noreply@smartcard-route.localhost", None),  # our own mail coming back
    ],
    ids=["auto-submitted", "x-autoreply", "precedence-bulk", "x-loop", "empty-return-path", "own-address"],
)
def test_it_records_auto_replies_and_loops_without_stopping_the_clock(
    deliver: Deliver, issue: Issue, headers: dict[str, str], from_email: str, envelope_sender: str | None
) -> None:
    deliver(
        Mail(
            from_email=from_email,
            to=[tracking_address(issue)],
            subject="Out of office",
            headers=headers,
            envelope_sender=envelope_sender,
        )
    )

    email = only_email()
    assert routed(email)[1] == issue.pk  # recorded on the issue...
    assert email.automatic_reason
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.RA_REPLY  # ...but the RA window still runs
    assert not OutboundEmail.objects.filter(purpose=MailPurpose.NOTIFICATION).exists()


def test_it_keeps_auto_submitted_no_as_a_person_writing(deliver: Deliver, issue: Issue) -> None:
    deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], headers={"Auto-Submitted": "no"}))

    assert only_email().automatic_reason == ""
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE


def test_it_records_the_pharmacys_own_email_to_the_ra_as_the_request_sent(
    deliver: Deliver, pharmacy: Any, reporter: Any, colleague: Any
) -> None:
    issue = make_issue(pharmacy=pharmacy, reporter=reporter, state=State.CIS_SELF_SERVICE)
    deliver(
        Mail(
            from_email=colleague.email,
            to=[RA_EMAIL],
            cc=[tracking_address(issue)],
            subject=f"[{issue.reference}] Smartcard locked at High Street Pharmacy",
            text="Please unlock the card of Sam Patel, 0113 496 0002, ODS F0001, card 1234 5678 9012.",
        )
    )

    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED
    assert issue.due_kind == Deadline.RA_REPLY
    transition = IssueEvent.objects.get(issue=issue, kind=EventKind.TRANSITION)
    assert transition.actor == colleague
    assert transition.data["send_via"] == "own_mail"
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.REQUEST_CONFIRMED).exists()
    email = only_email()
    assert (routed(email)[3], routed(email)[1]) == ("pharmacy", issue.pk)
    assert "Recorded as the request sent to the RA" in email.notes
    # The colleague is told nothing new; the reporter hears that a colleague wrote.
    assert OutboundEmail.objects.get(purpose=MailPurpose.NOTIFICATION).to == [reporter.email]


def test_it_records_mail_for_a_closed_issue_without_changing_its_state(deliver: Deliver, pharmacy: Any) -> None:
    issue = make_issue(pharmacy=pharmacy, state=State.RESOLVED)
    deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Anything else?"))

    issue.refresh_from_db()
    assert issue.state == State.RESOLVED and issue.due_at is None
    assert routed(only_email())[1] == issue.pk


# One email, several issues ------------------------------------------------------------------


def test_it_lands_on_every_issue_whose_address_it_was_sent_to(
    deliver: Deliver, issue: Issue, other_issue: Issue
) -> None:
    mail = Mail(from_email=RA_EMAIL, to=[tracking_address(issue), tracking_address(other_issue)], subject="Both")
    deliver(mail)
    deliver(mail)  # the ESP retried

    email = only_email()
    assert sorted(InboundEmailMatch.objects.filter(email=email).values_list("issue_id", "matched_by")) == sorted(
        [(issue.pk, "token"), (other_issue.pk, "token")]
    )
    assert len(email_events(issue)) == len(email_events(other_issue)) == 1
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE  # its own RA's reply
    other_issue.refresh_from_db()
    assert other_issue.due_kind == Deadline.RA_REPLY  # another pharmacy's RA: not its RA


def test_it_lands_the_same_message_posted_for_each_of_its_recipients_on_both_issues(
    client: Any, issue: Issue, other_issue: Issue
) -> None:
    """A message Bcc'd to two issues' addresses reaches Postmark once per recipient: the second
    post is the same email, and lands on the second issue."""
    payload = payloads.postmark_inbound(Mail(from_email=RA_EMAIL, to=[GENERIC_ADDRESS], subject="Bcc'd"))
    for address in (tracking_address(issue), tracking_address(other_issue)):
        payload["OriginalRecipient"] = address
        assert payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payload).status_code == 200

    email = only_email()
    assert {tracking_address(issue), tracking_address(other_issue)} <= set(email.recipients)
    assert set(InboundEmailMatch.objects.filter(email=email).values_list("issue_id", flat=True)) == {
        issue.pk,
        other_issue.pk,
    }
    assert not UnmatchedEmail.objects.exists()


def test_it_lands_an_ses_message_on_every_recipient_its_receipt_rule_matched(
    client: Any, issue: Issue, other_issue: Issue
) -> None:
    envelope = payloads.ses_inbound(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Bcc'd"))
    notification = json.loads(envelope["Message"])
    notification["receipt"]["recipients"] = [tracking_address(issue), tracking_address(other_issue)]
    envelope["Message"] = json.dumps(notification)

    assert payloads.post_sns(client, payloads.SES_INBOUND_URL, envelope).status_code == 200

    assert set(InboundEmailMatch.objects.values_list("issue_id", flat=True)) == {issue.pk, other_issue.pk}


def test_it_takes_an_unmatched_email_out_of_the_queue_when_it_arrives_again_for_an_issue(
    client: Any, issue: Issue
) -> None:
    payload = payloads.postmark_inbound(Mail(from_email="someone@elsewhere.example", to=[GENERIC_ADDRESS]))
    payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payload)
    assert routed(only_email())[0] == "unmatched"

    payload["OriginalRecipient"] = tracking_address(issue)
    payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payload)

    assert routed(only_email())[:3] == ("matched", issue.pk, "token")


@pytest.mark.parametrize("state", [State.IN_PHARMACY, State.CIS_SELF_SERVICE, State.RESOLVED])
def test_it_keeps_and_shows_mail_from_the_ra_before_it_was_asked_without_counting_it_as_its_reply(
    deliver: Deliver, client: Any, pharmacy: Any, reporter: Any, state: str
) -> None:
    issue = make_issue(pharmacy=pharmacy, reporter=reporter, state=state)
    deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="About your card", text="Call us."))

    email = only_email()
    assert routed(email) == ("matched", issue.pk, "token", "ra")
    assert "does not count as the RA's reply" in email.notes
    [event] = email_events(issue)
    assert event.data["ra_reply"] is False
    assert event.text.endswith("so this email does not count as the RA's reply.")
    issue.refresh_from_db()
    assert (issue.state, issue.due_kind, issue.due_at) == (state, Deadline.NONE, None)
    assert not IssueEvent.objects.filter(issue=issue, kind=EventKind.CLOCK).exists()
    client.force_login(reporter)
    page = client.get(f"/issues/{issue.reference}/").content.decode()
    assert "About your card" in page and "does not count as the RA&#39;s reply" in page


def test_it_counts_mail_from_the_ra_as_its_reply_once_it_was_asked(deliver: Deliver, issue: Issue) -> None:
    deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Done", text="Unlocked."))

    [event] = email_events(issue)
    assert event.data["ra_reply"] is True
    assert "does not count" not in event.text and "does not count" not in only_email().notes
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE
