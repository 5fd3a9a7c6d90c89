"""The sweep: every minute, nudge every issue whose next reminder is due, exactly once (the steps
are in issues.nudges)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from django.db import connection, transaction
from django.utils import timezone

from issues.nudges.batch import nudge_batch
from issues.nudges.context import Sweep
from issues.nudges.rules import batch_size, sweep_connections
from smartcard_route.mail import services as mail


@dataclass
class SweepResult:
    """What a sweep did, summed over its lanes."""

    nudged: int = 0
    emails: int = 0
    digest_items: int = 0
    batches: int = 0
    lost_claims: int = 0  # read as due, but another sweep or a person moved its cursor first

    FIELDS: ClassVar[tuple[str, ...]] = ("nudged", "emails", "digest_items", "batches", "lost_claims")


def nudges_sweep(*, now: datetime | None = None, limit: int | None = None, lanes: int | None = None) -> SweepResult:
    """Nudge every issue whose next reminder is due (the steps: issues.nudges).

    Each batch commits on its own; a lane of batches stops when a batch finds fewer issues than it
    may take. `limit` caps the batch size (tests); it defaults to NUDGE_BATCH_SIZE.

    On PostgreSQL, called outside a transaction (as the beat task is), the sweep runs `lanes`
    (NUDGE_SWEEP_CONNECTIONS) lanes at once, each a thread with its own database connection:
    a batch's work is in the database, and each connection has a server process of its own, so
    two lanes use two CPUs. Lanes share the issues as concurrent sweeps do: each batch locks what
    it reads (SKIP LOCKED) and claims it.
    """
    sweep = Sweep(now=now or timezone.now())
    size = limit or batch_size()
    lanes = lanes or sweep_connections()
    with _cyclic_gc_paused():
        if lanes == 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
            return _sweep_lane(sweep, size)
        with ThreadPoolExecutor(max_workers=lanes - 1, thread_name_prefix="nudge-sweep") as pool:
            others = [pool.submit(_sweep_lane_on_own_connection, sweep, size) for _ in range(lanes - 1)]
            results = [_sweep_lane(sweep, size), *(other.result() for other in others)]
    return SweepResult(*(sum(getattr(result, name) for result in results) for name in SweepResult.FIELDS))


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A sweep makes a few hundred thousand short-lived rows, tuples and strings and no reference
    cycles: reference counting frees them all. Left running, Python's cycle collector would walk
    the worker's whole heap a few times per sweep for nothing (a third of its Python time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _sweep_lane(sweep: Sweep, size: int) -> SweepResult:
    result = SweepResult()
    while True:
        with transaction.atomic():
            seen, claimed = _sweep_batch(sweep, size, result)
        result.batches += 1
        if seen < size or claimed == 0:
            return result


def _sweep_lane_on_own_connection(sweep: Sweep, size: int) -> SweepResult:
    try:
        return _sweep_lane(sweep, size)
    finally:
        connection.close()  # this thread's own connection


def _sweep_batch(sweep: Sweep, size: int, result: SweepResult) -> tuple[int, int]:
    written = nudge_batch(sweep, size)
    result.lost_claims += written.seen - written.claimed
    result.nudged += written.claimed
    result.emails += len(written.email_ids)
    result.digest_items += written.digest_items
    # After commit, one task fans out their delivery. With the broker down the rows stay queued,
    # and the outbox's requeue beat task enqueues them once it is back.
    mail.outbound_emails_enqueue_after_commit(written.email_ids)
    return written.seen, written.claimed
