"""/metrics: what Prometheus scrapes (docs/operations.md, "Metrics and alerts").

Three kinds of figure, each from where it can be known:

- requests by view and status, and their latency: django-prometheus' middleware, in each web
  process (added up across gunicorn's workers when PROMETHEUS_MULTIPROC_DIR is set);
- Celery task failures and the worker's last beat: counted by the worker in the monitoring cache
  (smartcard_route.monitoring), read here;
- gauges of the database (the outbox, inbound posts, the sweep's lag): computed at each scrape by
  collectors, each a few queries on a partial index (their modules say which). The mail layer's are
  the plumbing's own; an app above registers its own with `register_collector` (issues does, from
  issues.correspondence.hooks), so the plumbing imports no app.

A collector that fails (the database is down) costs its own figures only: the scrape still answers,
with `smartcard_metrics_collector_up{collector=...} 0` saying whose figures are missing.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

import prometheus_client
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from smartcard_route import monitoring
from smartcard_route.mail.metrics import mail_metrics

logger = logging.getLogger(__name__)

Collect = Callable[[datetime], Iterable[Metric]]

_collectors: dict[str, Collect] = {"mail": mail_metrics}


def register_collector(name: str, collect: Collect) -> None:
    """Add a scrape-time collector (a function of the scrape's moment yielding metric families)."""
    _collectors[name] = collect


def worker_metrics(now: datetime) -> Iterator[Metric]:
    failures = CounterMetricFamily(
        "smartcard_celery_task_failures", "Celery tasks that ended in an exception, by task.", labels=["task"]
    )
    for task, n in sorted(monitoring.task_failures().items()):
        failures.add_metric([task], n)
    yield failures
    beat = monitoring.worker_beat(now=now)
    yield GaugeMetricFamily(
        "smartcard_worker_last_beat_timestamp_seconds",
        f"When the worker last finished its heartbeat task ({monitoring.HEARTBEAT}); 0 if never seen.",
        value=beat.last_run.timestamp() if beat.last_run else 0.0,
    )


class _ScrapeCollector(Collector):
    def __init__(self, collectors: dict[str, Collect]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        up = GaugeMetricFamily(
            "smartcard_metrics_collector_up", "1 when this collector's figures are in the scrape.", labels=["collector"]
        )
        for name, collect in self.collectors.items():
            try:
                families = list(collect(now))
            except Exception:
                logger.warning("metrics: the %s collector failed", name, exc_info=True)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


def metrics_text() -> bytes:
    """The exposition: the processes' own metrics (requests), then the scrape-time ones."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        own = prometheus_client.generate_latest(processes)
    else:
        own = prometheus_client.generate_latest(prometheus_client.REGISTRY)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_ScrapeCollector({"worker": worker_metrics, **_collectors}))
    return own + prometheus_client.generate_latest(scrape)


CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST


class Access:
    ALLOWED = "allowed"
    UNAUTHORISED = "unauthorised"  # 401: a token is configured and none (or a wrong one) was given
    HIDDEN = "hidden"  # 404: metrics are off, or only an allow-list is set and this address is not on it


def metrics_access(request: HttpRequest) -> str:
    """Who may scrape: the bearer token METRICS_TOKEN, or an address in METRICS_ALLOWED_IPS."""
    token: str = settings.METRICS_TOKEN
    allowed: list[str] = settings.METRICS_ALLOWED_IPS
    if not token and not allowed:
        return Access.HIDDEN
    if allowed and _address_allowed(request.META.get("REMOTE_ADDR", ""), allowed):
        return Access.ALLOWED
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), token.encode()):
            return Access.ALLOWED
        return Access.UNAUTHORISED
    return Access.HIDDEN


def _address_allowed(address: str, allowed: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in allowed)
