"""What the ESP's delivery news means for issues and the directory (DESIGN.md, "Email").

The mail layer moves an outbox row to delivered, bounced or complained (smartcard_route.mail's
tracking service) and sends `delivery_recorded`; `on_delivery_recorded` (connected in
IssuesConfig.ready) then writes a DELIVERY event on the issue the row is about when its status
moved, and, when the bounce came from a Registration Authority's address, marks that RA "needs
checking" and tells the directory manager (outbox, after commit), all in the mail layer's
transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from directory.emails import directory_manager_addresses
from directory.models import RegistrationAuthority
from issues.correspondence import outbound
from issues.events import record_event
from issues.models import EventKind, IssueOutboundEmail, MailPurpose
from smartcard_route.mail.models import OutboundEmail

logger = logging.getLogger(__name__)

Status = OutboundEmail.Status


def on_delivery_recorded(
    sender: Any,
    *,
    email: OutboundEmail,
    status: str,
    previous_status: str,
    moved: bool,
    recipient: str,
    description: str,
    mta_response: str,
    esp_name: str,
    at: datetime,
    **kwargs: Any,
) -> None:
    """1. When the row's status moved and it is about an issue, write a DELIVERY event there.
    2. On a bounce from an RA's address, flag the RA (once) and queue a note to the directory
       manager."""
    link = IssueOutboundEmail.objects.filter(email=email).select_related("issue__pharmacy").first()
    if moved and link is not None:
        record_event(
            link.issue_id,
            kind=EventKind.DELIVERY,
            actor=None,
            text=_event_text(email, status, recipient, description, mta_response),
            data={
                "email_id": email.pk,
                "status": status,
                "previous_status": previous_status,
                "recipient": recipient,
                "description": description[:500],
                "mta_response": mta_response[:500],
                "esp": esp_name,
            },
            now=at,
        )
    if status == Status.BOUNCED and recipient:
        _flag_bouncing_ra(recipient=recipient, email=email, link=link, detail=mta_response or description)


def _event_text(email: OutboundEmail, status: str, recipient: str, description: str, mta_response: str) -> str:
    what = str(MailPurpose(email.purpose).label) if email.purpose in MailPurpose.values else "Email"
    to = recipient or ", ".join(email.to)
    if status == Status.DELIVERED:
        return f"{what} delivered to {to}."
    if status == Status.COMPLAINED:
        return f"{what}: {to} reported it as spam."
    detail = "; ".join(part for part in (description, mta_response) if part)
    return f"{what} could not be delivered to {to}" + (f": {detail[:300]}" if detail else ".")


def _ra_url(ra: RegistrationAuthority) -> str:
    try:
        return settings.SITE_URL + reverse("directory:ra_detail", kwargs={"pk": ra.pk})
    except NoReverseMatch:
        return settings.SITE_URL + f"/admin/directory/registrationauthority/{ra.pk}/change/"


def _flag_bouncing_ra(*, recipient: str, email: OutboundEmail, link: IssueOutboundEmail | None, detail: str) -> None:
    """Mark every RA with this address as needing checking, and tell the directory manager once."""
    for ra in RegistrationAuthority.objects.filter(email__iexact=recipient.strip()):
        flagged = RegistrationAuthority.objects.filter(pk=ra.pk, needs_checking=False).update(
            needs_checking=True, updated_at=timezone.now()
        )
        if not flagged:
            continue  # already flagged: the manager has been told
        logger.warning("RA %s marked as needing checking: mail to it bounced", ra.pk)
        to = directory_manager_addresses()
        if not to:
            continue
        text, html = outbound.render_bodies(
            "directory_ra_bounced",
            {
                "ra": ra,
                "recipient": recipient,
                "detail": detail,
                "email": email,
                "issue": link.issue if link is not None else None,
                "ra_url": _ra_url(ra),
                "site_url": settings.SITE_URL,
            },
        )
        outbound.queue_outbound_email(
            purpose=MailPurpose.NOTIFICATION,
            to=to,
            subject=f"Mail to {ra.name} bounced: please check its email address",
            body_text=text,
            body_html=html,
        )
