"""Fixtures shared by the whole suite: personas, the browser, and the worker's reads of inbound posts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mail.worker_double import InboundReads

CHROMIUM = Path("/usr/bin/chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise pytest.UsageError("REQUIRE_BROWSER=1 but /usr/bin/chromium is missing: apt-get install chromium")
    skip = pytest.mark.skip(reason="/usr/bin/chromium is not installed")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object, live_server: object) -> Iterator[object]:
    context = browser.new_context(base_url=live_server.url)  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def inbound_reads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[InboundReads | None]:
    """Every test but those marked `celery_worker` (a real worker takes the tasks there): the
    webhook's read tasks go to an InboundReads, never to the broker, where a worker of a later test
    could take them (no test sets CELERY_TASK_ALWAYS_EAGER). Other tasks are published as usual."""
    if request.node.get_closest_marker("celery_worker"):
        yield None
        return
    from django.core.signals import request_finished

    from smartcard_route.celery import app
    from smartcard_route.mail.services import READ_TASK

    reads = InboundReads()
    publish = app.send_task

    def send_task(name: str, args: Any = None, *more: Any, **options: Any) -> Any:
        if name != READ_TASK:
            return publish(name, args, *more, **options)
        [post_id] = args
        reads.enqueued.append(post_id)
        reads.pending.append(post_id)
        return None

    def after_request(**kwargs: Any) -> None:
        if reads.run_after_requests:
            reads.run()

    monkeypatch.setattr(app, "send_task", send_task)
    request_finished.connect(after_request, dispatch_uid="tests.inbound_reads")
    yield reads
    request_finished.disconnect(dispatch_uid="tests.inbound_reads")


@pytest.fixture
def celery_worker_thread(transactional_db: None) -> Iterator[object]:
    """A real Celery worker, in a thread of this process, consuming this test process's queue.

    It talks to the configured broker (Redis in CI, the filesystem transport elsewhere) and to the
    test database, so tests that use it need committed data (`transactional_db`).
    """
    from celery.contrib.testing.worker import start_worker

    from smartcard_route.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


# Personas (DESIGN.md, "People and what they may see"): one pharmacy with its owner organisation, RA
# and LPC, and a person in each role. Built with tests/issues/factories.py; use `db` or `transactional_db`.


@pytest.fixture
def pharmacy(db: None) -> object:
    from tests.issues.factories import PharmacyFactory

    return PharmacyFactory.create(name="Riverside Pharmacy", ods_code="FA123")


@pytest.fixture
def staff(pharmacy: object) -> object:
    """A member of the pharmacy's team."""
    from tests.issues.factories import UserFactory

    user = UserFactory.create(email="staff@riverside.example", full_name="Sam Patel")
    pharmacy.staff.add(user)  # type: ignore[attr-defined]
    return user


@pytest.fixture
def owner(pharmacy: object) -> object:
    """A member of the organisation that owns the pharmacy."""
    from tests.issues.factories import UserFactory

    user = UserFactory.create(email="owner@riverside.example", full_name="Olu Owner")
    pharmacy.owner.members.add(user)  # type: ignore[attr-defined]
    return user


@pytest.fixture
def lpc_officer(pharmacy: object) -> object:
    """An officer of the pharmacy's LPC."""
    from tests.issues.factories import UserFactory

    user = UserFactory.create(email="officer@lpc.example", full_name="Lee Officer")
    pharmacy.lpc.officers.add(user)  # type: ignore[attr-defined]
    return user


@pytest.fixture
def cpe_it(db: None) -> object:
    from tests.issues.factories import UserFactory

    return UserFactory.create(email="it@cpe.example", full_name="Casey IT", is_cpe_it=True)


@pytest.fixture
def outsider(db: None) -> object:
    """Staff of another pharmacy, with another owner, RA and LPC."""
    from tests.issues.factories import PharmacyFactory, UserFactory

    user = UserFactory.create(email="staff@elsewhere.example", full_name="Alex Elsewhere")
    PharmacyFactory.create(name="Elsewhere Pharmacy", ods_code="FZ999", staff=[user])
    return user


@pytest.fixture
def directory_manager(db: None) -> object:
    from tests.issues.factories import UserFactory

    return UserFactory.create(email="directory@cpe.example", full_name="Dee Directory", is_directory_manager=True)


@pytest.fixture
def issue(pharmacy: object, staff: object) -> object:
    """An issue just reported by `staff` (state in_pharmacy)."""
    from tests.issues.factories import IssueFactory

    return IssueFactory.create(pharmacy=pharmacy, reporter=staff)
