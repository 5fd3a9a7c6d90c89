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


_AXE = new_axe()


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Sign in afresh (whoever was signed in before is signed out) through the log-in page."""
    page.context.clear_cookies()
    page.goto("/login/")
    page.locator("[name=username]").fill(email)
    page.locator("[name=password]").fill(password)
    page.locator("form button[type=submit]", has_text="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


# axe-core's rules for WCAG 2.0, 2.1 and 2.2 at levels A and AA, and its best practices.
WCAG_22_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    "resultTypes": ["violations"],
}


def run_axe(page: Any, axe: Axe | None = None) -> list[str]:
    """axe-core's violations on the page as it is now, one report per violated rule (none: [])."""
    results = (axe or _AXE).run(page, options=WCAG_22_AA)
    return [
        f"  {violation['id']} ({violation['impact']}): {violation['help']}\n"
        + "\n".join(f"    {' '.join(map(str, n['target']))}: {n['failureSummary']}" for n in violation["nodes"][:5])
        for violation in results.response["violations"]
    ]


def assert_accessible(axe: Axe, page: Any) -> None:
    """axe-core finds no violation on the page as it is now."""
    results = axe.run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
