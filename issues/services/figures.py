"""The figures the worker keeps (issues.models.FiguresSnapshot): CPE IT's over every issue
(issues.selectors.figures.national_figures) and each LPC's officers' (`lpc_figures`), worked out
from the rows for each period and stored, so that a page reads one row instead of working through
the resolutions and RA requests (seconds for the country at England's size, a page's whole budget
for an LPC: docs/benchmarks.md). A beat task runs it every FIGURES_REFRESH_MINUTES; the page says
when the figures were worked out. Only LPCs with an officer are worked out: nobody else reads them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from directory.models import LPC
from issues.models import FiguresSnapshot
from issues.selectors.figures import PERIOD_WEEKS, Figures, figures_to_json, lpc_figures, national_figures

__all__ = ["figures_refresh"]

log = logging.getLogger(__name__)

FIGURES_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000


def figures_refresh(*, now: datetime | None = None) -> list[FiguresSnapshot]:
    """Work out the national figures and every LPC's, of every period, as of `now` (default: now),
    and store them, replacing the last ones. Each is read in a transaction of its own (a read holds
    no lock) and written in one short statement."""
    now = now or timezone.now()
    snapshots = []
    for weeks in PERIOD_WEEKS:
        snapshots.append(_refresh(None, weeks, partial(national_figures, weeks=weeks, now=now), now))
    for lpc in LPC.objects.filter(officers__isnull=False).distinct().order_by("pk"):
        for weeks in PERIOD_WEEKS:
            snapshots.append(_refresh(lpc, weeks, partial(lpc_figures, lpc=lpc, weeks=weeks, now=now), now))
    # An LPC whose last officer left keeps no figures that nobody reads and nothing refreshes.
    FiguresSnapshot.objects.filter(lpc__isnull=False).exclude(pk__in=[s.pk for s in snapshots]).delete()
    return snapshots


def _refresh(lpc: LPC | None, weeks: int, work_out: Callable[[], Figures], now: datetime) -> FiguresSnapshot:
    started = time.monotonic()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The web's statement_timeout (DB_STATEMENT_TIMEOUT_MS) is for requests; a year of a
            # country's RA requests may read for longer on a busy server.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [FIGURES_STATEMENT_TIMEOUT_MS])
        figures = work_out()
    seconds = time.monotonic() - started
    snapshot, _ = FiguresSnapshot.objects.update_or_create(
        lpc=lpc,
        weeks=weeks,
        defaults={"computed_at": now, "seconds": seconds, "data": figures_to_json(figures)},
    )
    log.info(
        "figures worked out",
        extra={"lpc": lpc.pk if lpc else None, "weeks": weeks, "seconds": round(seconds, 3)},
    )
    return snapshot
