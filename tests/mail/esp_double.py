"""A test double for the email service provider (ESP): django-anymail's own test backend, made to
fail the first `FlakyEspBackend.failures_left` sends with the error a real ESP's API gives."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused


class FlakyEspBackend(AnymailTestBackend):
    failures_left = 0
    refuse_recipients = False
    calls = 0
    _lock = threading.Lock()

    @classmethod
    def reset(cls, *, failures: int = 0, refuse_recipients: bool = False) -> None:
        with cls._lock:
            cls.failures_left, cls.refuse_recipients, cls.calls = failures, refuse_recipients, 0

    def get_esp_message_id(self, message: Any) -> str:
        return f"esp-{super().get_esp_message_id(message)}"

    def post_to_esp(self, payload: Any, message: Any) -> Any:
        cls = type(self)
        with cls._lock:
            cls.calls += 1
            if cls.refuse_recipients:
                raise AnymailRecipientsRefused("All message recipients were rejected.")
            if cls.failures_left > 0:
                cls.failures_left -= 1
                raise AnymailAPIError("ESP API error: 503 Service Unavailable")
        return super().post_to_esp(payload, message)


@pytest.fixture
def flaky_esp(settings: Any) -> Iterator[type[FlakyEspBackend]]:
    """Django's mail API sends through FlakyEspBackend for the test (reset before and after)."""
    settings.EMAIL_BACKEND = f"{__name__}.FlakyEspBackend"
    FlakyEspBackend.reset()
    yield FlakyEspBackend
    FlakyEspBackend.reset()
