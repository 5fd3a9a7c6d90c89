"""The national figures the worker keeps (issues.models.FiguresSnapshot): CPE IT's figures over
every issue, worked out from the rows by issues.selectors.figures.national_figures for each period
and stored, so that a page reads one row instead of working through a country's resolutions and
RA requests (seconds at England's size: docs/benchmarks.md). A beat task runs it every
FIGURES_REFRESH_MINUTES; the page says when the figures were worked out.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from issues.models import FiguresSnapshot
from issues.selectors.figures import PERIOD_WEEKS, figures_to_json, national_figures

__all__ = ["figures_refresh"]

log = logging.getLogger(__name__)

FIGURES_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000


def figures_refresh(*, now: datetime | None = None) -> list[FiguresSnapshot]:
    """Work out the national figures of every period as of `now` (default: now) and store them,
    replacing the last ones. Each period is read in a transaction of its own (a read holds no lock)
    and written in one short statement."""
    now = now or timezone.now()
    snapshots = []
    for weeks in PERIOD_WEEKS:
        started = time.monotonic()
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # The web's statement_timeout (DB_STATEMENT_TIMEOUT_MS) is for requests; a year of
                # a country's RA requests may read for longer on a busy server.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL statement_timeout = %s", [FIGURES_STATEMENT_TIMEOUT_MS])
            figures = national_figures(weeks=weeks, now=now)
        seconds = time.monotonic() - started
        snapshot, _ = FiguresSnapshot.objects.update_or_create(
            weeks=weeks,
            defaults={"computed_at": now, "seconds": seconds, "data": figures_to_json(figures)},
        )
        snapshots.append(snapshot)
        log.info("national figures worked out", extra={"weeks": weeks, "seconds": round(seconds, 3)})
    return snapshots
