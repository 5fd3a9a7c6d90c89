"""A subject-access export (DESIGN.md, "Personal data"; UK GDPR article 15): everything the site
holds about one person, found by their email address. For the directory manager and CPE IT only
(`may_export_subject_access`); each export is audited (directory.services.subject_access_export_record).

What it gathers:

- their account (name, email, phone, flags, when it was made and last used) and roles (the
  pharmacies they are staff of, the owners they are a member of, the LPCs they are an officer of);
- the issues they reported, and those that name them: the contact name is their name, the contact
  phone is their phone, or mail about the issue went to or came from their address; each with why,
  its fields and its whole timeline;
- the events they wrote on any issue, and the systemic-case events;
- the mail sent to them (To or Cc) and received from them or sent to their address;
- the corrections they reported to the directory.

Addresses are compared without regard to case. Mail is found in the database by a text match on
its address lists, then kept only where an address is exactly theirs.

Unscoped on purpose: the reads here do not go through `issues_visible_to`. A subject-access
request is answered by the site's data controller for everything the site holds, whichever
pharmacy or LPC it belongs to, so the export must find a person's data across every scope; the
people who may run it are limited instead (`may_export_subject_access`: the directory manager and
CPE IT, who can already see the whole directory or every issue), and every export is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from directory.models import CorrectionReport, SubjectAccessExport, User
from issues.models import CaseEvent, InboundEmailMatch, Issue, IssueEvent, IssueOutboundEmail
from smartcard_route.mail.models import InboundEmail, OutboundEmail

__all__ = ["SubjectAccess", "may_export_subject_access", "subject_access_exports", "subject_access_gather"]


def may_export_subject_access(*, user: User | Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False) and user.is_active and (user.is_directory_manager or user.is_cpe_it)
    )


def subject_access_exports(*, limit: int = 50) -> list[SubjectAccessExport]:
    """The past exports, newest first (the audit the page lists)."""
    return list(SubjectAccessExport.objects.select_related("requested_by", "subject")[:limit])


@dataclass
class SubjectAccess:
    email: str
    generated_at: datetime
    user: User | None
    issues: list[tuple[Issue, list[str]]] = field(default_factory=list)  # each with why it is here
    events: dict[int, list[IssueEvent]] = field(default_factory=dict)  # by issue id
    events_by_them: list[IssueEvent] = field(default_factory=list)
    case_events_by_them: list[CaseEvent] = field(default_factory=list)
    sent_to_them: list[OutboundEmail] = field(default_factory=list)
    received_from_them: list[InboundEmail] = field(default_factory=list)
    correction_reports: list[CorrectionReport] = field(default_factory=list)
    roles: dict[str, list[str]] = field(default_factory=dict)

    @property
    def found_anything(self) -> bool:
        return bool(self.user or self.issues or self.sent_to_them or self.received_from_them)

    def as_json(self) -> dict[str, Any]:
        """The export as JSON-ready data (every time ISO 8601)."""
        return {
            "subject_email": self.email,
            "generated_at": self.generated_at.isoformat(),
            "account": _account(self.user),
            "roles": self.roles,
            "issues": [_issue(issue, why, self.events.get(issue.pk, [])) for issue, why in self.issues],
            "events_by_them": [_event(event) for event in self.events_by_them],
            "case_events_by_them": [
                {
                    "case": event.case.reference,
                    "kind": event.kind,
                    "text": event.text,
                    "data": event.data,
                    "at": event.created_at.isoformat(),
                }
                for event in self.case_events_by_them
            ],
            "emails_sent_to_them": [_outbound(email) for email in self.sent_to_them],
            "emails_received_from_or_for_them": [_inbound(email) for email in self.received_from_them],
            "correction_reports": [
                {
                    "about": str(report.target),
                    "details": report.details,
                    "status": report.status,
                    "handling_note": report.handling_note,
                    "created_at": report.created_at.isoformat(),
                }
                for report in self.correction_reports
            ],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _account(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {
        "email": user.email,
        "full_name": user.full_name,
        "phone": user.phone,
        "is_active": user.is_active,
        "is_cpe_it": user.is_cpe_it,
        "is_directory_manager": user.is_directory_manager,
        "date_joined": _iso(user.date_joined),
        "last_login": _iso(user.last_login),
    }


def _event(event: IssueEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "issue": event.issue.reference,
        "kind": event.kind,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "by": event.actor.email if event.actor else None,
        "text": event.text,
        "data": event.data,
        "at": event.created_at.isoformat(),
    }


def _issue(issue: Issue, why: list[str], events: list[IssueEvent]) -> dict[str, Any]:
    return {
        "reference": issue.reference,
        "why": why,
        "pharmacy": f"{issue.pharmacy.name} ({issue.pharmacy.ods_code})",
        "reporter": issue.reporter.email,
        "kind": issue.kind,
        "state": issue.state,
        "summary": issue.summary,
        "details": issue.details,
        "tried_in_pharmacy": issue.tried_in_pharmacy,
        "smartcard_number": issue.smartcard_number,
        "contact_name": issue.contact_name,
        "contact_phone": issue.contact_phone,
        "resolution_note": issue.resolution_note,
        "withdrawn_reason": issue.withdrawn_reason,
        "created_at": issue.created_at.isoformat(),
        "resolved_at": _iso(issue.resolved_at),
        "redacted_at": _iso(issue.redacted_at),
        "timeline": [_event(event) for event in events],
    }


def _outbound(email: OutboundEmail) -> dict[str, Any]:
    return {
        "id": email.pk,
        "purpose": email.purpose,
        "to": email.to,
        "cc": email.cc,
        "subject": email.subject,
        "body_text": email.body_text,
        "status": email.status,
        "created_at": email.created_at.isoformat(),
        "sent_at": _iso(email.sent_at),
    }


def _inbound(email: InboundEmail) -> dict[str, Any]:
    return {
        "id": email.pk,
        "from": email.from_email,
        "from_name": email.from_name,
        "to": email.to,
        "cc": email.cc,
        "subject": email.subject,
        "body_text": email.body_text,
        "attachments": [attachment.filename for attachment in email.attachments.all()],
        "received_at": email.received_at.isoformat(),
    }


def _names(addresses: Any, email: str) -> bool:
    return any(str(address).strip().lower() == email for address in addresses or [])


def subject_access_gather(*, email: str, now: datetime | None = None) -> SubjectAccess:
    """Everything held about the person with this email address (see the module's docstring)."""
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    found = SubjectAccess(email=email, generated_at=now or timezone.now(), user=user)

    sent = [
        row
        for row in OutboundEmail.objects.filter(Q(to__icontains=email) | Q(cc__icontains=email))
        if _names(row.to, email) or _names(row.cc, email)
    ]
    received = [
        row
        for row in InboundEmail.objects.filter(
            Q(from_email__iexact=email) | Q(to__icontains=email) | Q(cc__icontains=email)
        ).prefetch_related("attachments")
        if row.from_email.lower() == email or _names(row.to, email) or _names(row.cc, email)
    ]
    found.sent_to_them, found.received_from_them = sent, received

    why: dict[int, list[str]] = {}

    def named(ids: Any, reason: str) -> None:
        for issue_id in ids:
            reasons = why.setdefault(issue_id, [])
            if reason not in reasons:
                reasons.append(reason)

    if user is not None:
        named(Issue.objects.filter(reporter=user).values_list("pk", flat=True), "reported it")
        if user.full_name.strip():
            named(
                Issue.objects.filter(contact_name__iexact=user.full_name.strip()).values_list("pk", flat=True),
                "contact name",
            )
        if user.phone.strip():
            named(Issue.objects.filter(contact_phone=user.phone.strip()).values_list("pk", flat=True), "contact phone")
    named(
        IssueOutboundEmail.objects.filter(email_id__in=[row.pk for row in sent]).values_list("issue_id", flat=True),
        "mail to their address",
    )
    named(
        InboundEmailMatch.objects.filter(email_id__in=[row.pk for row in received]).values_list("issue_id", flat=True),
        "mail from or to their address",
    )
    issues = Issue.objects.filter(pk__in=list(why)).select_related("pharmacy", "reporter").order_by("created_at")
    found.issues = [(issue, why[issue.pk]) for issue in issues]
    for event in IssueEvent.objects.filter(issue_id__in=list(why)).select_related("actor", "issue"):
        found.events.setdefault(event.issue_id, []).append(event)

    if user is not None:
        found.events_by_them = list(IssueEvent.objects.filter(actor=user).select_related("actor", "issue"))
        found.case_events_by_them = list(CaseEvent.objects.filter(actor=user).select_related("case"))
        found.correction_reports = list(
            CorrectionReport.objects.filter(reporter=user).select_related("ra", "lpc", "pharmacy")
        )
        found.roles = {
            "pharmacy_staff": [f"{p.name} ({p.ods_code})" for p in user.pharmacies.all()],
            "pharmacy_owner": [owner.name for owner in user.owned_organisations.all()],
            "lpc_officer": [lpc.name for lpc in user.lpcs.all()],
            "flags": [
                label
                for label, held in (("CPE IT", user.is_cpe_it), ("directory manager", user.is_directory_manager))
                if held
            ],
        }
    return found
