"""Fixtures of the browser tests (helpers in tests/e2e/browser.py)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.browser import new_axe


@pytest.fixture
def axe() -> Axe:
    return new_axe()
