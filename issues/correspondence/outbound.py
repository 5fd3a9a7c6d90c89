"""Mail about issues: what each message says and the issue's thread, over the mail layer's outbox
(smartcard_route.mail; DESIGN.md, "Email").

- `queue_outbound_email` writes an outbox row (smartcard_route.mail.services.outbound_email_queue)
  and its link to the issue and event (IssueOutboundEmail) inside the caller's transaction; the
  outbox sends it after commit. Nothing is sent inside a request.
- `on_outbound_email_sent` and `on_outbound_email_failed` (receivers of the mail layer's signals,
  connected in IssuesConfig.ready) write the EMAIL_OUT and DELIVERY events of an issue's mail.
- `issue_ra_request_preview` prepares the request to the RA that the pharmacy sends from the app
  or from its own mailbox.

Every message about an issue carries the reference in its subject ("[SC-000123]"), a stored
Message-ID, and a Reply-To of the issue's tracking address. Mail the app writes of its own accord
(reminders, digests, notices: AUTOMATIC_PURPOSES) says so in an `Auto-Submitted: auto-generated`
header (RFC 3834), so that out-of-office replies leave it alone; mail sent on a person's behalf
(the request to the RA, the forward to the LPC, the escalation to CPE IT) does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse

from issues.events import record_event
from issues.models import EventKind, Issue, IssueEvent, IssueOutboundEmail, MailPurpose
from issues.presentation import format_smartcard_number
from smartcard_route.mail import services as mail
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.rendering import render_bodies

__all__ = [
    "AUTOMATIC_PURPOSES",
    "TAKEN_OFF",
    "RaRequest",
    "correspondence_for",
    "default_ra_question",
    "format_smartcard_number",
    "issue_ra_request_preview",
    "issue_url",
    "on_outbound_email_failed",
    "on_outbound_email_sent",
    "queue_outbound_email",
    "ra_request_context",
    "ra_request_subject",
    "render_bodies",
    "subject_for",
    "thread_message_ids",
    "tracking_address",
    "tracking_address_for",
]

# On IssueEvent: an email CPE IT attached to the issue and took off again (inbound_email_detach):
# it stays on the timeline, shown as taken off, but is no longer the issue's correspondence.
TAKEN_OFF = Q(kind=EventKind.EMAIL_IN, inbound_matches__detached_at__isnull=False)

# Mail the app writes of its own accord, not on a person's behalf: sent with Auto-Submitted.
AUTOMATIC_PURPOSES = frozenset({MailPurpose.NUDGE, MailPurpose.DIGEST, MailPurpose.NOTIFICATION})


# Addresses and headers ------------------------------------------------------------------------


def tracking_address(issue: Issue) -> str:
    """The issue's own address: mail to it lands on the issue's timeline (inbound mail)."""
    return tracking_address_for(issue.tracking_token)


def tracking_address_for(token: str) -> str:
    """The tracking address of the issue whose tracking token this is (the nudge sweep has the
    token alone)."""
    return f"{settings.INBOUND_LOCAL_PART}+{token}@{settings.INBOUND_DOMAIN}"


def issue_url(issue: Issue) -> str:
    """The issue page's full address, for links in mail."""
    try:
        path = reverse("issues:detail", kwargs={"reference": issue.reference})
    except NoReverseMatch:
        path = f"/issues/{issue.reference}/"
    return f"{settings.SITE_URL}{path}"


def subject_for(issue: Issue, text: str) -> str:
    """ "[SC-000123] text" on one line (a line break in a header would be refused when sending)."""
    return " ".join(f"[{issue.reference}] {text}".split())[:300]


def thread_message_ids(issue: Issue) -> list[str]:
    """Message-IDs of the issue's RA correspondence, oldest first, for In-Reply-To/References.

    Our own outbound rows, plus inbound mail recorded as EMAIL_IN events carrying
    `data["message_id"]` (not an email CPE IT took off the issue again: TAKEN_OFF).
    """
    ids: list[tuple[datetime, str]] = [
        (row.created_at, row.message_id)
        for row in OutboundEmail.objects.filter(issue=issue).only("created_at", "message_id")
    ]
    inbound = IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN).exclude(TAKEN_OFF)
    for event in inbound.only("created_at", "data"):
        message_id = (event.data or {}).get("message_id")
        if message_id:
            ids.append((event.created_at, str(message_id)))
    ids.sort()
    seen: list[str] = []
    for _, message_id in ids:
        if message_id not in seen:
            seen.append(message_id)
    return seen


# Writing rows ---------------------------------------------------------------------------------


def queue_outbound_email(
    *,
    purpose: str,
    to: list[str],
    subject: str,
    body_text: str,
    body_html: str = "",
    issue: Issue | None = None,
    event: IssueEvent | None = None,
    cc: list[str] | None = None,
    reply_to: str | None = None,
    in_reply_to: str = "",
    references: list[str] | None = None,
) -> OutboundEmail:
    """Queue one email about an issue (or, without `issue`, the site's own mail to a person) in the
    caller's transaction: the outbox row, and its link to the issue and event. Reply-To defaults
    to the issue's tracking address; AUTOMATIC_PURPOSES are sent as automatic mail."""
    if reply_to is None:
        reply_to = tracking_address(issue) if issue is not None else ""
    with transaction.atomic(savepoint=False):
        email = mail.outbound_email_queue(
            purpose=purpose,
            to=to,
            cc=cc,
            reply_to=reply_to,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            in_reply_to=in_reply_to,
            references=references,
            auto_submitted=purpose in AUTOMATIC_PURPOSES,
        )
        if issue is not None:
            IssueOutboundEmail.objects.create(email=email, issue=issue, event=event)
    return email


# The outbox's news about an issue's mail (receivers of smartcard_route.mail.signals) -----------


