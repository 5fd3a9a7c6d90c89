"""Inbound mail through the ESP webhooks (Postmark and Amazon SES), end to end through the Django
test client: threaded onto the right issue, deduped, left unmatched, or rejected."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from issues.models import Deadline, EventKind, InboundEmail, Issue, IssueEvent, MailPurpose, State
from smartcard_route.mail.models import OutboundEmail
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import (
    GENERIC_ADDRESS,
    RA_EMAIL,
    REQUEST_MESSAGE_ID,
    Deliver,
    make_issue,
    only_email,
    tracking_address,
)
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
    assert (email.status, email.issue_id, email.matched_by, email.sender_role) == ("matched", issue.pk, "token", "ra")
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
    assert (email.issue_id, email.matched_by, email.sender_role) == (issue.pk, "thread", "ra")
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
    assert (second.issue_id, second.matched_by, second.sender_role) == (issue.pk, "thread", "pharmacy")
    assert len(email_events(issue)) == 2


def test_it_matches_the_subject_reference_from_a_sender_known_to_the_issue(
    deliver: Deliver, issue: Issue, lpc_officer: Any
) -> None:
    deliver(Mail(from_email=lpc_officer.email, to=[GENERIC_ADDRESS], subject=f"Update on {issue.reference}"))

    email = only_email()
    assert (email.issue_id, email.matched_by, email.sender_role) == (issue.pk, "reference", "lpc")
    [event] = email_events(issue)
    assert event.actor == lpc_officer
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.RA_REPLY  # only the RA's reply stops the RA window


def test_it_leaves_a_subject_reference_from_a_stranger_unmatched(deliver: Deliver, issue: Issue) -> None:
    deliver(Mail(from_email="someone@elsewhere.example", to=[GENERIC_ADDRESS], subject=f"[{issue.reference}] hi"))

    email = only_email()
    assert (email.status, email.issue_id) == ("unmatched", None)
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
    assert (email.status, email.issue_id) == ("unmatched", None)
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

    assert only_email().status == "unmatched"


def test_it_dedupes_on_message_id(deliver: Deliver, client: Any, issue: Issue) -> None:
    from tests.mail import payloads

    mail = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked")
    assert deliver(mail).status_code == 200
    assert deliver(mail).status_code == 200  # the ESP retried
    # and the same message again through the other provider
    assert (
        payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(mail)).status_code
        == 200
    )
    assert payloads.post_sns(client, payloads.SES_INBOUND_URL, payloads.ses_inbound(mail)).status_code == 200

    assert InboundEmail.objects.count() == 1
    assert len(email_events(issue)) == 1
    assert OutboundEmail.objects.filter(purpose=MailPurpose.NOTIFICATION).count() == 1


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
    assert email.issue_id == issue.pk  # recorded on the issue...
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
    assert (email.sender_role, email.issue_id) == ("pharmacy", issue.pk)
    assert "Recorded as the request sent to the RA" in email.notes
    # The colleague is told nothing new; the reporter hears that a colleague wrote.
    assert OutboundEmail.objects.get(purpose=MailPurpose.NOTIFICATION).to == [reporter.email]


def test_it_sanitises_hostile_html(deliver: Deliver, issue: Issue) -> None:
    deliver(
        Mail(
            from_email=RA_EMAIL,
            to=[tracking_address(issue)],
            text="",
            html=(
                '<p onclick="steal()">Card <b>unlocked</b>.</p><script>alert("x")</script>'
                '<a href="javascript:alert(1)">click</a><img src="https://tracker.example/p.gif">'
                '<iframe src="https://evil.example"></iframe><style>body{display:none}</style>'
            ),
        )
    )

    email = only_email()
    assert "<b>unlocked</b>" in email.body_html
    for hostile in ("script", "onclick", "javascript:", "<img", "iframe", "<style", "alert"):
        assert hostile not in email.body_html.lower()
    assert "Card unlocked." in email.body_text  # a text version for mail with only HTML
    assert "alert" not in email.body_text


def test_it_stores_attachments_and_refuses_one_over_the_limit_keeping_the_message(
    deliver: Deliver, issue: Issue, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.INBOUND_MAX_ATTACHMENT_BYTES = 1024
    big = b"\x00" * 5000
    with caplog.at_level(logging.WARNING, logger="issues.inbound"):
        response = deliver(
            Mail(
                from_email=RA_EMAIL,
                to=[tracking_address(issue)],
                attachments=[("form.pdf", "application/pdf", b"%PDF-1.4 small"), ("scan.tiff", "image/tiff", big)],
            )
        )

    assert response.status_code == 200
    email = only_email()
    assert email.issue_id == issue.pk
    stored, refused = email.attachments.order_by("pk")
    assert (stored.filename, stored.size, stored.file.read()) == ("form.pdf", 14, b"%PDF-1.4 small")
    assert not refused.file and refused.filename == "scan.tiff" and refused.size >= 5000
    assert "limit" in refused.refused_reason
    assert "scan.tiff" in email.notes
    assert any("scan.tiff" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("provider", ["postmark"])
def test_it_keeps_a_message_with_a_50_mb_attachment_and_refuses_the_attachment(
    deliver: Deliver, issue: Issue, settings: Any
) -> None:
    settings.INBOUND_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
    response = deliver(
        Mail(
            from_email=RA_EMAIL,
            to=[tracking_address(issue)],
            text="The scan is attached.",
            attachments=[("scan.tiff", "image/tiff", b"\xff" * (50 * 1024 * 1024))],
        )
    )

    assert response.status_code == 200
    email = only_email()
    assert (email.issue_id, email.body_text.strip()) == (issue.pk, "The scan is attached.")
    [attachment] = email.attachments.all()
    assert not attachment.file and attachment.size >= 50 * 1024 * 1024
    assert "over the 10 MB limit" in attachment.refused_reason


def test_it_refuses_a_post_larger_than_the_webhook_limit(deliver: Deliver, issue: Issue, settings: Any) -> None:
    settings.INBOUND_MAX_WEBHOOK_BYTES = 10_000
    response = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], text="x" * 20_000))

    assert response.status_code == 413
    assert not InboundEmail.objects.exists()


@pytest.mark.parametrize("secret", ["anymail:wrong-secret", None], ids=["wrong", "missing"])
def test_it_rejects_a_wrong_or_missing_secret_and_changes_nothing(
    deliver: Deliver, issue: Issue, secret: str | None
) -> None:
    response = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]), secret=secret)

    assert response.status_code in (400, 401, 403)
    assert not InboundEmail.objects.exists()
    assert email_events(issue) == []
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.RA_REPLY


def test_it_refuses_every_post_while_no_secret_is_configured(deliver: Deliver, issue: Issue, settings: Any) -> None:
    settings.ANYMAIL = {key: value for key, value in settings.ANYMAIL.items() if key != "WEBHOOK_SECRET"}

    with pytest.warns(Warning, match="insecure"):
        response = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]), secret=None)

    assert response.status_code == 403
    assert not InboundEmail.objects.exists()


@pytest.mark.parametrize(
    "body",
    ["this is not json", "[1, 2, 3]", '{"FromFull": "nonsense", "Headers": 7, "Attachments": [{"Name": 1}]}', ""],
    ids=["not-json", "a-list", "wrong-types", "empty"],
)
def test_it_answers_400_to_a_malformed_postmark_payload_and_logs_it(
    client: Any, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.mail import payloads

    with caplog.at_level(logging.WARNING, logger="issues.webhooks"):
        response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, body)

    assert response.status_code == 400
    assert not InboundEmail.objects.exists()
    assert any("malformed payload" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "case",
    ["not-json", "message-not-json", "content-not-base64", "header-type-mismatch", "tracking-event-at-inbound"],
)
def test_it_answers_400_to_a_malformed_sns_payload(client: Any, issue: Issue, case: str) -> None:
    import json

    from tests.mail import payloads

    envelope = payloads.ses_inbound(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]))
    headers: dict[str, str] = {}
    if case == "not-json":
        response = payloads.post_sns(
            client,
            payloads.SES_INBOUND_URL,
            "{not json",
            HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
            HTTP_X_AMZ_SNS_MESSAGE_ID="x",
        )
    else:
        if case == "message-not-json":
            envelope["Message"] = "{broken"
        elif case == "content-not-base64":
            message = json.loads(envelope["Message"])
            message["content"] = "%%% not base64 %%%"
            envelope["Message"] = json.dumps(message)
        elif case == "header-type-mismatch":
            headers["HTTP_X_AMZ_SNS_MESSAGE_TYPE"] = "SubscriptionConfirmation"
        elif case == "tracking-event-at-inbound":
            envelope = payloads.ses_tracking("bounce", esp_message_id="x", recipient=RA_EMAIL)
        response = payloads.post_sns(client, payloads.SES_INBOUND_URL, envelope, **headers)

    assert response.status_code == 400
    assert not InboundEmail.objects.exists()


def test_it_asks_sns_for_basic_auth_first(client: Any, issue: Issue) -> None:
    from tests.mail import payloads

    envelope = payloads.ses_inbound(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]))
    response = payloads.post_sns(client, payloads.SES_INBOUND_URL, envelope, secret=None)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")


def test_it_survives_mangled_headers_without_losing_the_message(deliver: Deliver, issue: Issue) -> None:
    to = tracking_address(issue)
    raw = (
        f'From: "Broken =?utf-8?b?###?=" <{RA_EMAIL}>\r\n'
        f"To: <{to}>, ,,, <not an address\r\n"
        "Subject: =?utf-8?b?not-really-base64?= =?bogus?q?x?= \xff\xfe\r\n"
        "Date: yesterday-ish\r\n"
        "Message-ID: <mangled-1@ra.example>\r\n"
        "References: <<<>>> garbage <a@b\r\n"
        'Content-Type: multipart/mixed; boundary="never-closed"\r\n'
        "\r\n"
        "--never-closed\r\n"
        "Content-Type: text/plain; charset=no-such-charset\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "!!!not base64!!!\r\n"
    ).encode("latin-1")
    response = deliver(
        Mail(
            from_email=RA_EMAIL,
            to=[to],
            subject="=?utf-8?b?not-really-base64?= =?bogus?q?x?=",
            headers={"References": "<<<>>> garbage <a@b", "Date": "yesterday-ish"},
            message_id="<mangled-1@ra.example>",
            raw=raw,
        )
    )

    assert response.status_code == 200
    email = only_email()
    assert (email.issue_id, email.message_id) == (issue.pk, "<mangled-1@ra.example>")


def test_it_records_mail_for_a_closed_issue_without_changing_its_state(deliver: Deliver, pharmacy: Any) -> None:
    issue = make_issue(pharmacy=pharmacy, state=State.RESOLVED)
    deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Anything else?"))

    issue.refresh_from_db()
    assert issue.state == State.RESOLVED and issue.due_at is None
    assert only_email().issue_id == issue.pk


def test_it_accepts_the_minimal_postmark_payload_of_the_docs(client: Any, issue: Issue) -> None:
    import json

    from tests.mail import payloads

    payload = {
        "FromFull": {"Email": RA_EMAIL, "Name": "RA team"},
        "ToFull": [{"Email": tracking_address(issue), "Name": ""}],
        "Subject": "RE: Smartcard help",
        "TextBody": "We have unlocked the card.",
        "Headers": [{"Name": "Message-ID", "Value": "<sample-1@example.org>"}],
    }

    response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, json.dumps(payload))

    assert response.status_code == 200
    email = only_email()
    assert (email.issue_id, email.message_id, email.sender_role) == (issue.pk, "<sample-1@example.org>", "ra")
