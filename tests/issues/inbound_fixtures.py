"""Personas and helpers shared by the inbound-mail and delivery-tracking tests.

A pharmacy with staff (the reporter), an owner, an RA at its own domain (ra.example), an LPC with an
officer; CPE IT; and an issue waiting for the RA's reply, with the request we sent it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from django.test import Client

from issues.models import EventKind, InboundEmailMatch, Issue, IssueEvent, MailPurpose, State, UnmatchedEmail
from smartcard_route.mail.models import InboundEmail, OutboundEmail
from tests.issues.factories import (
    IssueFactory,
    LPCFactory,
    PharmacyFactory,
    PharmacyOwnerFactory,
    RegistrationAuthorityFactory,
    UserFactory,
    outbound_email_about,
)
from tests.mail import payloads

RA_EMAIL = "ra.team@ra.example"
REQUEST_MESSAGE_ID = "<request-1@smartcard-route.localhost>"
REQUEST_ESP_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


@pytest.fixture(autouse=True)
def mail_settings(settings: Any, tmp_path: Path) -> None:
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": payloads.WEBHOOK_SECRET}
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.INBOUND_LOCAL_PART = "issues"
    settings.INBOUND_DOMAIN = "smartcard-route.localhost"
    settings.DEFAULT_FROM_EMAIL = "Smartcard Route <noreply@smartcard-route.localhost>"
    settings.CPE_IT_EMAIL = "it@cpe.example"
    settings.DIRECTORY_MANAGER_EMAIL = "directory@cpe.example"


@pytest.fixture
def ra(db: None) -> Any:
    return RegistrationAuthorityFactory(name="West Yorkshire RA", email=RA_EMAIL)


@pytest.fixture
def reporter(db: None) -> Any:
    return UserFactory(email="sam.patel@highstreet.example", full_name="Sam Patel")


@pytest.fixture
def colleague(db: None) -> Any:
    return UserFactory(email="alex.jones@highstreet.example", full_name="Alex Jones")


@pytest.fixture
def owner(db: None) -> Any:
    return UserFactory(email="owner@highstreet-group.example", full_name="Olu Owner")


@pytest.fixture
def lpc_officer(db: None) -> Any:
    return UserFactory(email="officer@lpc.example", full_name="Lee Officer")


@pytest.fixture
def cpe_it(db: None) -> Any:
    return UserFactory(email="triage@cpe.example", full_name="Casey IT", is_cpe_it=True)


@pytest.fixture
def pharmacy(ra: Any, reporter: Any, colleague: Any, owner: Any, lpc_officer: Any) -> Any:
    return PharmacyFactory(
        name="High Street Pharmacy",
        ra=ra,
        staff=[reporter, colleague],
        owner=PharmacyOwnerFactory(members=[owner]),
        lpc=LPCFactory(officers=[lpc_officer]),
    )


@pytest.fixture
def issue(pharmacy: Any, reporter: Any) -> Issue:
    """Waiting for the RA's reply (the request went out from Smartcard Route)."""
    return make_issue(pharmacy=pharmacy, reporter=reporter, state=State.RA_CONTACTED)


@pytest.fixture
def ra_request(issue: Issue) -> OutboundEmail:
    return outbound_email_about(
        issue,
        purpose=MailPurpose.RA_REQUEST,
        from_email="Smartcard Route <noreply@smartcard-route.localhost>",
        to=[RA_EMAIL],
        subject=f"[{issue.reference}] Smartcard help for High Street Pharmacy",
        body_text="Please unlock the card.",
        message_id=REQUEST_MESSAGE_ID,
        status=OutboundEmail.Status.SENT,
        esp_message_id=REQUEST_ESP_ID,
    )


@pytest.fixture
def other_issue(db: None) -> Issue:
    """Another pharmacy's issue, with its own RA and people."""
    return make_issue(state=State.RA_CONTACTED)


def make_issue(**fields: Any) -> Issue:
    return cast(Issue, IssueFactory(**fields))


def tracking_address(issue: Issue) -> str:
    return f"issues+{issue.tracking_token}@smartcard-route.localhost"


GENERIC_ADDRESS = "issues@smartcard-route.localhost"

Deliver = Callable[..., Any]


@pytest.fixture(params=["postmark", "amazon_ses"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def deliver(client: Client, provider: str) -> Deliver:
    """Post one email to this provider's inbound webhook, as the provider would."""

    def post(mail: payloads.Mail, *, secret: str | None = payloads.WEBHOOK_SECRET) -> Any:
        if provider == "postmark":
            return payloads.post_postmark(
                client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(mail), secret=secret
            )
        return payloads.post_sns(client, payloads.SES_INBOUND_URL, payloads.ses_inbound(mail), secret=secret)

    return post


def only_email() -> InboundEmail:
    emails = list(InboundEmail.objects.all())
    assert len(emails) == 1, emails
    return emails[0]


def routed(email: InboundEmail) -> tuple[str, int | None, str, str]:
    """Where an email landed, as (status, issue id, matched by, sender role): ("matched", ...) on
    its one issue, or ("unmatched", None, "", "unknown") in CPE IT's queue."""
    matches = list(InboundEmailMatch.objects.filter(email=email))
    if not matches:
        assert UnmatchedEmail.objects.filter(email=email).exists(), f"email {email.pk} is neither matched nor queued"
        return ("unmatched", None, "", "unknown")
    [match] = matches
    assert not UnmatchedEmail.objects.filter(email=email).exists()
    return ("matched", match.issue_id, match.matched_by, match.sender_role)


# Delivery tracking

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
    return list(IssueEvent.objects.filter(issue=request.issue_link.issue, kind=EventKind.DELIVERY).order_by("pk"))
