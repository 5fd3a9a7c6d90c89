"""Celery tasks for issues: thin wrappers that take ids and call one service. (The outbox's tasks
are the mail layer's: smartcard_route.mail.tasks.)"""

from __future__ import annotations

from celery import shared_task

# Nudges (issues.nudges) -----------------------------------------------------------------------


@shared_task(acks_late=True)
def nudge_sweep() -> int:
    """Beat, every minute: nudge the issues whose deadline has passed (exactly once each)."""
    from issues.nudges import nudges_sweep

    return nudges_sweep().nudged


@shared_task(acks_late=True)
def send_nudge_digests() -> int:
    """Beat, weekday mornings: one email per person who chose the daily digest."""
    from issues.nudges import nudge_digests_send

    return nudge_digests_send().emails
