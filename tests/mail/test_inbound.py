"""Inbound mail through the ESP webhooks (Postmark and Amazon SES), end to end through the Django
test client: the provider's post stored first (the request's one query), then read by the worker's
task (tests/conftest.py's `inbound_reads` runs it once the request has answered): each email
parsed, sanitised and stored once; or the post refused; what a post that cannot be read leaves
behind; a task lost or delivered twice."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from anymail.inbound import AnymailInboundMessage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError

from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose
from smartcard_route.celery import app
from smartcard_route.mail import services, webhooks
from smartcard_route.mail.models import InboundEmail, InboundPost, OutboundEmail
from smartcard_route.mail.services import inbound_email_store
from smartcard_route.mail.signals import inbound_email_received
from smartcard_route.mail.tasks import process_stale_inbound_posts, read_inbound_post
from smartcard_route.mail.webhooks import PostmarkInboundView
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import (
    RA_EMAIL,
    Deliver,
    only_email,
    routed,
    tracking_address,
)
from tests.mail import payloads
from tests.mail.payloads import Mail
from tests.mail.worker_double import InboundReads

pytestmark = pytest.mark.django_db


def email_events(issue: Issue) -> list[IssueEvent]:
    return list(IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN))


def test_it_dedupes_on_message_id(deliver: Deliver, client: Any, issue: Issue) -> None:

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
    with caplog.at_level(logging.WARNING, logger="smartcard_route.mail.services.inbound"):
        response = deliver(
            Mail(
                from_email=RA_EMAIL,
                to=[tracking_address(issue)],
                attachments=[("form.pdf", "application/pdf", b"%PDF-1.4 small"), ("scan.tiff", "image/tiff", big)],
            )
        )

    assert response.status_code == 200
    email = only_email()
    assert routed(email)[1] == issue.pk
    stored, refused = email.attachments.order_by("pk")
    assert (stored.filename, stored.size, stored.file.read()) == ("form.pdf", 14, b"%PDF-1.4 small")
    assert not refused.file and refused.filename == "scan.tiff" and refused.size >= 5000
    assert "limit" in refused.refused_reason
    assert "scan.tiff" in email.notes
    # Logged by id and size, never by the sender's file name (DESIGN.md, "Personal data").
    logged = [record.getMessage() for record in caplog.records]
    assert any(f"inbound mail {email.pk}: an attachment of" in line and "refused" in line for line in logged)
    assert not any("scan.tiff" in line for line in logged)


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
    assert (routed(email)[1], email.body_text.strip()) == (issue.pk, "The scan is attached.")
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

    assert response.status_code == 401
    assert not InboundPost.objects.exists() and not InboundEmail.objects.exists()
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
def test_it_keeps_a_malformed_postmark_payload_answers_200_and_logs_it(
    client: Any, body: str, caplog: pytest.LogCaptureFixture
) -> None:

    with caplog.at_level(logging.WARNING, logger="smartcard_route.mail.webhooks"):
        response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, body)

    assert response.status_code == 200  # stored: the provider has nothing to retry
    assert not InboundEmail.objects.exists()
    post = InboundPost.objects.get()
    assert (post.status, bytes(post.body)) == (InboundPost.Status.FAILED, body.encode())
    assert post.error.startswith("The provider's post could not be read")
    assert any("malformed payload" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "case",
    ["not-json", "message-not-json", "content-not-base64", "header-type-mismatch", "tracking-event-at-inbound"],
)
def test_it_keeps_a_malformed_sns_payload_and_answers_200(client: Any, issue: Issue, case: str) -> None:

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

    assert response.status_code == 200
    assert not InboundEmail.objects.exists()
    post = InboundPost.objects.get()
    assert post.status == InboundPost.Status.FAILED and post.error.startswith("The provider's post could not be read")


def test_it_asks_sns_for_basic_auth_first(client: Any, issue: Issue) -> None:

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
    assert (routed(email)[1], email.message_id) == (issue.pk, "<mangled-1@ra.example>")


def test_it_accepts_the_minimal_postmark_payload_of_the_docs(client: Any, issue: Issue) -> None:

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
    assert (routed(email)[1], email.message_id, routed(email)[3]) == (issue.pk, "<sample-1@example.org>", "ra")


# Stored first --------------------------------------------------------------------------------


def test_the_request_stores_the_post_in_one_insert_and_leaves_the_reading_to_the_worker(
    deliver: Deliver, issue: Issue, inbound_reads: InboundReads
) -> None:

    inbound_reads.run_after_requests = False  # the worker is busy: the test runs its task below
    with CaptureQueriesContext(connection) as queries:
        response = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked"))

    assert response.status_code == 200
    [insert] = [query["sql"] for query in queries.captured_queries]  # the request's one query
    assert insert.startswith('INSERT INTO "mail_inboundpost"')
    post = InboundPost.objects.get()
    assert (post.status, post.reading_since) == (InboundPost.Status.RECEIVED, None)
    assert "HTTP_AUTHORIZATION" not in post.headers  # the secret is never stored
    assert not InboundEmail.objects.exists()
    assert inbound_reads.pending == [post.pk]

    assert inbound_reads.run() == ["read"]  # the worker's task

    post.refresh_from_db()
    assert (post.status, post.reading_since, post.error) == (InboundPost.Status.READ, None, "")
    assert only_email().post == post
    assert routed(only_email())[1] == issue.pk
    assert len(email_events(issue)) == 1


def test_it_reads_the_post_in_the_request_when_set_to(
    client: Any, issue: Issue, monkeypatch: pytest.MonkeyPatch, settings: Any, inbound_reads: InboundReads
) -> None:

    settings.INBOUND_READ_IN_REQUEST = True
    seen_when_read: list[list[str]] = []
    read = PostmarkInboundView.parse_events

    def parse_events(view: Any, request: Any) -> Any:
        seen_when_read.append([query["sql"] for query in queries.captured_queries])
        return read(view, request)

    monkeypatch.setattr(PostmarkInboundView, "parse_events", parse_events)
    payload = payloads.postmark_inbound(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]))
    with CaptureQueriesContext(connection) as queries:
        response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payload)

    assert response.status_code == 200
    assert inbound_reads.enqueued == []  # no task: read in the request
    [before_reading] = seen_when_read
    insert, claim = before_reading  # stored first, then claimed for the read
    assert insert.startswith('INSERT INTO "mail_inboundpost"') and claim.startswith('UPDATE "mail_inboundpost"')
    post = InboundPost.objects.get()
    assert (post.esp, post.status, post.content_type) == ("postmark", "read", "application/json")
    assert json.loads(bytes(post.body)) == payload
    assert only_email().post == post
    assert len(email_events(issue)) == 1


@pytest.mark.parametrize(
    "error",
    [OperationalError("Error 111 connecting to redis://:broker-password@broker:6379/0."), RuntimeError("a bug")],
    ids=["broker-down", "any-error"],
)
def test_it_answers_200_when_the_read_cannot_be_enqueued_and_the_sweep_reads_the_post(
    deliver: Deliver,
    issue: Issue,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    time_machine: Any,
    error: Exception,
) -> None:

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(app, "send_task", broker_down)
    with caplog.at_level(logging.WARNING, logger="smartcard_route.mail"):
        response = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked"))

    assert response.status_code == 200  # stored: the provider has nothing to retry
    post = InboundPost.objects.get()
    assert post.status == InboundPost.Status.RECEIVED
    [warning] = [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]
    assert warning == (
        f"inbound post {post.pk} stored but its read not enqueued ({type(error).__name__}); "
        "the stale-post sweep will read it"
    )
    assert not InboundEmail.objects.exists()

    assert process_stale_inbound_posts() == 0  # its task may still be on its way
    time_machine.move_to(timezone.now() + timedelta(minutes=3))
    assert process_stale_inbound_posts() == 1

    post.refresh_from_db()
    assert post.status == InboundPost.Status.READ
    assert routed(only_email())[1] == issue.pk
    assert len(email_events(issue)) == 1


def test_a_read_task_delivered_twice_hands_the_email_over_once(
    deliver: Deliver, issue: Issue, inbound_reads: InboundReads
) -> None:

    deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked"))
    [post_id] = inbound_reads.enqueued

    assert read_inbound_post(post_id) == "skipped"  # redelivered (acks_late): the post is read already

    assert len(email_events(issue)) == 1
    assert OutboundEmail.objects.filter(purpose=MailPurpose.NOTIFICATION).count() == 1


def test_a_read_task_leaves_a_failed_post_alone(client: Any, inbound_reads: InboundReads) -> None:

    payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, "this is not json")
    post = InboundPost.objects.get()
    assert post.status == InboundPost.Status.FAILED

    assert read_inbound_post(post.pk) == "skipped"
    assert read_inbound_post(post.pk + 1000) == "skipped"  # a post that is not there

    again = InboundPost.objects.get()
    assert (again.status, again.error, again.reading_since) == (post.status, post.error, None)


def test_a_post_another_read_holds_is_left_to_it_and_taken_over_once_that_read_died(
    deliver: Deliver, issue: Issue, inbound_reads: InboundReads, time_machine: Any
) -> None:

    inbound_reads.run_after_requests = False
    deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked"))
    post = InboundPost.objects.get()
    # Another worker claimed it, then died mid-read (SIGKILL): its task comes back (acks_late).
    InboundPost.objects.filter(pk=post.pk).update(reading_since=timezone.now())

    assert inbound_reads.run() == ["skipped"]
    assert process_stale_inbound_posts() == 0
    assert InboundPost.objects.get().status == InboundPost.Status.RECEIVED

    time_machine.move_to(timezone.now() + timedelta(minutes=3))  # the claim is stale
    assert process_stale_inbound_posts() == 1
    assert read_inbound_post(post.pk) == "skipped"

    assert InboundPost.objects.get().status == InboundPost.Status.READ
    assert len(email_events(issue)) == 1


def test_it_answers_200_and_keeps_the_post_when_reading_it_fails_for_a_reason_of_ours(
    client: Any, issue: Issue, monkeypatch: pytest.MonkeyPatch
) -> None:

    def broken(view: Any, request: Any) -> Any:
        raise RuntimeError("the parser's bug")

    mail = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked")
    with monkeypatch.context() as patched:
        patched.setattr(PostmarkInboundView, "parse_events", broken)
        response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(mail))

    assert response.status_code == 200  # nothing for the provider to retry: the post is kept
    post = InboundPost.objects.get()
    assert post.status == InboundPost.Status.FAILED
    assert "RuntimeError" in post.error and "read again" in post.error
    assert not InboundEmail.objects.exists()

    # Its task, delivered again, leaves it alone; once the bug is fixed, the admin's "read again"
    # reads it, and it lands.
    assert read_inbound_post(post.pk) == "skipped"
    result = services.inbound_post_process(post=post, reader=webhooks.readers()["postmark"], again=True)

    assert result.outcome is services.PostOutcome.READ
    post.refresh_from_db()
    assert (post.status, post.error) == (InboundPost.Status.READ, "")
    assert len(email_events(issue)) == 1


def test_it_keeps_a_malformed_post_with_the_reason(client: Any) -> None:

    response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, "this is not json")

    assert response.status_code == 200
    post = InboundPost.objects.get()
    assert (post.status, bytes(post.body)) == (InboundPost.Status.FAILED, b"this is not json")
    assert "could not be read" in post.error
    assert not InboundEmail.objects.exists()


def test_it_reads_a_post_a_crash_left_unread_and_hands_over_an_email_a_crash_left_stored(
    client: Any, issue: Issue, other_issue: Issue, time_machine: Any
) -> None:

    payload = payloads.postmark_inbound(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked"))
    # A web process died after storing this post and before reading it...
    InboundPost.objects.create(esp="postmark", content_type="application/json", body=json.dumps(payload).encode())
    # ...and a worker after storing this email and before handing it over.
    message = AnymailInboundMessage.construct(
        from_email=RA_EMAIL, to=tracking_address(other_issue), subject="About the other one", text="Hello"
    )
    stranded = inbound_email_store(message=message, esp_name="postmark").email
    assert email_events(issue) == email_events(other_issue) == []

    assert process_stale_inbound_posts() == 0  # not yet: they may still be on their way
    time_machine.move_to(timezone.now() + timedelta(minutes=11))
    assert process_stale_inbound_posts() == 1

    assert len(email_events(issue)) == 1
    assert len(email_events(other_issue)) == 1
    stranded.refresh_from_db()
    assert stranded.handed_over_at is not None
    assert process_stale_inbound_posts() == 0
    assert len(email_events(issue)) == len(email_events(other_issue)) == 1


def test_it_keeps_the_email_and_notes_it_when_a_receiver_fails(deliver: Deliver, issue: Issue) -> None:

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("a receiver's bug")

    inbound_email_received.connect(broken, dispatch_uid="test-broken")
    try:
        response = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)]))
    finally:
        inbound_email_received.disconnect(dispatch_uid="test-broken")

    assert response.status_code == 200
    email = only_email()
    assert "Not handed over (RuntimeError)" in email.notes
    assert email.handed_over_at is not None
    assert len(email_events(issue)) == 1  # the issues' own receiver did its work


# Stored once, never dropped ------------------------------------------------------------------


def test_it_keeps_a_second_message_that_reuses_a_message_id(deliver: Deliver, issue: Issue) -> None:
    first = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked", text="Card unlocked.")
    second = Mail(
        from_email=RA_EMAIL,
        to=[tracking_address(issue)],
        subject="One more thing",
        text="Please also update the email address.",
        message_id=first.message_id,  # a mail client that reuses Message-IDs
    )
    deliver(first)
    deliver(second)

    texts = sorted(email.body_text.strip() for email in InboundEmail.objects.filter(message_id=first.message_id))
    assert texts == ["Card unlocked.", "Please also update the email address."]
    assert len(email_events(issue)) == 2
