"""What the worker tells the web processes, for the operator (docs/operations.md): when each beat
task last ran, and how many Celery tasks failed.

A Celery worker and the web server are different processes (often different machines), so neither
fact can live in a process's memory, nor in the database: a task that failed because the database
was down must still be counted, and a heartbeat must not cost a write on the busiest table. They
live in the `monitoring` cache (settings.CACHES): Redis at REDIS_URL in production, where `incr` is
Redis's atomic INCR, so workers counting at once never lose a failure; a file cache under VAR_DIR
on a machine with no Redis (`make run`, one machine), where an increment is read-then-write and two
failures at the same instant may count once.

The failure counter is a Prometheus counter: it only grows (it restarts from zero if Redis loses
its data, which Prometheus' rate() takes for a reset).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

logger = logging.getLogger(__name__)

CACHE_ALIAS = "monitoring"
BEAT_KEY = "beat:{name}"
FAILURES_KEY = "task-failures:{name}"
# The task names seen failing, so a scrape knows which counters to read (one key, read with them).
FAILED_TASKS_KEY = "task-failures"
# The worker's heartbeat: the nudge sweep, which beat starts every minute (its CELERY_BEAT_SCHEDULE name).
HEARTBEAT = "nudge-sweep"


def _cache() -> Any:
    return caches[CACHE_ALIAS]


# Beats ----------------------------------------------------------------------------------------


def beat_record(*, name: str, at: datetime | None = None) -> None:
    """A beat task ran to its end: remember when (kept until the next beat overwrites it)."""
    _cache().set(BEAT_KEY.format(name=name), (at or timezone.now()).isoformat(), timeout=None)


@dataclass(frozen=True)
class Beat:
    name: str
    last_run: datetime | None  # None: never seen (a new deployment, or the cache was emptied)
    stale: bool

    @property
    def status(self) -> str:
        if self.last_run is None:
            return "unknown"
        return "stale" if self.stale else "ok"


def beat_read(*, name: str, stale_after: timedelta, now: datetime | None = None) -> Beat:
    raw = _cache().get(BEAT_KEY.format(name=name))
    if raw is None:
        return Beat(name=name, last_run=None, stale=True)
    last_run = datetime.fromisoformat(raw)
    return Beat(name=name, last_run=last_run, stale=(now or timezone.now()) - last_run > stale_after)


def worker_beat(*, now: datetime | None = None) -> Beat:
    """The worker's heartbeat (HEARTBEAT): stale when it last ran WORKER_BEAT_STALE_AFTER_SECONDS ago."""
    return beat_read(
        name=HEARTBEAT,
        stale_after=timedelta(seconds=settings.WORKER_BEAT_STALE_AFTER_SECONDS),
        now=now,
    )


# Task failures ------------------------------------------------------------------------------------


def task_failure_count(*, task_name: str) -> None:
    """Count one failure of a Celery task (the worker's task_failure signal)."""
    cache = _cache()
    key = FAILURES_KEY.format(name=task_name)
    cache.add(key, 0, timeout=None)
    cache.incr(key)
    names = cache.get(FAILED_TASKS_KEY) or []
    if task_name not in names:
        # A new name is rare (once per task, ever); losing a race here only delays its label.
        cache.set(FAILED_TASKS_KEY, sorted({*names, task_name}), timeout=None)


def task_failures() -> dict[str, int]:
    """Failures so far, by task name (two cache reads)."""
    cache = _cache()
    names: list[str] = cache.get(FAILED_TASKS_KEY) or []
    counts = cache.get_many([FAILURES_KEY.format(name=name) for name in names])
    return {name: int(counts.get(FAILURES_KEY.format(name=name), 0)) for name in names}


def on_task_failure(sender: Any = None, **kwargs: Any) -> None:
    """Celery's task_failure receiver (connected in smartcard_route.celery). Never raises: a broken
    cache must not turn a task's failure into the worker's."""
    name = getattr(sender, "name", None) or "unknown"
    try:
        task_failure_count(task_name=name)
    except Exception:
        logger.warning("could not count a failure of %s", name, exc_info=True)
