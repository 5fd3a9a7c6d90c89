"""Delivery tracking through the ESP webhooks (Postmark and Amazon SES): outbox rows become delivered,
bounced or complained, never move back, and their news reaches the issue's timeline."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from smartcard_route.mail.models import OutboundEmail
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import RA_EMAIL, REQUEST_ESP_ID, Track, delivery_events
from tests.mail import payloads

pytestmark = pytest.mark.django_db


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


def test_it_never_moves_a_bounced_email_back_to_delivered(track: Track, ra_request: OutboundEmail) -> None:
    track("bounced")
    track("delivered")  # late, out of order

    ra_request.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.BOUNCED
    assert [e.data["status"] for e in delivery_events(ra_request)] == ["bounced"]


def test_it_ignores_events_about_mail_it_never_sent(
    track: Track, ra_request: OutboundEmail, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="smartcard_route.mail.services.tracking"):
        assert track("bounced", esp_message_id="not-one-of-ours").status_code == 200

    ra_request.refresh_from_db()
    assert ra_request.status == OutboundEmail.Status.SENT
    assert delivery_events(ra_request) == []
    assert any("unknown message" in record.getMessage() for record in caplog.records)


def test_it_rejects_a_wrong_secret_and_changes_nothing(track: Track, ra_request: OutboundEmail, ra: Any) -> None:
    response = track("bounced", secret="anymail:wrong")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
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
