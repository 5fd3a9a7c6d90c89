"""The email provider failing, with a real SMTP server (aiosmtpd) that refuses mail, under a real
worker sending through Django's SMTP backend: each message is tried again with backoff, then shows
as failed (the outbox row and the issue's timeline), and nothing is dropped silently; a provider
that comes back gets each message once (issue 10, part 4)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.faults.conftest import Stack
from tests.faults.stack import Web, free_port, wait_for
from tests.faults.test_redis import report

pytestmark = pytest.mark.faults


class Provider:
    """An SMTP server that answers 451 (try again later) to the first `refuse` messages."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.tries = 0
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.tries += 1
        if self.tries <= self.refuse:
            return "451 4.3.0 Mail server temporarily unavailable"
        self.accepted.append(bytes(envelope.original_content or b""))
        return "250 2.0.0 OK"


@pytest.fixture
def smtp() -> Iterator[Any]:
    servers: list[Controller] = []

    def start(refuse: int) -> tuple[Provider, int]:
        provider = Provider(refuse)
        port = free_port()
        controller = Controller(provider, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        return provider, port

    yield start
    for controller in servers:
        controller.stop()


def smtp_worker(stack: Stack, port: int, attempts: int) -> None:
    stack.worker(
        TEST_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        EMAIL_TIMEOUT="5",
        OUTBOX_MAX_ATTEMPTS=str(attempts),
        OUTBOX_RETRY_BASE_SECONDS="0.2",
    )


def ask_the_ra(stack: Stack) -> tuple[str, Web]:
    seeded = stack.seed()
    web = stack.web()
    reference = str(web.post("/api/v1/issues/", json=report(str(seeded["ods"]), "Card locked")).json()["reference"])
    moved = web.post(
        f"/api/v1/issues/{reference}/transitions/", json={"transition": "contact_ra", "question": "Please unlock."}
    )
    assert moved.status_code == 200, moved.text
    return reference, web


def test_a_provider_that_keeps_refusing_leaves_each_email_visibly_failed(stack: Stack, smtp: Any) -> None:
    provider, port = smtp(refuse=10_000)
    smtp_worker(stack, port, attempts=3)
    reference, web = ask_the_ra(stack)

    def settled() -> list[tuple[Any, ...]]:
        rows = stack.database.rows("SELECT status, attempts, last_error FROM mail_outboundemail")
        return rows if rows and all(status == "failed" for status, _, _ in rows) else []

    rows = wait_for(settled, timeout=60, what="every email to be given up on")
    assert all(attempts == 3 and "451" in error for _, attempts, error in rows)  # tried, and tried again
    assert provider.tries == 3 * len(rows) and provider.accepted == []
    page = web.get(f"/issues/{reference}/")
    assert page.status_code == 200
    assert "could not be sent after 3 tries" in page.text and "451" in page.text


def test_a_provider_that_comes_back_gets_each_email_once(stack: Stack, smtp: Any) -> None:
    provider, port = smtp(refuse=2)
    smtp_worker(stack, port, attempts=5)
    ask_the_ra(stack)

    def sent() -> list[tuple[Any, ...]]:
        rows = stack.database.rows("SELECT status, attempts FROM mail_outboundemail")
        return rows if rows and all(status == "sent" for status, _ in rows) else []

    rows = wait_for(sent, timeout=60, what="every email to be sent once the provider takes mail again")
    assert len(provider.accepted) == len(rows)  # once each
    assert provider.tries == len(rows) + 2
    assert sum(attempts for _, attempts in rows) == len(rows) + 2
