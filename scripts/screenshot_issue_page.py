#!/usr/bin/env python
"""Take docs/screenshots/issue-page.png: a demo issue's page, photographed in Debian's Chromium.

It stands up a throwaway Smartcard Route (SQLite and var/ in a temporary folder, the demo data of
`manage.py seed_demo`, the outbox delivered to Django's in-memory mail backend so the timeline
shows the emails as sent), logs in as the demo pharmacy owner, opens the page of the demo issue
"New ODS code not on the team's cards" and saves a full-page screenshot. Nothing outside the
temporary folder is touched, except the screenshot.

    .venv/bin/python scripts/screenshot_issue_page.py                 # docs/screenshots/issue-page.png
    .venv/bin/python scripts/screenshot_issue_page.py --out x.png
    .venv/bin/python scripts/screenshot_issue_page.py --pages var/shots  # also every issue page, for review

Needs /usr/bin/chromium and the Python dependencies (make setup); never downloads a browser.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHROMIUM = "/usr/bin/chromium"
ISSUE_SUMMARY = "New ODS code not on the team's cards"
OWNER_EMAIL = "pharmacy.owner@example.com"
STAFF_EMAIL = "pharmacy.staff@example.com"

# Every outbox row queued by the demo is delivered at once (to the in-memory backend), so the
# timeline shows the requests as sent, as it would once the Celery worker had run.
DELIVER_OUTBOX = """
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import outbound_email_send
for pk in OutboundEmail.objects.filter(status="queued").values_list("pk", flat=True):
    outbound_email_send(email_id=pk)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> None:
    command = [PYTHON, "manage.py", *args]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - our own manage.py


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback server
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The server did not answer at {url} within {timeout:.0f} seconds.")


def log_in(page: object, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login/")  # type: ignore[attr-defined]
    page.fill("input[name=username]", email)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


def open_issue(page: object, base: str, summary: str) -> None:
    page.goto(f"{base}/issues/?state=all")  # type: ignore[attr-defined]
    page.locator("tr", has_text=summary).get_by_role("link").first.click()  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


def photograph(base: str, out: Path, pages_dir: Path | None, password: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
        page = context.new_page()
        log_in(page, base, OWNER_EMAIL, password)
        open_issue(page, base, ISSUE_SUMMARY)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        print(f"Saved {out}")
        if pages_dir is not None:
            review_pages(context, base, pages_dir, password)
        browser.close()


def review_pages(context: object, base: str, folder: Path, password: str) -> None:
    """Every issue page once, as the staff member and the owner would see it, for a visual review."""
    folder.mkdir(parents=True, exist_ok=True)
    page = context.new_page()  # type: ignore[attr-defined]
    for who in (STAFF_EMAIL,):
        context.clear_cookies()  # type: ignore[attr-defined]
        log_in(page, base, who, password)
        shots = {
            "list": "/issues/",
            "report-kind": "/issues/report/",
        }
        for name, path in shots.items():
            page.goto(base + path)
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        for index, summary in enumerate(
            [
                "Card locked after three wrong passcodes",
                "Certificates expire next week",
                "Add the locum code FFFFF to my card",
                "Card lost on the way to work",
                "Pharmacist role missing after the move",
                "Locked card, no email on my profile",
            ]
        ):
            open_issue(page, base, summary)
            page.screenshot(path=str(folder / f"issue-{index}.png"), full_page=True)
        open_issue(page, base, "Card locked after three wrong passcodes")
        page.get_by_role("button", name="Contact the RA").click()
        page.screenshot(path=str(folder / "contact-ra.png"), full_page=True)
    print(f"Saved the review pages in {folder}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "issue-page.png")
    parser.add_argument("--pages", type=Path, default=None, help="also photograph every issue page into this folder")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")

    password = "Screenshot-demo-2026"  # noqa: S105 - a throwaway database, deleted at the end
    with tempfile.TemporaryDirectory(prefix="smartcard-screenshot-") as folder:
        var = Path(folder)
        for sub in ("broker/out", "broker/processed", "static"):
            (var / sub).mkdir(parents=True)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "smartcard_route.test_settings",
            "VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
            "CELERY_BROKER_URL": "filesystem://",
            "DEMO_PASSWORD": password,
            "SITE_URL": "http://127.0.0.1",
        }
        for name in ("REDIS_URL", "DEMO_STAFF_EMAIL", "DEMO_OWNER_EMAIL"):
            env.pop(name, None)
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        manage(env, "seed_demo", "--quiet")
        manage(env, "shell", "-c", DELIVER_OUTBOX)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 - our own manage.py
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(f"{base}/login/")
            photograph(base, args.out.resolve(), args.pages, password)
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
