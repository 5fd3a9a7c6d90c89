"""Celery tasks of the mail layer: thin wrappers that take ids and call one service. The services
enqueue them by name (services.outbox.SEND_TASK, ENQUEUE_TASK; services.inbound.READ_TASK)."""

from __future__ import annotations

from celery import Task, shared_task

from smartcard_route.mail import services, webhooks


@shared_task(bind=True, max_retries=None, acks_late=True)
def send_outbound_email(self: Task, email_id: int) -> str:
    """Deliver one outbox row. The service claims it first, so a duplicate task is harmless; on a
    provider error the row is back in the queue and this task retries with exponential backoff
    (the service marks the row failed after OUTBOX_MAX_ATTEMPTS, which ends the retries)."""
    result = services.outbound_email_send(email_id=email_id)
    if result.outcome is services.SendOutcome.RETRY:
        raise self.retry(countdown=services.outbox_retry_delay(result.attempts))
    return result.outcome.value


@shared_task(acks_late=True)
def enqueue_outbound_emails(email_ids: list[int]) -> int:
    """Fan out the delivery of a batch of outbox rows (a sweep enqueues one of these per batch
    rather than thousands of messages inside its loop). Duplicates are harmless: each send claims
    its row first; rows this misses stay queued for the requeue beat task."""
    return services.outbound_emails_fan_out(email_ids=email_ids)


@shared_task
def requeue_stuck_outbound_emails() -> int:
    """Beat: re-enqueue outbox rows whose task was lost or whose worker died mid-send."""
    return len(services.outbound_emails_requeue_stuck())


@shared_task(acks_late=True)
def read_inbound_post(post_id: int) -> str:
    """Read one stored inbound post (the webhook enqueues this once the post is stored). The
    service leaves a post read, failed or held by another read alone, so a task delivered twice
    (acks_late: a worker that died mid-read) hands each email over once. A task lost on the way is
    made up for by the stale-post sweep below."""
    return services.inbound_post_read(post_id=post_id, readers=webhooks.readers()).value


@shared_task
def process_stale_inbound_posts() -> int:
    """Beat: read inbound posts whose task was lost or whose reader died; hand over emails left
    stored but not handed over."""
    return len(services.inbound_posts_process_stale(readers=webhooks.readers()))
