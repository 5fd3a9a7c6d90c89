"""Fixtures of the mail layer's tests (the inbound and tracking tests also star-import the personas
of tests/issues/inbound_fixtures.py)."""

from tests.mail.esp_double import flaky_esp  # noqa: F401
