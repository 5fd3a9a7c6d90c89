"""What the browser tests share: signing in through the log-in page, and axe-core's verdict on a
page. The `axe` fixture is in tests/e2e/conftest.py; Chromium's `page` in tests/test_smoke_browser's
fixtures (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

# The project's pinned axe-core when npm has installed it, else the copy bundled with the library.
AXE_CORE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct-horse-battery"  # tests/issues/factories.UserFactory's


def new_axe() -> Axe:
    return Axe.from_file(AXE_CORE) if AXE_CORE.exists() else Axe()  # type: ignore[return-value]


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Sign in afresh (whoever was signed in before is signed out) through the log-in page."""
    page.context.clear_cookies()
    page.goto("/login/")
    page.locator("[name=username]").fill(email)
    page.locator("[name=password]").fill(password)
    page.locator("form button[type=submit]", has_text="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def assert_accessible(axe: Axe, page: Any) -> None:
    """axe-core finds no violation on the page as it is now."""
    results = axe.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
