"""Every write to the directory made by the application (the admin and the import aside)."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from directory import emails
from directory.models import (
    LPC,
    CorrectionReport,
    IcbRegistrationAuthority,
    Pharmacy,
    RegistrationAuthority,
    SubjectAccessExport,
    User,
)
from directory.roles import may_edit_directory

logger = logging.getLogger(__name__)


def correction_report_create(
    *, reporter: User, target: RegistrationAuthority | LPC | Pharmacy, details: str
) -> CorrectionReport:
    """Record "wrong or missing details" about an RA, LPC or pharmacy, and email the directory manager.

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
        elif isinstance(target, LPC):
            report = CorrectionReport.objects.create(reporter=reporter, lpc=target, details=text)
        else:
            report = CorrectionReport.objects.create(reporter=reporter, pharmacy=target, details=text)
        report.email = emails.correction_report_queue(report=report)
        report.save(update_fields=["email"])
    return report


def correction_report_mark_done(*, user: User, report: CorrectionReport, note: str = "") -> bool:
    """Mark an open report done, with the directory manager's note, and tell the reporter.

    Only the directory manager (or a superuser) may. False if it was already done. Steps, in one
    transaction: a conditional UPDATE (open to done), so two managers clicking at once record one
    of them; then, for the one that did, the email to the reporter (with the note) into the outbox,
    which sends it after the commit.
    """
    if not may_edit_directory(user):
        raise PermissionDenied("Only the directory manager handles correction reports.")
    now = timezone.now()
    text = note.strip()
    with transaction.atomic():
        done = CorrectionReport.objects.filter(pk=report.pk, status=CorrectionReport.Status.OPEN).update(
            status=CorrectionReport.Status.DONE, resolved_at=now, resolved_by=user, handling_note=text
        )
        if done:
            report.status, report.resolved_at, report.resolved_by = CorrectionReport.Status.DONE, now, user
            report.handling_note = text
            emails.correction_report_handled_queue(report=report)
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


def directory_entry_save(*, user: User, form: forms.ModelForm[Any]) -> models.Model:
    """Save the directory manager's new or edited entry (a valid form of directory.forms).

    Steps, in one transaction: check the user may edit the directory; save, which writes the
    entry's history row (django-simple-history) naming the user; for a row of the ICB -> RA table,
    set that RA on the ICB's pharmacies (not those whose RA is set by hand), with their history.
    """
    if not may_edit_directory(user):
        raise PermissionDenied("Only the directory manager edits the directory.")
    with transaction.atomic():
        entry = form.save(commit=False)
        entry._history_user = user  # type: ignore[attr-defined]  # also outside a request (simple-history)
        entry.save()
        form.save_m2m()
        if isinstance(entry, IcbRegistrationAuthority):
            pharmacies_follow_icb_ra(user=user, icb=entry)
    return entry


def pharmacies_follow_icb_ra(*, user: User | None, icb: IcbRegistrationAuthority) -> int:
    """Give the ICB's pharmacies the ICB's RA, except those whose RA is set by hand; how many changed."""
    changed = list(Pharmacy.objects.filter(icb_code=icb.icb_code, ra_is_exception=False).exclude(ra_id=icb.ra_id))
    now = timezone.now()
    for pharmacy in changed:
        pharmacy.ra_id, pharmacy.updated_at = icb.ra_id, now
    bulk_update_with_history(
        changed,
        Pharmacy,
        ["ra", "updated_at"],
        batch_size=1000,
        default_user=user,
        default_change_reason=f"ICB {icb.icb_code}'s RA",
    )
    return len(changed)
