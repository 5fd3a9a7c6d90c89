"""A whole journey along the route, through the services and the ESP webhook, for the privacy tests
(retention, the log scan, the subject-access export): an issue reported with a contact name, phone
and Smartcard number, the request to the RA sent, the RA's reply received (with an attachment),
the LPC cc'd, the issue escalated to CPE IT and triaged; optionally resolved.

Every piece of personal data it writes is in `PERSONAL`, for the tests to look for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from directory.models import User
from issues import services
from issues.models import Issue, Kind, TriageOutcome
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import outbound_email_send
from tests.issues.factories import (
    LPCFactory,
    PharmacyFactory,
    PharmacyOwnerFactory,
    RegistrationAuthorityFactory,
    UserFactory,
)
from tests.mail import payloads
from tests.mail.payloads import Mail

RA_EMAIL = "ra.team@journey-ra.example"
CONTACT_NAME = "Priya Journeyperson"
CONTACT_PHONE = "07700 900123"
SMARTCARD = "555566667777"
SUMMARY = "Card locked for Priya"
DETAILS = "Priya typed the wrong passcode three times at the counter."
QUESTION = "Please unlock Priya's card; she is on shift until six."
REPLY_TEXT = "Hello Priya, we have unlocked your card. Call 07700 900456 if it locks again."
ATTACHMENT = ("priya-letter.pdf", "application/pdf", b"%PDF-1.4 letter for Priya")


@dataclass
class Journey:
    issue: Issue
    people: dict[str, User] = field(default_factory=dict)

    @property
    def emails(self) -> list[str]:
        return [RA_EMAIL, *(person.email for person in self.people.values())]


# Strings that must never reach a log (tests/test_privacy_logs.py) and that retention removes.
PERSONAL_TEXTS = (CONTACT_NAME, CONTACT_PHONE, SMARTCARD, DETAILS, QUESTION, REPLY_TEXT, "Priya")


def send_queued() -> int:
    """Send every queued outbox row, as the worker would."""
    sent = 0
    for pk in OutboundEmail.objects.filter(status=OutboundEmail.Status.QUEUED).values_list("pk", flat=True):
        outbound_email_send(email_id=pk)
        sent += 1
    return sent


def run_journey(client: Client, *, settings: Any, tag: str = "", resolve: bool = False) -> Journey:
    """The journey, from the report to CPE IT's triage (and the resolution when `resolve`)."""
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": payloads.WEBHOOK_SECRET}
    people = {
        "reporter": UserFactory.create(email=f"priya{tag}@journey-pharmacy.example", full_name="Sam Journeyreporter"),
        "owner": UserFactory.create(email=f"olu{tag}@journey-owner.example", full_name="Olu Journeyowner"),
        "officer": UserFactory.create(email=f"lee{tag}@journey-lpc.example", full_name="Lee Journeyofficer"),
        "cpe_it": UserFactory.create(
            email=f"casey{tag}@journey-cpe.example", full_name="Casey Journeyit", is_cpe_it=True
        ),
    }
    ra = RegistrationAuthorityFactory.create(name=f"Journey RA {tag}", email=RA_EMAIL)
    pharmacy = PharmacyFactory.create(
        ra=ra,
        staff=[people["reporter"]],
        owner=PharmacyOwnerFactory.create(members=[people["owner"]]),
        lpc=LPCFactory.create(officers=[people["officer"]], email=f"lpc{tag}@journey-lpc.example"),
    )
    issue = services.issue_report(
        user=people["reporter"],
        pharmacy=pharmacy,
        kind=Kind.LOCKED,
        summary=SUMMARY,
        details=DETAILS,
        tried_in_pharmacy="Priya restarted the Identity Agent.",
        smartcard_number=SMARTCARD,
        contact_name=CONTACT_NAME,
        contact_phone=CONTACT_PHONE,
    )
    services.issue_try_cis(user=people["reporter"], issue=issue)
    services.issue_contact_ra(user=people["reporter"], issue=issue, question=QUESTION, send_via="app")
    send_queued()
    issue.refresh_from_db()
    tracking = f"{settings.INBOUND_LOCAL_PART}+{issue.tracking_token}@{settings.INBOUND_DOMAIN}"
    reply = Mail(
        from_email=RA_EMAIL,
        from_name="RA Team",
        to=[tracking],
        subject=f"RE: [{issue.reference}] Smartcard help",
        text=REPLY_TEXT,
        attachments=[ATTACHMENT],
    )
    response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(reply))
    assert response.status_code == 200, response.content
    issue.refresh_from_db()
    services.issue_cc_lpc(user=people["owner"], issue=issue, note="Priya still cannot sign in.")
    send_queued()
    issue.refresh_from_db()
    services.issue_escalate_to_cpe(user=people["officer"], issue=issue, note="The RA stopped answering Priya.")
    send_queued()
    issue.refresh_from_db()
    services.issue_triage(
        user=people["cpe_it"], issue=issue, outcome=TriageOutcome.HANDLED, note="Casey will call Priya."
    )
    issue.refresh_from_db()
    if resolve:
        services.issue_resolve(user=people["cpe_it"], issue=issue, fixed_by_step="cpe_it", note="Priya signed in.")
        issue.refresh_from_db()
    return Journey(issue=issue, people=people)
