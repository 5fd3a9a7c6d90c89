"""The mail layer's gauges for /metrics (smartcard_route.metrics), computed when Prometheus scrapes.

Every query of a scrape is served by a partial index over the rows still in flight, so its cost
follows the backlog, not the size of the tables:

- outbox rows queued and sending, and the oldest queued one: `outbox_pending` (created_at, where
  status is queued or sending);
- inbound posts not read yet (received: awaiting parsing; failed: could not be read), and the
  oldest awaiting parsing: `inbound_post_unread` (received_at, where status is not read).

The outbox's rows in finished states (sent, delivered, failed, bounced, complained) are counted over
the whole table, which no index serves: that count is made at most once per
METRICS_OUTBOX_TOTALS_EVERY_SECONDS and kept in the monitoring cache for every web process.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.core.cache import caches
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from smartcard_route.mail.models import InboundPost, OutboundEmail

Status = OutboundEmail.Status
PENDING = (Status.QUEUED, Status.SENDING)
TOTALS_KEY = "outbox-totals"


def _age(now: datetime, since: datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since else 0.0


def outbox_counts() -> dict[str, int]:
    """Rows by status: the pending ones counted now (index outbox_pending), the rest as last counted."""
    pending = dict(
        OutboundEmail.objects.filter(status__in=PENDING)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    cache = caches["monitoring"]
    totals = cache.get(TOTALS_KEY)
    if totals is None:
        totals = dict(
            OutboundEmail.objects.exclude(status__in=PENDING)
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        cache.set(TOTALS_KEY, totals, timeout=settings.METRICS_OUTBOX_TOTALS_EVERY_SECONDS)
    counts = {status: 0 for status in Status.values}
    counts.update({status: n for status, n in totals.items() if status not in PENDING})
    counts.update(pending)
    return counts


def mail_metrics(now: datetime) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(
        "smartcard_outbox_emails",
        "Outbox rows by status (queued and sending counted at each scrape; the others every few minutes).",
        labels=["status"],
    )
    for status, n in outbox_counts().items():
        by_status.add_metric([status], n)
    yield by_status

    oldest_queued = (
        OutboundEmail.objects.filter(status=Status.QUEUED).order_by("created_at").values_list("created_at").first()
    )
    yield GaugeMetricFamily(
        "smartcard_outbox_oldest_queued_age_seconds",
        "Age of the oldest outbox row still queued (0 when none is).",
        value=_age(now, oldest_queued[0] if oldest_queued else None),
    )

    unread = dict(
        InboundPost.objects.exclude(status=InboundPost.Status.READ)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    posts = GaugeMetricFamily(
        "smartcard_inbound_posts_unread",
        "Inbound webhook posts not read: received (awaiting parsing) or failed (could not be read; CPE IT sees them).",
        labels=["status"],
    )
    for status in (InboundPost.Status.RECEIVED, InboundPost.Status.FAILED):
        posts.add_metric([status], unread.get(status, 0))
    yield posts

    oldest_unparsed = (
        InboundPost.objects.filter(status=InboundPost.Status.RECEIVED)
        .order_by("received_at")
        .values_list("received_at")
        .first()
    )
    yield GaugeMetricFamily(
        "smartcard_inbound_oldest_unparsed_age_seconds",
        "Age of the oldest inbound post awaiting parsing (0 when none is).",
        value=_age(now, oldest_unparsed[0] if oldest_unparsed else None),
    )
