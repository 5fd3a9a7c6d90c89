"""Celery tasks for issues: thin wrappers that take ids and call one service. (The outbox's tasks
are the mail layer's: smartcard_route.mail.tasks.)

Imports go one way, tasks -> services -> models.
"""

from __future__ import annotations

from celery import shared_task

from issues.nudges import nudge_digests_send, nudges_sweep
from issues.services.figures import figures_refresh
from issues.services.retention import retention_run
from issues.services.suggestions import case_suggestions_refresh
from smartcard_route import monitoring

# Nudges (issues.nudges) -----------------------------------------------------------------------


@shared_task(acks_late=True)
def nudge_sweep() -> int:
    """Beat, every minute: nudge the issues whose next reminder is due (exactly once each); then
    record the worker's heartbeat, which /healthz and /metrics show."""
    nudged = nudges_sweep().nudged
    monitoring.beat_record(name=monitoring.HEARTBEAT)
    return nudged


@shared_task(acks_late=True)
def send_nudge_digests() -> int:
    """Beat, weekday mornings: one email per person who chose the daily digest."""
    return nudge_digests_send().emails


# Figures (issues.services.figures) --------------------------------------------------------------


@shared_task(acks_late=True)
def refresh_figures() -> int:
    """Beat, every FIGURES_REFRESH_MINUTES: work out the national figures (CPE IT's) again."""
    return len(figures_refresh())


@shared_task(acks_late=True)
def refresh_case_suggestions() -> int:
    """Beat, every CASE_SUGGESTIONS_REFRESH_MINUTES: work out CPE IT's suggested groups again."""
    return len(case_suggestions_refresh().data)


# Retention (issues.services.retention) --------------------------------------------------------


@shared_task(acks_late=True)
def redact_expired_personal_data() -> int:
    """Beat, nightly: redact the personal data kept past the retention period (counts logged)."""
    return retention_run().total
