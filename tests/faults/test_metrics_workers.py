"""/metrics under gunicorn's several workers (docs/operations.md): with PROMETHEUS_MULTIPROC_DIR
set, each worker process writes its request counters to the folder and a scrape, whichever worker
answers it, adds up every worker's (smartcard_route.metrics.metrics_text). Without it, a scrape
would show only the counters of the worker that answered. On the fault tests' private stack: a
real gunicorn with two workers."""

from __future__ import annotations

import re

import pytest
import requests

from tests.faults.conftest import Stack
from tests.faults.stack import REQUEST_TIMEOUT, wait_for

pytestmark = pytest.mark.faults

TOKEN = "metrics-token-for-the-multiprocess-test"
REQUESTS = 60


def healthz_count(text: str) -> float:
    """The requests counted to /healthz's view, over every process (django-prometheus's counter)."""
    found = re.findall(r"^django_http_responses_total_by_status_view_method_total\{([^}]*)\} (\S+)$", text, re.M)
    return sum(float(value) for labels, value in found if 'view="healthz"' in labels)


def test_a_scrape_adds_up_the_requests_of_every_worker(stack: Stack) -> None:
    folder = stack.tmp / "prometheus"
    folder.mkdir()
    web = stack.web(workers=2, PROMETHEUS_MULTIPROC_DIR=str(folder), METRICS_TOKEN=TOKEN)
    for _ in range(REQUESTS):
        # A new connection each time, so the two workers share them as the kernel hands them out.
        assert requests.get(web.url("/healthz"), timeout=REQUEST_TIMEOUT).status_code in (200, 503)
    # Both workers answered some of them: each wrote its own counter file (counter_<pid>.db).
    pids = wait_for(
        lambda: {path.stem.rsplit("_", 1)[1] for path in folder.glob("counter_*.db")} or None,
        what="the workers' counter files",
    )
    assert len(pids) >= 2, f"one worker answered every request: {sorted(pids)}\n{web.log()}"
    for _ in range(4):  # whichever worker answers the scrape, it counts them all
        scraped = requests.get(
            web.url("/metrics"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=REQUEST_TIMEOUT
        )
        assert scraped.status_code == 200
        assert healthz_count(scraped.text) >= REQUESTS
