"""Fixtures for what an operator watches: the monitoring cache emptied of this test's keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches

from smartcard_route import monitoring
from smartcard_route.mail import metrics as mail_metrics


def forget_monitoring() -> None:
    # Never caches[...].clear(): on Redis that empties the whole database, the broker's queues too.
    cache = caches[monitoring.CACHE_ALIAS]
    names = cache.get(monitoring.FAILED_TASKS_KEY) or []
    cache.delete_many(
        [
            monitoring.BEAT_KEY.format(name=monitoring.HEARTBEAT),
            monitoring.FAILED_TASKS_KEY,
            mail_metrics.TOTALS_KEY,
            *(monitoring.FAILURES_KEY.format(name=name) for name in names),
        ]
    )


@pytest.fixture(autouse=True)
def fresh_monitoring() -> Iterator[None]:
    forget_monitoring()
    yield
    forget_monitoring()
