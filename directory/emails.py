"""Mail about the directory: who the directory manager is by mail, and the correction report to them,
written to the mail layer's outbox (smartcard_route.mail) like every other mail of the site."""

from __future__ import annotations

import logging

from django.conf import settings
from django.urls import reverse

from directory.models import CorrectionReport, User
from smartcard_route.mail import services as mail
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.rendering import render_bodies

logger = logging.getLogger(__name__)

# The outbox's name for this kind of mail.
CORRECTION_REPORT = "correction_report"


def directory_manager_addresses() -> list[str]:
    """The directory manager's mailbox (DIRECTORY_MANAGER_EMAIL) and every active directory manager:
    who hears that an RA's address bounces."""
    addresses = [settings.DIRECTORY_MANAGER_EMAIL] if settings.DIRECTORY_MANAGER_EMAIL else []
    addresses += list(
        User.objects.filter(is_directory_manager=True, is_active=True).order_by("pk").values_list("email", flat=True)
    )
    return list(dict.fromkeys(address for address in addresses if address))


def correction_report_queue(*, report: CorrectionReport) -> OutboundEmail | None:
    """Queue the email that tells the directory manager's mailbox (DIRECTORY_MANAGER_EMAIL) about a
    report, in the caller's transaction (the outbox sends it after commit), Reply-To the reporter.
    None when no mailbox is set (the report still waits in the directory manager's queue)."""
    if not settings.DIRECTORY_MANAGER_EMAIL:
        logger.warning("correction report %s: DIRECTORY_MANAGER_EMAIL is not set; not emailed", report.pk)
        return None
    target = report.target
    kind = "Registration Authority" if report.ra_id else "LPC"
    page = (
        reverse("directory:ra_detail", args=[target.pk])
        if report.ra_id
        else reverse("directory:lpc_detail", args=[target.pk])
    )
    context = {
        "report": report,
        "target": target,
        "kind": kind,
        "target_url": settings.SITE_URL + page,
        "reports_url": settings.SITE_URL + reverse("directory:correction_reports"),
        "admin_url": settings.SITE_URL
        + reverse(f"admin:directory_{'registrationauthority' if report.ra_id else 'lpc'}_change", args=[target.pk]),
    }
    text, html = render_bodies("directory_correction_report", context)
    return mail.outbound_email_queue(
        purpose=CORRECTION_REPORT,
        to=[settings.DIRECTORY_MANAGER_EMAIL],
        subject=f"Directory correction reported: {target.name}",
        body_text=text,
        body_html=html,
        reply_to=report.reporter.email,
    )
