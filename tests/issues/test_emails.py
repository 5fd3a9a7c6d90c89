"""Mail about issues (issues.correspondence.outbound over the outbox): each row written with its event and its link
to the issue, threaded on the issue's earlier mail, with the reference in a one-line subject."""

from __future__ import annotations

import pytest
from django.core import mail

from issues import services
from issues.correspondence.outbound import tracking_address
from issues.models import EventKind, InboundEmailMatch, IssueEvent, MailPurpose, State
from smartcard_route.mail.models import InboundEmail, OutboundEmail
from smartcard_route.mail.services import SendOutcome, outbound_email_send
from tests.issues.factories import IssueFactory
from tests.mail.esp_double import flaky_esp  # noqa: F401  (the fixture below)

Status = OutboundEmail.Status


def contact_ra(issue, user, **fields):
    return services.issue_contact_ra(user=user, issue=issue, question="Please add an email to my profile.", **fields)


def test_it_writes_the_ra_request_with_its_event_and_enqueues_it_after_commit(
    issue, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        contact_ra(issue, staff)
    email = OutboundEmail.objects.get()
    event = IssueEvent.objects.get(issue=issue, kind=EventKind.TRANSITION)
    assert (email.issue_link.issue, email.issue_link.event) == (issue, event)
    assert email.status == Status.QUEUED
    assert email.to == [issue.pharmacy.ra.email]
    assert email.cc == [staff.email]
    assert email.subject.startswith(f"[{issue.reference}] ")
    assert email.reply_to == tracking_address(issue) == f"issues+{issue.tracking_token}@smartcard-route.localhost"
    assert email.message_id.startswith("<") and email.message_id.endswith("@smartcard-route.localhost>")
    for expected in ("Sam Patel", "0113 496 0002", "FA123", "1234 5678 9012", "Please add an email to my profile."):
        assert expected in email.body_text
    assert "Please add an email" in email.body_html
    assert len(callbacks) == 1
    assert mail.outbox == []  # nothing is sent inside the request


def test_it_writes_no_email_when_the_request_goes_from_the_users_own_mailbox(issue, staff):
    contact_ra(issue, staff, send_via="own_mail")
    assert not OutboundEmail.objects.exists()
    confirmed = IssueEvent.objects.get(issue=issue, kind=EventKind.REQUEST_CONFIRMED)
    assert "FA123" in confirmed.text


def test_it_threads_the_lpc_forward_under_the_ra_request(issue, staff, owner):
    contact_ra(issue, staff)
    services.issue_cc_lpc(user=owner, issue=issue, note="Please chase the RA.")
    request, forward = OutboundEmail.objects.order_by("pk")
    assert forward.purpose == MailPurpose.LPC_CC
    assert forward.in_reply_to == request.message_id
    assert request.message_id in forward.references
    lpc = issue.pharmacy.lpc
    assert lpc.email in forward.to
    assert "Please chase the RA." in forward.body_text
    assert "Please add an email to my profile." in forward.body_text  # the RA thread


def test_it_threads_the_ra_request_under_earlier_mail_on_the_issue(issue, staff):
    IssueEvent.objects.create(
        issue=issue, kind=EventKind.EMAIL_IN, text="Email from the RA", data={"message_id": "<early@nhs.example>"}
    )
    contact_ra(issue, staff)
    request = OutboundEmail.objects.get()
    assert (request.in_reply_to, request.references) == ("<early@nhs.example>", "<early@nhs.example>")


def test_it_forwards_the_ra_correspondence_to_cpe_it_on_escalation(issue, staff, owner, lpc_officer, settings):
    settings.CPE_IT_EMAIL = "it@cpe.example"
    contact_ra(issue, staff)
    services.issue_log_ra_reply(user=staff, issue=issue, text="We cannot add that email domain.")
    services.issue_cc_lpc(
        user=owner,
        issue=issue,
    )
    services.issue_escalate_to_cpe(user=lpc_officer, issue=issue, note="The RA says the domain is not allowed.")
    escalation = OutboundEmail.objects.get(purpose=MailPurpose.CPE_ESCALATION)
    assert escalation.to == ["it@cpe.example"]
    assert escalation.subject.startswith(f"[{issue.reference}] ")
    assert "We cannot add that email domain." in escalation.body_text
    assert "Please add an email to my profile." in escalation.body_text
    assert escalation.in_reply_to


def test_it_forwards_the_body_of_the_ras_email_to_cpe_it(pharmacy, staff, lpc_officer):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    inbound = InboundEmail.objects.create(
        esp_name="test",
        message_id="<ra-reply-1@nhs.example>",
        from_email=pharmacy.ra.email,
        subject=f"Re: [{issue.reference}] Smartcard help",
        body_text="Your profile is closed; we need to see you in person.",
    )
    received = IssueEvent.objects.create(
        issue=issue,
        kind=EventKind.EMAIL_IN,
        text=f"Email from {pharmacy.ra.email} (the RA)",
        data={"inbound_email_id": inbound.pk, "message_id": inbound.message_id, "subject": inbound.subject},
    )
    InboundEmailMatch.objects.create(email=inbound, issue=issue, event=received, matched_by="token", sender_role="ra")
    services.issue_escalate_to_cpe(user=lpc_officer, issue=issue, note="RA wants a visit")
    escalation = OutboundEmail.objects.get(purpose=MailPurpose.CPE_ESCALATION)
    assert "Your profile is closed; we need to see you in person." in escalation.body_text
    assert escalation.in_reply_to == "<ra-reply-1@nhs.example>"


@pytest.mark.usefixtures("flaky_esp")
def test_it_keeps_the_subject_on_one_line_whatever_the_summary(pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, summary="Locked\r\nBcc: victim@example.org")
    contact_ra(issue, staff)
    email = OutboundEmail.objects.get()
    assert "\n" not in email.subject and "\r" not in email.subject
    assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.SENT
    assert mail.outbox[0].bcc == []
