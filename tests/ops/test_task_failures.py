"""Celery task failures are counted across processes (issue 11, part 5): the worker's task_failure
signal adds one in the monitoring cache (Redis in production), which /metrics reads in the web
process. A retry is not a failure."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from smartcard_route import monitoring
from smartcard_route.celery import app


@app.task(name="tests.ops.always_fails")
def always_fails() -> None:
    raise RuntimeError("this task always fails")


@app.task(name="tests.ops.succeeds")
def succeeds() -> int:
    return 1


@pytest.mark.celery_worker
def test_a_failing_task_run_by_a_real_worker_is_counted(celery_worker_thread):
    always_fails.delay()
    succeeds.delay()
    always_fails.delay()

    assert wait_for(lambda: monitoring.task_failures() == {"tests.ops.always_fails": 2}), monitoring.task_failures()


@pytest.mark.django_db
def test_failures_counted_in_other_processes_add_up_here():
    code = (
        "import django; django.setup();"
        "from smartcard_route.celery import app;"
        "from celery.signals import task_failure;"
        "from smartcard_route.mail import tasks;"
        "task_failure.send(sender=tasks.send_outbound_email, exception=None)"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "smartcard_route.test_settings"}
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code], check=True, env=environment, timeout=60)

    assert monitoring.task_failures() == {"smartcard_route.mail.tasks.send_outbound_email": 3}


def test_a_broken_cache_never_turns_a_task_failure_into_the_workers(monkeypatch):
    def broken(**kwargs: object) -> None:
        raise ConnectionError("cache down")

    warnings: list[str] = []
    monkeypatch.setattr(monitoring, "task_failure_count", broken)
    # (A Celery worker started earlier in this process may have reconfigured logging: record directly.)
    monkeypatch.setattr(monitoring.logger, "warning", lambda message, *args, **kw: warnings.append(message % args))

    monitoring.on_task_failure(sender=always_fails)  # does not raise

    assert warnings == ["could not count a failure of tests.ops.always_fails"]


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
