"""Delivery tracking through the ESP webhooks (Postmark and Amazon SES): outbox rows become delivered,
bounced or complained, never move back, and a bounce from an RA flags the directory entry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from issues.models import EventKind, IssueEvent, OutboundEmail
from tests.issues import payloads
from tests.issues.factories import UserFactory
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import RA_EMAIL, REQUEST_ESP_ID

pytestmark = pytest.mark.django_db

Track = Callable[..., Any]

KINDS = {
    "postmark": {"delivered": "delivery", "bounced": "bounce", "complained": "spam_complaint"},
    "amazon_ses": {"delivered": "delivery", "bounced": "bounce", "complained": "complaint"},
}


@pytest.fixture
def track(client: Client, provider: str) -> Track:
    """Post one delivery event about one of our messages, as this provider would."""

    def post(
        what: str, *, esp_message_id: str = REQUEST_ESP_ID, recipient: str = RA_EMAIL, secret: str | None = None
    ) -> Any:
        kind = KINDS[provider][what]
        secret = payloads.WEBHOOK_SECRET if secret is None else secret
        if provider == "postmark":
            payload = payloads.postmark_tracking(kind, esp_message_id=esp_message_id, recipient=recipient)
            return payloads.post_postmark(client, payloads.POSTMARK_TRACKING_URL, payload, secret=secret)
        envelope = payloads.ses_tracking(kind, esp_message_id=esp_message_id, recipient=recipient)
        return payloads.post_sns(client, payloads.SES_TRACKING_URL, envelope, secret=secret)

    return post


def delivery_events(request: OutboundEmail) -> list[IssueEvent]:
    return list(IssueEvent.objects.filter(issue=request.issue, kind=EventKind.DELIVERY).order_by("pk"))


def test_it_marks_our_request_delivered(track: Track, ra_request: OutboundEmail) -> None:
    assert track("delivered").status_code == 200

    ra_request.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.DELIVERED
    [event] = delivery_events(ra_request)
    assert event.data["status"] == "delivered" and event.data["email_id"] == ra_request.pk
    assert "delivered to ra.team@ra.example" in event.text


def test_it_marks_a_complaint(track: Track, ra_request: OutboundEmail) -> None:
    track("delivered")
    track("complained")

    ra_request.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.COMPLAINED
    assert [e.data["status"] for e in delivery_events(ra_request)] == ["delivered", "complained"]


def test_it_flags_an_ra_whose_address_bounces_and_tells_the_directory_manager_once(
    track: Track, ra_request: OutboundEmail, ra: Any
) -> None:
    manager = UserFactory(email="manager@cpe.example", is_directory_manager=True)

    assert track("bounced").status_code == 200
    assert track("bounced").status_code == 200  # the ESP retried

    ra_request.refresh_from_db()
    ra.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.BOUNCED
    assert ra.needs_checking is True
    [event] = delivery_events(ra_request)
    assert "could not be delivered to ra.team@ra.example" in event.text
    [notice] = [row for row in OutboundEmail.objects.all() if "directory@cpe.example" in row.to]
    assert notice.to == ["directory@cpe.example", manager.email]
    assert ra.name in notice.subject
    assert f"/directory/ras/{ra.pk}/" in notice.body_text


def test_it_never_moves_a_bounced_email_back_to_delivered(track: Track, ra_request: OutboundEmail) -> None:
    track("bounced")
    track("delivered")  # late, out of order

    ra_request.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.BOUNCED
    assert [e.data["status"] for e in delivery_events(ra_request)] == ["bounced"]


def test_it_does_not_flag_an_ra_when_someone_elses_address_bounces(
    track: Track, ra_request: OutboundEmail, ra: Any
) -> None:
    track("bounced", recipient="sam.patel@highstreet.example")

    ra.refresh_from_db()
    assert ra.needs_checking is False
    assert not OutboundEmail.objects.filter(purpose=OutboundEmail.Purpose.NOTIFICATION).exists()


def test_it_ignores_events_about_mail_it_never_sent(
    track: Track, ra_request: OutboundEmail, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="issues.tracking"):
        assert track("bounced", esp_message_id="not-one-of-ours").status_code == 200

    ra_request.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.SENT
    assert delivery_events(ra_request) == []
    assert any("unknown message" in record.getMessage() for record in caplog.records)


def test_it_rejects_a_wrong_secret_and_changes_nothing(track: Track, ra_request: OutboundEmail, ra: Any) -> None:
    response = track("bounced", secret="anymail:wrong")

    assert response.status_code == 400
    ra_request.refresh_from_db()
    ra.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.SENT and ra.needs_checking is False


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (payloads.POSTMARK_TRACKING_URL, "{not json"),
        (payloads.POSTMARK_TRACKING_URL, '{"RecordType": "Inbound"}'),  # an inbound post at the tracking URL
        (payloads.SES_TRACKING_URL, "{not json"),
    ],
)
def test_it_answers_400_to_a_malformed_tracking_payload(
    client: Client, ra_request: OutboundEmail, url: str, body: str
) -> None:
    if url == payloads.SES_TRACKING_URL:
        response = payloads.post_sns(
            client, url, body, HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification", HTTP_X_AMZ_SNS_MESSAGE_ID="x"
        )
    else:
        response = payloads.post_postmark(client, url, body)

    assert response.status_code == 400
    ra_request.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.SENT


def test_it_answers_400_to_an_ses_bounce_without_its_recipients(client: Client, ra_request: OutboundEmail) -> None:
    import json

    envelope = payloads.ses_tracking("bounce", esp_message_id=REQUEST_ESP_ID, recipient=RA_EMAIL)
    message = json.loads(envelope["Message"])
    del message["bounce"]["bouncedRecipients"]
    envelope["Message"] = json.dumps(message)

    assert payloads.post_sns(client, payloads.SES_TRACKING_URL, envelope).status_code == 400
    ra_request.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.SENT
