"""Every email's text part is plain text, its HTML part escaped HTML.

Each email template of templates/emails is rendered through the code that really sends it, for
people and organisations whose names carry an apostrophe and an ampersand. The plain-text part
must show those names as typed (never `&#39;` or `&amp;`), and the HTML part must escape them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from directory.accounts.tasks import password_reset_send
from directory.emails import correction_report_handled_queue, correction_report_queue
from directory.models import CorrectionReport
from issues import nudges, services
from issues.correspondence.inbound import inbound_email_record
from issues.models import InboundEmailMatch, Issue, MailPurpose, NotificationPreference
from smartcard_route.mail.models import InboundEmail, OutboundEmail
from smartcard_route.mail.services import outbound_email_bodies
from smartcard_route.mail.services.tracking import outbound_delivery_record
from tests.issues.factories import (
    LPCFactory,
    PharmacyFactory,
    PharmacyOwnerFactory,
    RegistrationAuthorityFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "emails"

# Names as people type them: each with an apostrophe and an ampersand.
PHARMACY = "O'Brien & Daughters' Pharmacy"
RA = "St Mary's & District RA"
LPC = "Ayr & Arran's LPC"
REPORTER = "Sam O'Connor & Co"
OWNER = "Pat O'Neill & Sons"
OFFICER = "Lee O'Hara & Partners"
SUMMARY = "Card won't unlock & shows ERR1002"
NAMES = (PHARMACY, RA, LPC, REPORTER, OWNER, OFFICER, SUMMARY)
ENTITIES = ("&#", "&amp;", "&lt;", "&gt;", "&quot;")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


class World:
    """One pharmacy whose every name is awkward, and issues at each step of the route, reported on
    Monday 30 November 2026 and reminded about on the Wednesday and the Monday after."""

    def __init__(self) -> None:
        self.ra = RegistrationAuthorityFactory.create(name=RA, email="ra@ra.example", phone="0113 496 0000")
        self.reporter = UserFactory.create(email="sam@pharmacy.example", full_name=REPORTER)
        self.owner = UserFactory.create(email="pat@owner.example", full_name=OWNER)
        self.digest_reader = UserFactory.create(email="dee@owner.example", full_name="Dee O'Day & Co")
        NotificationPreference.objects.create(
            user=self.digest_reader, nudge_delivery=NotificationPreference.Delivery.DAILY_DIGEST
        )
        self.officer = UserFactory.create(email="lee@lpc.example", full_name=OFFICER)
        self.cpe_it = UserFactory.create(email="casey@cpe.example", full_name="Casey O'Reilly & IT", is_cpe_it=True)
        self.pharmacy = PharmacyFactory.create(
            name=PHARMACY,
            ra=self.ra,
            lpc=LPCFactory.create(name=LPC, email="lpc@lpc.example", officers=[self.officer]),
            owner=PharmacyOwnerFactory.create(name="O'Brien & Daughters Ltd", members=[self.owner, self.digest_reader]),
            staff=[self.reporter],
        )
        # A second pharmacy whose LPC will have nobody left to remind.
        self.lonely_lpc = LPCFactory.create(name="Nobody's & Nothing LPC", email="lonely@lpc.example")
        self.lonely = PharmacyFactory.create(
            name="Nobody's & Co Pharmacy",
            ra=self.ra,
            lpc=self.lonely_lpc,
            owner=PharmacyOwnerFactory.create(members=[self.owner]),
            staff=[self.reporter],
        )
        with time_machine.travel(at(30, 10), tick=False):
            self.waiting = self._asked()  # waits for the RA's reply
            self.replied = self._asked(reply=True)  # the RA replied; the pharmacy says nothing more
            self.with_lpc = self._asked(reply=True, cc_lpc=True)
            self.escalated = self._asked(reply=True, cc_lpc=True, escalate=True)
            self.forgotten = self._asked(reply=True, cc_lpc=True, pharmacy=self.lonely)
            self.followed_up = self._asked(reply=True, cc_lpc=True)
            services.issue_log_lpc_work(
                user=self.officer,
                issue=self.followed_up,
                with_whom="nhse_region",
                how="email",
                to="lead@england.nhs.example",
                text="The RA's stuck & we'd like your help.",
            )
        self.lonely_lpc.officers.clear()
        self.lonely_lpc.email = ""
        self.lonely_lpc.save()
        self._ra_writes_back(self.replied)
        self._ra_address_bounces(self.waiting)
        nudges.nudges_sweep(now=at(2, 11, month=12))  # the RA, LPC and CPE IT windows have ended
        nudges.nudges_sweep(now=at(7, 11, month=12))  # the pharmacy's, after the RA's reply, and the LPC's follow-up
        with time_machine.travel(at(3, 8, month=12), tick=False):
            nudges.nudge_digests_send()

    def _asked(
        self, *, reply: bool = False, cc_lpc: bool = False, escalate: bool = False, pharmacy: Any = None
    ) -> Issue:
        issue = services.issue_report(
            user=self.reporter,
            pharmacy=pharmacy or self.pharmacy,
            kind="locked",
            summary=SUMMARY,
            details="It's locked & the Sponsor's away.",
            contact_name=REPORTER,
            contact_phone="0113 496 0002",
            smartcard_number="1234 5678 9012",
        )
        services.issue_contact_ra(
            user=self.reporter,
            issue=issue,
            question="Please unlock it: we've tried the Sponsor & the unlock email.",
            send_via="app",
        )
        if reply:
            services.issue_log_ra_reply(user=self.reporter, issue=issue, text="We've reset it & sent a code.")
        if cc_lpc:
            services.issue_cc_lpc(user=self.owner, issue=issue, note="Can't wait & can't work.")
        if escalate:
            services.issue_escalate_to_cpe(user=self.officer, issue=issue, note="The RA's silent & so's NHSE.")
        issue.refresh_from_db()
        return issue

    def _ra_writes_back(self, issue: Issue) -> None:
        email = InboundEmail.objects.create(
            esp_name="test",
            message_id="<reply-1@ra.example>",
            from_email=self.ra.email,
            from_name=RA,
            to=[f"{settings.INBOUND_LOCAL_PART}+{issue.tracking_token}@{settings.INBOUND_DOMAIN}"],
            subject=f"Re: [{issue.reference}] {SUMMARY}",
            body_text="We've looked & it's fixed.",
        )
        inbound_email_record(email=email, issue=issue, matched_by=InboundEmailMatch.MatchedBy.TOKEN)

    def _ra_address_bounces(self, issue: Issue) -> None:
        request = OutboundEmail.objects.get(issue=issue, purpose=MailPurpose.RA_REQUEST)
        OutboundEmail.objects.filter(pk=request.pk).update(status=OutboundEmail.Status.SENT, esp_message_id="esp-1")
        outbound_delivery_record(
            esp_message_id="esp-1",
            event_type="bounced",
            recipient=self.ra.email,
            mta_response="550 St Mary's & District: mailbox full",
        )


def row(**filters: Any) -> tuple[str, str]:
    email = OutboundEmail.objects.filter(**filters).order_by("pk").first()
    assert email is not None, filters
    return outbound_email_bodies(email)


def correction_report(world: World) -> tuple[str, str]:
    report = CorrectionReport.objects.create(
        ra=world.ra, reporter=world.owner, details="St Mary's & co's email bounces."
    )
    row = correction_report_queue(report=report)
    assert row is not None
    return outbound_email_bodies(row)


def correction_handled(world: World) -> tuple[str, str]:
    report = CorrectionReport.objects.create(
        ra=world.ra, reporter=world.owner, details="The email bounces.", handling_note="Fixed St Mary's & co's email."
    )
    return outbound_email_bodies(correction_report_handled_queue(report=report))


def password_reset(world: World) -> tuple[str, str]:
    mail.outbox.clear()
    assert password_reset_send(email=world.reporter.email)
    (message,) = mail.outbox
    assert isinstance(message, EmailMultiAlternatives)
    return f"{message.subject}\n{message.body}", str(message.alternatives[0][0])


def triage_advice(world: World) -> tuple[str, str]:
    services.issue_triage(
        user=world.cpe_it, issue=world.escalated, outcome="returned_to_lpc", note="Ask the RA's manager & the Sponsor."
    )
    return row(issue=world.escalated, purpose=MailPurpose.TRIAGE)


def case_closed_notice(world: World) -> tuple[str, str]:
    case = services.case_create(
        user=world.cpe_it, title="Cards won't unlock & nobody's told", description="", issues=[world.with_lpc]
    )
    services.case_record_highlight(user=world.cpe_it, case=case, highlighted_at=at(1, 9, month=12), to="td", text="t")
    services.case_record_guidance(
        user=world.cpe_it, case=case, received_at=at(1, 10, month=12), text="Use the RA's & NHSE's new form."
    )
    services.case_close(user=world.cpe_it, case=case, note="It's fixed & the RA's told.", notify=True)
    return row(issue=world.with_lpc, purpose=Purpose.CASE_NOTICE)


Purpose = MailPurpose
# Each email template, and how the site comes to send it.
SENT_BY: dict[str, Callable[[World], tuple[str, str]]] = {
    "issue_ra_request": lambda w: row(issue=w.waiting, purpose=Purpose.RA_REQUEST),
    "issue_lpc_cc": lambda w: row(issue=w.with_lpc, purpose=Purpose.LPC_CC),
    "issue_cpe_escalation": lambda w: row(issue=w.escalated, purpose=Purpose.CPE_ESCALATION),
    "issue_triage_advice": triage_advice,
    "issue_inbound_email": lambda w: row(issue=w.replied, purpose=Purpose.NOTIFICATION),
    "directory_ra_bounced": lambda w: row(issue=None, purpose=Purpose.NOTIFICATION, subject__contains="bounced"),
    "nudge_ra_reply_reporter": lambda w: row(issue=w.waiting, template="nudge_ra_reply_reporter"),
    "nudge_ra_reply_owner": lambda w: row(issue=w.waiting, template="nudge_ra_reply_owner"),
    "nudge_pharmacy_update": lambda w: row(issue=w.replied, template="nudge_pharmacy_update"),
    "nudge_lpc_action": lambda w: row(issue=w.with_lpc, template="nudge_lpc_action"),
    "nudge_cpe_triage": lambda w: row(issue=w.escalated, template="nudge_cpe_triage"),
    "issue_lpc_work": lambda w: row(issue=w.followed_up, purpose=Purpose.LPC_WORK),
    "nudge_lpc_follow_up": lambda w: row(issue=w.followed_up, template="nudge_lpc_follow_up"),
    "nudge_nobody_to_remind": lambda w: row(issue=w.forgotten, template="nudge_nobody_to_remind"),
    "digest_nudges": lambda w: row(purpose=Purpose.DIGEST, to=[w.digest_reader.email]),
    "directory_correction_report": correction_report,
    "directory_correction_handled": correction_handled,
    "password_reset": password_reset,  # with its subject, password_reset_subject
    "case_closed_notice": case_closed_notice,
}


@pytest.fixture
def world(settings: Any) -> World:
    settings.CPE_IT_EMAIL = "it@cpe.example"
    settings.DIRECTORY_MANAGER_EMAIL = "directory@cpe.example"
    return World()


def test_it_sends_every_email_template_in_this_test():
    templates = {path.stem for path in TEMPLATES.glob("*.txt") if not path.name.startswith("_")}
    assert templates - {"password_reset_subject"} == set(SENT_BY)


@pytest.mark.parametrize("template", sorted(SENT_BY))
def test_it_writes_names_as_typed_in_the_text_part_and_escaped_in_the_html(world, template):
    text, html = SENT_BY[template](world)
    shown = [name for name in (*NAMES, "Dee O'Day & Co", "Nobody's & Co Pharmacy", "St Mary's & co's") if name in text]
    assert shown, f"{template}: none of the awkward names is in the text part"
    assert [entity for entity in ENTITIES if entity in text] == [], text
    for name in shown:
        assert name not in html, f"{template}: {name!r} unescaped in the HTML part"
    assert "&#39;" in html and "&amp;" in html
