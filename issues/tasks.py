"""Celery tasks for issues: thin wrappers that take ids and call one service.

Imports go one way, tasks -> services -> models: the services enqueue a task by its name
(issues.emails.SEND_OUTBOUND_EMAIL_TASK, issues.nudges.ENQUEUE_OUTBOUND_EMAILS_TASK), which the
tasks here are registered under.
"""

from __future__ import annotations

from celery import Task, shared_task

from issues.emails import (
    SEND_OUTBOUND_EMAIL_TASK,
    SendOutcome,
    outbound_email_send,
    outbound_emails_requeue_stuck,
    outbox_retry_delay,
)
from issues.nudges import ENQUEUE_OUTBOUND_EMAILS_TASK, nudge_digests_send, nudges_sweep


@shared_task(name=SEND_OUTBOUND_EMAIL_TASK, bind=True, max_retries=None, acks_late=True)
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


# Nudges (issues.nudges) -----------------------------------------------------------------------


@shared_task(acks_late=True)
def nudge_sweep() -> int:
    """Beat, every minute: nudge the issues whose next reminder is due (exactly once each)."""
    return nudges_sweep().nudged


@shared_task(acks_late=True)
def send_nudge_digests() -> int:
    """Beat, weekday mornings: one email per person who chose the daily digest."""
    return nudge_digests_send().emails


@shared_task(name=ENQUEUE_OUTBOUND_EMAILS_TASK, acks_late=True)
def enqueue_outbound_emails(email_ids: list[int]) -> int:
    """Fan out the delivery of a batch of outbox rows (a sweep enqueues one of these per batch
    rather than thousands of messages inside its loop). Duplicates are harmless: each send claims
    its row first; rows this misses stay queued for the requeue beat task."""
    with send_outbound_email.app.producer_or_acquire() as producer:
        for email_id in email_ids:
            send_outbound_email.apply_async((email_id,), producer=producer)
    return len(email_ids)
