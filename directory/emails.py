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
CORRECTION_HANDLED = "correction_handled"  # purpose: at most 20 characters

_KIND_LABEL = {"ras": "Registration Authority", "lpcs": "LPC", "pharmacies": "pharmacy"}


def _kind_of(report: CorrectionReport) -> str:
    """The report's target as the directory manager's pages name it (directory.urls, `entry_edit`)."""
    return "ras" if report.ra_id else "lpcs" if report.lpc_id else "pharmacies"


def target_page(report: CorrectionReport) -> str:
    """The page of the entry a report is about, as everyone sees it."""
    if report.ra_id:
        return reverse("directory:ra_detail", args=[report.ra_id])
    if report.lpc_id:
        return reverse("directory:lpc_detail", args=[report.lpc_id])
    assert report.pharmacy is not None
    return reverse("directory:pharmacy_detail", args=[report.pharmacy.ods_code])


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
    context = {
        "report": report,
        "target": target,
        "kind": _KIND_LABEL[_kind_of(report)],
        "target_url": settings.SITE_URL + target_page(report),
        "reports_url": settings.SITE_URL + reverse("directory:correction_report_detail", args=[report.pk]),
        "edit_url": settings.SITE_URL + reverse("directory:entry_edit", args=[_kind_of(report), target.pk]),
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


def correction_report_handled_queue(*, report: CorrectionReport) -> OutboundEmail:
    """Queue the email that tells the person who reported wrong details that the directory manager
    has handled their report, with the manager's note, in the caller's transaction."""
    target = report.target
    context = {
        "report": report,
        "target": target,
        "kind": _KIND_LABEL[_kind_of(report)],
        "target_url": settings.SITE_URL + target_page(report),
    }
    text, html = render_bodies("directory_correction_handled", context)
    return mail.outbound_email_queue(
        purpose=CORRECTION_HANDLED,
        to=[report.reporter.email],
        subject=f"Your report about {target.name} has been handled",
        body_text=text,
        body_html=html,
        reply_to=settings.DIRECTORY_MANAGER_EMAIL,
    )
