"""Every write to the directory made by the application (the admin and the import aside)."""

from __future__ import annotations

import datetime
import logging

from celery import current_app
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from directory import emails
from directory.models import LPC, CorrectionReport, RegistrationAuthority, User

logger = logging.getLogger(__name__)

# The task that emails the directory manager about a report (directory.tasks, which calls the
# services below), enqueued by the name it is registered under instead of being imported.
NOTIFY_TASK = "directory.tasks.notify_directory_manager"


def _enqueue_notification(report_id: int) -> None:
    current_app.send_task(NOTIFY_TASK, args=[report_id])


def correction_report_create(*, reporter: User, target: RegistrationAuthority | LPC, details: str) -> CorrectionReport:
    """Record "wrong or missing details" about an RA or LPC, and email the directory manager.

    Steps, in one transaction: create the report; flag an RA entry as needing checking. After the
    commit a task emails the directory manager (never inside the request). If the broker is down
    the enqueue fails quietly (`robust`), and the beat sweep `correction_report_notify_pending`
    sends it later.
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
        transaction.on_commit(lambda: _enqueue_notification(report.pk), robust=True)
    return report


def correction_report_notify(*, report_id: int) -> bool:
    """Email the directory manager about one report, at most once. True when this call sent it.

    The report is claimed with a conditional UPDATE on `notified_at` (null to now): a duplicate or
    retried task finds nothing to claim and sends nothing. If sending fails, the claim is released
    (only if it is still ours) and the error propagates, so the task retries.
    """
    claimed_at = timezone.now()
    claimed = CorrectionReport.objects.filter(pk=report_id, notified_at__isnull=True).update(notified_at=claimed_at)
    if not claimed:
        return False
    report = CorrectionReport.objects.select_related("ra", "lpc", "reporter").get(pk=report_id)
    try:
        emails.send_correction_report(report=report, to=settings.DIRECTORY_MANAGER_EMAIL)
    except Exception:
        CorrectionReport.objects.filter(pk=report_id, notified_at=claimed_at).update(notified_at=None)
        raise
    return True


def correction_report_notify_pending(*, older_than_seconds: int = 120) -> list[int]:
    """Send the email of reports still not notified a while after they were made; their ids.

    Catches an enqueue lost to a broker outage at commit time, and a send that failed for good.
    The claim in `correction_report_notify` keeps this from ever sending twice. (A worker killed
    between its claim and the send loses that one email: at most once, never twice. The report
    itself stays in the directory manager's queue of open reports, so nothing is lost.)
    """
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    pending = (
        CorrectionReport.objects.filter(notified_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:100]
    )
    sent: list[int] = []
    for report_id in pending:
        try:
            if correction_report_notify(report_id=report_id):
                sent.append(report_id)
        except Exception:
            logger.exception("correction report %s: email to the directory manager failed", report_id)
    return sent


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
