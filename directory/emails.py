"""Mail about the directory: who the directory manager is by mail, and the correction report to them."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from directory.models import CorrectionReport, User


def directory_manager_addresses() -> list[str]:
    """The directory manager's mailbox (DIRECTORY_MANAGER_EMAIL) and every active directory manager."""
    addresses = [settings.DIRECTORY_MANAGER_EMAIL] if settings.DIRECTORY_MANAGER_EMAIL else []
    addresses += list(
        User.objects.filter(is_directory_manager=True, is_active=True).order_by("pk").values_list("email", flat=True)
    )
    return list(dict.fromkeys(address for address in addresses if address))


def correction_report_message(*, report: CorrectionReport, to: str) -> EmailMultiAlternatives:
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
    message = EmailMultiAlternatives(
        subject=f"Directory correction reported: {target.name}",
        body=render_to_string("emails/directory_correction_report.txt", context),
        to=[to],
        reply_to=[report.reporter.email],
    )
    message.attach_alternative(render_to_string("emails/directory_correction_report.html", context), "text/html")
    return message


def send_correction_report(*, report: CorrectionReport, to: str) -> None:
    correction_report_message(report=report, to=to).send()
