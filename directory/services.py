"""Every write to the directory made by the application (the admin and the import aside)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from directory import emails
from directory.models import LPC, CorrectionReport, RegistrationAuthority, SubjectAccessExport, User

logger = logging.getLogger(__name__)


def correction_report_create(*, reporter: User, target: RegistrationAuthority | LPC, details: str) -> CorrectionReport:
    """Record "wrong or missing details" about an RA or LPC, and email the directory manager.

    Steps, in one transaction: create the report; flag an RA entry as needing checking; write the
    email to the directory manager to the outbox (directory.emails.correction_report_queue), which
    sends it after the commit, never inside the request, and retries or re-enqueues it until it
    is sent once.
    """
    text = details.strip()
    if not text:
        raise ValueError("details must not be blank")
    with transaction.atomic():
        if isinstance(target, RegistrationAuthority):
            report = CorrectionReport.objects.create(reporter=reporter, ra=target, details=text)
            RegistrationAuthority.objects.filter(pk=target.pk).update(needs_checking=True)
        else:
            report = CorrectionReport.objects.create(reporter=reporter, lpc=target, details=text)
        report.email = emails.correction_report_queue(report=report)
        report.save(update_fields=["email"])
    return report


def correction_report_mark_done(*, user: User, report: CorrectionReport) -> bool:
    """Mark an open report done. Only the directory manager may. False if it was already done.

    A conditional UPDATE (open to done), so two managers clicking at once record one of them.
    """
    if not user.is_directory_manager:
        raise PermissionDenied("Only the directory manager handles correction reports.")
    now = timezone.now()
    done = CorrectionReport.objects.filter(pk=report.pk, status=CorrectionReport.Status.OPEN).update(
        status=CorrectionReport.Status.DONE, resolved_at=now, resolved_by=user
    )
    if done:
        report.status, report.resolved_at, report.resolved_by = CorrectionReport.Status.DONE, now, user
    return bool(done)


def subject_access_export_record(
    *, requested_by: User, subject_email: str, subject: User | None, format: str
) -> SubjectAccessExport:
    """Audit one subject-access export (who asked, about which address and account, in which
    format, when); the export itself is not stored. Logged by ids only."""
    if format not in SubjectAccessExport.Format.values:
        raise ValueError(f"unknown export format {format!r}")
    export = SubjectAccessExport.objects.create(
        requested_by=requested_by, subject_email=subject_email.strip().lower(), subject=subject, format=format
    )
    logger.info("subject-access export %s (%s) by user %s", export.pk, format, requested_by.pk)
    return export
