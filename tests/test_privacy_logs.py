"""No personal data in the logs (DESIGN.md, "Personal data": logs carry ids, never personal data):
a whole journey (report, the request to the RA sent, the RA's reply through the inbound webhook,
the LPC cc'd, the escalation, CPE IT's triage, the resolution, a bounce, the retention run) with every
logger captured at DEBUG, each record formatted as production formats it (JSON, with its extras
and any traceback); no email address, phone number, Smartcard number or mail text may be in them."""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core.mail.backends.base import BaseEmailBackend

from issues.services.retention import retention_run
from smartcard_route.logging import JsonFormatter
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import outbound_email_send
from tests.issues.journey import (
    CONTACT_PHONE,
    PERSONAL_TEXTS,
    RA_EMAIL,
    REPLY_TEXT,
    SMARTCARD,
    run_journey,
    send_queued,
)
from tests.mail import payloads

pytestmark = pytest.mark.django_db

EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# A Message-ID (<token@domain>) is an id, not an address: it names no person.
MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>\s]+>")


# Loggers of the test suite's own tools (factory_boy logs the objects it builds), not of the site.
TEST_TOOLING = ("factory",)


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses every recipient, quoting the address (as SMTP servers do)."""

    def send_messages(self, email_messages: Any) -> int:
        refused = {address: (550, b"5.1.1 unknown user") for m in email_messages for address in m.to}
        raise smtplib.SMTPRecipientsRefused(refused)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured(settings: Any, tmp_path: Any) -> Iterator[Capture]:
    """Every logger at DEBUG, each record kept (also from loggers that do not propagate)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    capture = Capture()
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(capture)


def leaks(records: list[logging.LogRecord], needles: list[str]) -> list[str]:
    formatter = JsonFormatter()
    found = []
    for record in records:
        if record.name.startswith(TEST_TOOLING):
            continue
        line = formatter.format(record)
        without_ids = MESSAGE_ID.sub("<message-id>", line)
        for match in EMAIL_ADDRESS.finditer(without_ids):
            found.append(f"{record.name}: an email address ({match.group(0)}): {line[:300]}")
        for needle in needles:
            if needle in line or needle.replace(" ", "") in line:
                found.append(f"{record.name}: {needle!r}: {line[:300]}")
    return found


def test_a_whole_journey_logs_no_personal_data(client: Any, settings: Any, captured: Capture) -> None:
    journey = run_journey(client, settings=settings, resolve=True)
    # A bounce of the request to the RA (delivery tracking), and mail for nobody's issue.
    request = OutboundEmail.objects.filter(issue=journey.issue, purpose="ra_request").get()
    bounce = payloads.postmark_tracking("bounce", esp_message_id=request.esp_message_id or "x", recipient=RA_EMAIL)
    payloads.post_postmark(client, payloads.POSTMARK_TRACKING_URL, bounce)
    stray = payloads.Mail(
        from_email="stranger.person@elsewhere.example", to=["issues@smartcard-route.localhost"], text="Priya's card?"
    )
    payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(stray))
    send_queued()
    # An attachment refused for its size, and a send refused by the mail server naming the address.
    settings.INBOUND_MAX_ATTACHMENT_BYTES = 10
    refused = payloads.Mail(
        from_email=RA_EMAIL,
        to=[f"issues+{journey.issue.tracking_token}@smartcard-route.localhost"],
        text="Priya's form attached.",
        attachments=[("priya-form.pdf", "application/pdf", b"%PDF-1.4 a form too large for the limit")],
    )
    payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(refused))
    settings.EMAIL_BACKEND = "tests.test_privacy_logs.RefusingBackend"
    failing = OutboundEmail.objects.create(
        purpose="notification",
        from_email="noreply@x.example",
        to=[journey.people["owner"].email],
        subject="Priya",
        body_text=REPLY_TEXT,
        message_id="<refused-1@smartcard-route.localhost>",
    )
    outbound_email_send(email_id=failing.pk)
    assert "Recipient" in OutboundEmail.objects.get(pk=failing.pk).last_error
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC)):
        assert retention_run().issues == 1

    assert len(captured.records) > 10, "nothing was logged: the scan is vacuous"
    needles = [*PERSONAL_TEXTS, CONTACT_PHONE, SMARTCARD, *journey.emails, "stranger.person"]
    assert leaks(captured.records, needles) == []


def test_the_scan_finds_a_leak() -> None:
    """The scan is not vacuous: a record carrying an address, a phone number or a body is found."""
    records = [
        logging.makeLogRecord({"name": "x", "msg": "sent to %s", "args": ("sam@pharmacy.example",)}),
        logging.makeLogRecord({"name": "x", "msg": "call", "phone": CONTACT_PHONE}),
        logging.makeLogRecord({"name": "x", "msg": "mail <abc.123@smartcard-route.localhost> queued"}),
    ]
    found = leaks(records, [CONTACT_PHONE])
    assert len(found) == 2 and "sam@pharmacy.example" in found[0] and CONTACT_PHONE in found[1]