def _purpose_label(email: OutboundEmail) -> str:
    return str(MailPurpose(email.purpose).label) if email.purpose in MailPurpose.values else email.purpose


def on_outbound_email_sent(
    sender: Any, *, email: OutboundEmail, esp_message_id: str, esp_status: list[str], at: datetime, **kwargs: Any
) -> None:
    """An issue's mail was sent: the EMAIL_OUT event (its data carries the Message-ID for threading)."""
    issue_id = IssueOutboundEmail.objects.filter(email=email).values_list("issue_id", flat=True).first()
    if issue_id is None:
        return
    record_event(
        issue_id,
        kind=EventKind.EMAIL_OUT,
        actor=None,
        text=f"{_purpose_label(email)} sent to {', '.join([*email.to, *email.cc])}.",
        data={
            "email_id": email.pk,
            "message_id": email.message_id,
            "esp_message_id": esp_message_id,
            "esp_status": esp_status,
            "purpose": email.purpose,
            "to": email.to,
            "cc": email.cc,
            "subject": email.subject,
        },
        now=at,
    )


def on_outbound_email_failed(sender: Any, *, email: OutboundEmail, error: str, at: datetime, **kwargs: Any) -> None:
    """An issue's mail could not be sent at all: a DELIVERY event says so on its timeline."""
    issue_id = IssueOutboundEmail.objects.filter(email=email).values_list("issue_id", flat=True).first()
    if issue_id is None:
        return
    record_event(
        issue_id,
        kind=EventKind.DELIVERY,
        actor=None,
        text=(
            f"{_purpose_label(email)} to {', '.join(email.to)} could not be sent after {email.attempts} tries: {error}"
        ),
        data={"email_id": email.pk, "status": OutboundEmail.Status.FAILED, "error": error},
        now=at,
    )


# The request to the RA ------------------------------------------------------------------------


@dataclass(frozen=True)
class RaRequest:
    """The prepared request to the pharmacy's RA, for the app to send or the user to copy."""

    to: str
    cc: list[str]
    subject: str
    body_text: str
    body_html: str
    reply_to: str
    ra_name: str
    mailto_url: str
    missing: list[str] = field(default_factory=list)


def ra_request_context(
    *,
    issue: Issue,
    question: str,
    contact_name: str,
    contact_phone: str,
    smartcard_number: str,
    no_card_yet: bool,
) -> dict[str, Any]:
    pharmacy = issue.pharmacy
    return {
        "issue": issue,
        "pharmacy": pharmacy,
        "ra": pharmacy.ra,
        "question": question.strip(),
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "smartcard_number": format_smartcard_number(smartcard_number),
        "no_card_yet": no_card_yet,
        "tracking_address": tracking_address(issue),
        "site_url": settings.SITE_URL,
        "issue_url": issue_url(issue),
    }


def default_ra_question(issue: Issue) -> str:
    text = f"{issue.get_kind_display()}: {issue.summary}"
    if issue.details:
        text += f"\n\n{issue.details}"
    if issue.tried_in_pharmacy:
        text += f"\n\nWhat we have already tried: {issue.tried_in_pharmacy}"
    return text


def ra_request_subject(issue: Issue) -> str:
    return subject_for(issue, f"Smartcard help for {issue.pharmacy.name} ({issue.pharmacy.ods_code}): {issue.summary}")


def issue_ra_request_preview(
    *,
    issue: Issue,
    question: str = "",
    contact_name: str | None = None,
    contact_phone: str | None = None,
    smartcard_number: str | None = None,
    no_card_yet: bool | None = None,
) -> RaRequest:
    """The request to the pharmacy's RA as it would be sent: to the RA, Cc the tracking address,
    subject with the reference, a body with name, phone, ODS code and Smartcard number (or "no card
    yet"), and a mailto: URL for the user's own mail client. Values not given come from the issue.
    `missing` lists what the directory lacks (no RA, no RA email) so the page can say so."""
    ra = issue.pharmacy.ra
    missing: list[str] = []
    if ra is None or not ra.active:
        missing.append("ra")
    elif not ra.email:
        missing.append("ra_email")
    context = ra_request_context(
        issue=issue,
        question=question or default_ra_question(issue),
        contact_name=issue.contact_name if contact_name is None else contact_name,
        contact_phone=issue.contact_phone if contact_phone is None else contact_phone,
        smartcard_number=issue.smartcard_number if smartcard_number is None else smartcard_number,
        no_card_yet=issue.no_card_yet if no_card_yet is None else no_card_yet,
    )
    body_text, body_html = render_bodies("issue_ra_request", context)
    subject = ra_request_subject(issue)
    to = ra.email if ra is not None and not missing else ""
    cc = [tracking_address(issue)]
    mailto = (
        "mailto:"
        + quote(to, safe="@")
        + "?"
        + "&".join(
            f"{key}={quote(value, safe='')}"
            for key, value in (("cc", ",".join(cc)), ("subject", subject), ("body", body_text))
        )
    )
    return RaRequest(
        to=to,
        cc=cc,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        reply_to=tracking_address(issue),
        ra_name=ra.name if ra is not None else "",
        mailto_url=mailto,
        missing=missing,
    )


def correspondence_for(issue: Issue) -> list[IssueEvent]:
    """The RA correspondence on the issue, oldest first: requests, replies, calls, mail in and out."""
    kinds = [
        EventKind.EMAIL_OUT,
        EventKind.EMAIL_IN,
        EventKind.RA_REPLY,
        EventKind.REQUEST_CONFIRMED,
        EventKind.PHONE_CALL,
    ]
    return list(
        IssueEvent.objects.filter(issue=issue, kind__in=kinds)
        .exclude(TAKEN_OFF)
        .select_related("actor")
        .order_by("created_at", "id")
    )
