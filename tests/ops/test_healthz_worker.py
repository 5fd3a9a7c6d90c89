"""/healthz reports the worker's last beat (issue 11, part 5): the nudge sweep task records when it
last ran in the monitoring cache; the answer says ok, stale or unknown, and stays 200 (503 is for
the database and the broker, as before)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from issues import tasks
from smartcard_route import monitoring

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_it_says_unknown_before_the_worker_has_ever_beaten(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["worker"] == "unknown"
    assert response.json()["worker_last_beat"] is None


@time_machine.travel(NOW, tick=False)
def test_the_nudge_sweep_task_records_the_beat_that_healthz_shows(client):
    tasks.nudge_sweep()

    body = client.get("/healthz").json()

    assert body["worker"] == "ok"
    assert datetime.fromisoformat(body["worker_last_beat"]) == NOW


def test_it_says_stale_once_the_beat_is_older_than_the_setting_and_stays_200(client, settings):
    settings.WORKER_BEAT_STALE_AFTER_SECONDS = 300
    with time_machine.travel(NOW, tick=False):
        tasks.nudge_sweep()
    with time_machine.travel(NOW + timedelta(seconds=299), tick=False):
        assert client.get("/healthz").json()["worker"] == "ok"
    with time_machine.travel(NOW + timedelta(seconds=301), tick=False):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["worker"] == "stale"
    assert datetime.fromisoformat(response.json()["worker_last_beat"]) == NOW


def test_a_beat_recorded_by_another_process_is_seen_here(client):
    # The worker is another process (often another machine): the beat goes through the shared cache.
    code = (
        "import django; django.setup();"
        "from smartcard_route import monitoring;"
        "monitoring.beat_record(name=monitoring.HEARTBEAT)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=_child_environment(), timeout=60)

    assert client.get("/healthz").json()["worker"] == "ok"
    assert monitoring.worker_beat().last_run is not None


def _child_environment() -> dict[str, str]:
    import os

    return {**os.environ, "DJANGO_SETTINGS_MODULE": "smartcard_route.test_settings"}
