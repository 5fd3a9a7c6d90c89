"""PostgreSQL restarted, frozen, or holding a lock, under the running site (gunicorn): /healthz
answers 503 meanwhile, no request hangs past its timeout (DB_CONNECT_TIMEOUT,
DB_STATEMENT_TIMEOUT_MS), and the site recovers by itself, the same gunicorn, once the database
is back (issue 10, part 4)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.faults.conftest import Stack
from tests.faults.stack import wait_for

pytestmark = pytest.mark.faults

LIST = "/issues/"


def test_the_site_answers_503_while_postgresql_is_down_and_recovers_by_itself(stack: Stack) -> None:
    stack.seed()
    web = stack.web()
    assert web.probe().status_code == 200
    assert web.get(LIST).status_code == 200
    gunicorn = web.process.pid if web.process else None

    stack.postgres.stop("fast")  # every connection cut, new ones refused

    down = web.probe()  # answered (REQUEST_TIMEOUT), not hung
    health = down.json()
    assert down.status_code == 503
    assert (health["status"], health["database"], health["broker"]) == ("unavailable", "unavailable", "ok")
    with_a_session = web.get("/healthz")  # a browser's, with its cookie
    assert with_a_session.status_code == 503 and with_a_session.json()["database"] == "unavailable"
    page = web.get(LIST)
    assert page.status_code == 500 and "Sorry, there is a problem with the service" in page.text
    api = web.get("/api/v1/issues/")
    assert api.status_code == 500

    stack.postgres.start()

    wait_for(lambda: web.probe().status_code == 200, timeout=30, what="/healthz to recover")
    assert web.get(LIST).status_code == 200  # the same session, the same server
    assert web.get("/api/v1/issues/").status_code == 200
    assert web.process is not None and web.process.pid == gunicorn and web.process.poll() is None


def test_a_frozen_postgresql_costs_a_request_its_connect_timeout_not_a_hang(stack: Stack) -> None:
    """The server process stopped (SIGSTOP): connections are accepted by the kernel and never
    answered, so only connect_timeout (DB_CONNECT_TIMEOUT, 2 s here) ends the wait."""
    stack.seed()
    web = stack.web()
    assert web.probe().status_code == 200
    postmaster = stack.postgres.postmaster_pid

    os.kill(postmaster, signal.SIGSTOP)
    try:
        frozen = web.probe()
        page = web.get(LIST)
    finally:
        os.kill(postmaster, signal.SIGCONT)

    assert frozen.status_code == 503 and frozen.json()["database"] == "unavailable"
    assert page.status_code == 500
    wait_for(lambda: web.probe().status_code == 200, timeout=30, what="/healthz to recover")
    assert web.get(LIST).status_code == 200


def test_a_statement_stuck_behind_a_lock_is_cancelled_by_statement_timeout(stack: Stack) -> None:
    """A lock held elsewhere (a migration, a stuck transaction) would hold the page for ever:
    statement_timeout (DB_STATEMENT_TIMEOUT_MS, 3 s here) cancels it, the page answers an error,
    and the next request, once the lock is gone, is served."""
    stack.seed()
    web = stack.web()
    assert web.get(LIST).status_code == 200
    holder = stack.postgres.connect(stack.database.name)
    holder.autocommit = False
    try:
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLE issues_issue IN ACCESS EXCLUSIVE MODE")
        stuck = web.get(LIST)
        assert web.probe().status_code == 200  # the database itself is fine
    finally:
        holder.rollback()
        holder.close()

    assert stuck.status_code == 500
    assert web.get(LIST).status_code == 200
