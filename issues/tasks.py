"""Celery tasks for issues: thin wrappers that take ids and call one service."""

from __future__ import annotations

from celery import Task, shared_task

from issues.emails import SendOutcome, outbound_email_send, outbound_emails_requeue_stuck, outbox_retry_delay


@shared_task(bind=True, max_retries=None, acks_late=True)
def send_outbound_email(self: Task, email_id: int) -> str:
    """Deliver one outbox row. The service claims it first, so a duplicate task is harmless; on a
    provider error the row is back in the queue and this task retries with exponential backoff
    (the service marks the row failed after OUTBOX_MAX_ATTEMPTS, which ends the retries)."""
    result = outbound_email_send(email_id=email_id)
    if result.outcome is SendOutcome.RETRY:
        raise self.retry(countdown=outbox_retry_delay(result.attempts))
    return result.outcome.value


@shared_task
def requeue_stuck_outbound_emails() -> int:
    """Beat: re-enqueue outbox rows whose task was lost or whose worker died mid-send."""
    return len(outbound_emails_requeue_stuck())
