"""/healthz: 200 when the database and the broker answer, 503 when either does not.

The failures are real ones, not mocks:
- broker down: the Celery app's broker URL points at a local port where a socket is bound but
  nobody listens, so connecting is refused at once (the same as a stopped Redis);
- broker hung: a server accepts the connection and never answers, so only the timeout ends the wait;
- database down: the request runs in a thread of its own, whose database connection (Django keeps one
  per thread) is pointed at that refused port, or at a file SQLite cannot open. The check then fails
  exactly as it would in production, while the test's own connection and test database stay intact.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from smartcard_route import views
from smartcard_route.celery import app as celery_app


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A local TCP port that refuses connections for as long as the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local TCP port that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


@pytest.fixture
def broker_at():
    """Point the Celery app's broker at another URL for one test, then put it back."""
    saved = {key: celery_app.conf[key] for key in ("broker_url", "broker_write_url", "broker_read_url")}

    def point(url: str) -> None:
        celery_app.conf.update(broker_url=url, broker_write_url=url, broker_read_url=url)

    yield point
    celery_app.conf.update(saved)


def _get_healthz_in_own_thread(database: dict[str, Any]) -> Any:
    """GET /healthz from a thread whose database connection uses these settings."""
    result: dict[str, Any] = {}

    def run() -> None:
        connection = connections["default"]
        connection.settings_dict = {**connection.settings_dict, **database}
        try:
            result["response"] = Client().get("/healthz")
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the health check hung"
    return result["response"]


def _unreachable_database(port: int) -> dict[str, Any]:
    if connections["default"].vendor == "sqlite":
        return {"NAME": "/nonexistent-directory/smartcard_route.sqlite3"}
    return {"HOST": "127.0.0.1", "PORT": port, "OPTIONS": {"connect_timeout": 2}}


def checks(response: Any) -> dict[str, str]:
    """The answer's checks of the database and broker (the worker's beat is tests/ops/test_healthz_worker.py's)."""
    return {key: value for key, value in response.json().items() if key in ("status", "database", "broker")}


@pytest.mark.django_db
def test_it_answers_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert checks(response) == {"status": "ok", "database": "ok", "broker": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_needs_no_login_and_no_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/healthz")

    assert response.status_code == 200


@pytest.mark.django_db
def test_it_answers_503_when_the_broker_refuses_connections(client, broker_at, refused_port):
    broker_at(f"redis://127.0.0.1:{refused_port}/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert checks(response) == {"status": "unavailable", "database": "ok", "broker": "unavailable"}


@pytest.mark.django_db
def test_it_gives_up_on_a_broker_that_never_answers(client, broker_at, silent_port, monkeypatch):
    monkeypatch.setattr(views, "HEALTH_CHECK_TIMEOUT_SECONDS", 0.3)
    broker_at(f"redis://127.0.0.1:{silent_port}/0")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_the_database_does_not_answer(refused_port):
    response = _get_healthz_in_own_thread(_unreachable_database(refused_port))

    assert response.status_code == 503
    assert checks(response) == {"status": "unavailable", "database": "unavailable", "broker": "ok"}


@pytest.mark.django_db(transaction=True)
def test_it_checks_the_database_of_the_request_thread(refused_port):
    # The control for the test above: the same thread, with the connection left as configured.
    response = _get_healthz_in_own_thread({})

    assert response.status_code == 200
