"""The access matrix's world (tests/test_access_matrix.py): two pharmacies in two LPCs, a person in
every role, and one object of every kind a route can name, each inside one scope and outside others.

Every object that only some personas may see carries a unique marker string; `MARKERS` says who may
see each, and the matrix asserts that no other persona ever finds it in a response body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone

from directory.models import CorrectionReport, IcbRegistrationAuthority, User
from issues import services
from issues.models import EventKind, InboundEmailMatch, Issue, IssueEvent, State, UnmatchedEmail
from smartcard_route.mail.models import InboundAttachment, InboundEmail, InboundPost
from tests.issues.factories import IssueFactory, LPCFactory, PharmacyFactory, UserFactory

PERSONAS = (
    "anonymous",
    "staff_a",
    "owner_a",
    "staff_b",
    "officer_a",
    "officer_b",
    "cpe_it",
    "directory_manager",
    "no_role",
)
USERS = PERSONAS[1:]

MARKER_A = "MARKERA7Q1"  # in the summary of A's issue (the LPC involved)
MARKER_A_QUIET = "MARKERAQ9Z"  # in the summary of A's issue the LPC is not involved in
MARKER_B = "MARKERB3X8"  # in the summary of B's issue
MARKER_CASE = "MARKERCASE5K"  # in the case's highlight text
MARKER_UNMATCHED = "MARKERUNM2W"  # in the unmatched email's subject
MARKER_ATTACHMENT = "MARKERATT4V"  # in the name of the attachment of A's issue

# Who may see each marker (every other persona must never find it in a body).
MARKERS: dict[str, frozenset[str]] = {
    MARKER_A: frozenset({"staff_a", "owner_a", "officer_a", "cpe_it"}),
    MARKER_A_QUIET: frozenset({"staff_a", "owner_a", "cpe_it"}),
    MARKER_B: frozenset({"staff_b", "officer_b", "cpe_it"}),
    MARKER_CASE: frozenset({"cpe_it"}),
    MARKER_UNMATCHED: frozenset({"cpe_it"}),
    MARKER_ATTACHMENT: frozenset({"staff_a", "owner_a", "officer_a", "cpe_it"}),
}


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)


def _inbound(*, subject: str, message_id: str, text: str = "A reply.") -> InboundEmail:
    post = InboundPost.objects.create(esp="postmark", body=b"{}", status=InboundPost.Status.READ)
    return InboundEmail.objects.create(
        post=post,
        esp_name="postmark",
        message_id=message_id,
        from_email="ra.team@ra.example",
        to=["issues@smartcard-route.localhost"],
        subject=subject,
        body_text=text,
    )


def build_world() -> World:
    world = World()
    u = world.users
    lpc_a, lpc_b = LPCFactory.create(name="Leeds LPC"), LPCFactory.create(name="York LPC")
    pharmacy_a = PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FA123", lpc=lpc_a)
    pharmacy_b = PharmacyFactory.create(name="Elsewhere Pharmacy", ods_code="FZ999", lpc=lpc_b)
    u["staff_a"] = UserFactory.create(email="staff@riverside.example", full_name="Sam Patel")
    pharmacy_a.staff.add(u["staff_a"])
    u["owner_a"] = UserFactory.create(email="owner@riverside.example", full_name="Olu Owner")
    pharmacy_a.owner.members.add(u["owner_a"])
    u["staff_b"] = UserFactory.create(email="staff@elsewhere.example", full_name="Alex Elsewhere")
    pharmacy_b.staff.add(u["staff_b"])
    u["officer_a"] = UserFactory.create(email="officer@leeds-lpc.example", full_name="Lee Officer")
    lpc_a.officers.add(u["officer_a"])
    u["officer_b"] = UserFactory.create(email="officer@york-lpc.example", full_name="Yan Officer")
    lpc_b.officers.add(u["officer_b"])
    u["cpe_it"] = UserFactory.create(email="it@cpe.example", full_name="Casey IT", is_cpe_it=True)
    u["directory_manager"] = UserFactory.create(
        email="directory@cpe.example", full_name="Dee Directory", is_directory_manager=True
    )
    u["no_role"] = UserFactory.create(email="nobody@example.org", full_name="Nora Nobody")

    issue_a = IssueFactory.create(
        pharmacy=pharmacy_a, reporter=u["staff_a"], state=State.LPC_CC, summary=f"Card locked {MARKER_A}"
    )
    issue_a_quiet = IssueFactory.create(
        pharmacy=pharmacy_a, reporter=u["staff_a"], state=State.IN_PHARMACY, summary=f"Passcode {MARKER_A_QUIET}"
    )
    issue_b = IssueFactory.create(
        pharmacy=pharmacy_b, reporter=u["staff_b"], state=State.LPC_CC, summary=f"Card broken {MARKER_B}"
    )
    case = services.case_create(user=u["cpe_it"], title="Locked cards", description="Same cause.", issues=[issue_b])
    case = services.case_record_highlight(
        user=u["cpe_it"],
        case=case,
        highlighted_at=timezone.now() - timedelta(hours=1),
        to="td@nhs.example",
        text=f"Highlight {MARKER_CASE}",
    )

    # An email matched to A's issue, with a stored attachment.
    matched = _inbound(subject="Re: [SC] your card", message_id="<matched-1@ra.example>")
    event = IssueEvent.objects.create(issue=issue_a, kind=EventKind.EMAIL_IN, text="Re: your card")
    InboundEmailMatch.objects.create(
        email=matched, issue=issue_a, event=event, matched_by=InboundEmailMatch.MatchedBy.TOKEN
    )
    attachment = InboundAttachment.objects.create(
        email=matched, filename=f"{MARKER_ATTACHMENT}.pdf", content_type="application/pdf", size=9
    )
    attachment.file.save("letter.pdf", ContentFile(f"%PDF-1.4 {MARKER_ATTACHMENT}".encode()), save=True)
    # Mail that matched no issue, and a post nobody could read.
    unmatched = _inbound(subject=f"Card unlocked {MARKER_UNMATCHED}", message_id="<unmatched-1@ra.example>")
    UnmatchedEmail.objects.create(email=unmatched)
    unreadable = InboundPost.objects.create(
        esp="postmark", body=f"not json {MARKER_UNMATCHED}".encode(), status=InboundPost.Status.FAILED, error="Bad"
    )
    ra_a = pharmacy_a.ra
    assert ra_a is not None
    report = CorrectionReport.objects.create(ra=ra_a, reporter=u["staff_a"], details="Wrong phone number.")

    world.objects.update(
        issue_a=issue_a,
        issue_a_quiet=issue_a_quiet,
        issue_b=issue_b,
        case=case,
        unmatched=unmatched,
        unreadable=unreadable,
        attachment=attachment,
        pharmacy_a=pharmacy_a,
        pharmacy_b=pharmacy_b,
        ra=pharmacy_a.ra,
        lpc_a=lpc_a,
        correction_report=report,
        owner_a_organisation=pharmacy_a.owner,
        icb=IcbRegistrationAuthority.objects.create(icb_code="QX9", icb_name="NHS Riverside ICB", ra=ra_a),
    )
    return world


def refresh(issue: Issue) -> Issue:
    return Issue.objects.get(pk=issue.pk)
