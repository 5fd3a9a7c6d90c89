"""Celery tasks for the directory: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import Task, shared_task

from directory.services import NOTIFY_TASK, correction_report_notify, correction_report_notify_pending


@shared_task(name=NOTIFY_TASK, bind=True, max_retries=10, acks_late=True)
def notify_directory_manager(self: Task, report_id: int) -> bool:
    """Email the directory manager about a correction report. The service claims the report first,
    so a duplicate task sends nothing; a mail error retries with exponential backoff."""
    try:
        return correction_report_notify(report_id=report_id)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=min(3600, 30 * 2**self.request.retries)) from exc


@shared_task
def notify_directory_manager_pending() -> int:
    """Beat: send the email of reports whose task was lost (say, to a broker outage) or gave up."""
    return len(correction_report_notify_pending())
