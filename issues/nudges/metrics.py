"""The nudge sweep's gauges for /metrics (registered with smartcard_route.metrics in
issues.correspondence.hooks), computed when Prometheus scrapes.

The lag is how long the oldest reminder that is due has been waiting for a sweep: among the issues
the sweep serves (`nudges_due`, the sweep's own filter: open, waiting on someone the sweep nudges), the earliest
`next_nudge_at` in the past. A healthy sweep keeps it under a minute or two; a stopped worker or
beat makes it grow by a minute a minute. Both queries read the partial index
`issue_next_nudge_waiting` (next_nudge_at, where it is set): the oldest is its first entry in order,
and the count is the range of entries in the past, which a working sweep keeps near zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from issues.nudges.context import nudges_due


def nudge_metrics(now: datetime) -> Iterator[Metric]:
    due = nudges_due(now=now)
    oldest = due.order_by("next_nudge_at").values_list("next_nudge_at", flat=True).first()
    yield GaugeMetricFamily(
        "smartcard_nudge_sweep_lag_seconds",
        "How long the oldest due reminder has waited for the sweep (0 when none is due).",
        value=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
    )
    yield GaugeMetricFamily(
        "smartcard_nudges_due", "Issues whose next reminder is due and not yet sent.", value=due.count()
    )
