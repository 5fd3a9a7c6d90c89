"""The layout, the accounts pages and the error pages in Chromium.

Every page visited must load with no Content Security Policy violation, no console error, no failed
request and nothing fetched from another host; NHS.UK frontend's JavaScript must have started; and
axe-core must find no accessibility violation.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from directory.models import User
from tests.e2e.browser import assert_accessible, log_in

PASSWORD = "correct-horse-battery-staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Chromium reports every CSP violation to the page as an event; this records them for the test.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


class PageProblems:
    """What went wrong while pages loaded: console errors, failed requests, requests elsewhere."""

    def __init__(self, page, live_server_url: str) -> None:
        self.origin = urlsplit(live_server_url).netloc
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []
        self.foreign_requests: list[str] = []
        self.expected_statuses: dict[str, int] = {}
        page.on("console", self._on_console)
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)
        page.on("request", self._on_request)
        page.add_init_script(RECORD_CSP_VIOLATIONS)

    def _on_console(self, message) -> None:
        if message.type == "error" and not self._is_expected_error_page_status(message.text):
            self.console_errors.append(message.text)

    def _is_expected_error_page_status(self, text: str) -> bool:
        # Chromium logs "Failed to load resource: ... status of 404" for an error page we asked for.
        return any(f"status of {status}" in text for status in self.expected_statuses.values())

    def _on_request_failed(self, request) -> None:
        # Leaving a page cancels what it was still loading (often the favicon): not a failure.
        if request.failure != "net::ERR_ABORTED":
            self.failed_requests.append(f"{request.url} {request.failure}")

    def _on_request(self, request) -> None:
        if urlsplit(request.url).scheme in ("http", "https") and urlsplit(request.url).netloc != self.origin:
            self.foreign_requests.append(request.url)

    def _on_response(self, response) -> None:
        path = urlsplit(response.url).path
        if response.status >= 400 and self.expected_statuses.get(path) != response.status:
            self.failed_requests.append(f"{response.url} {response.status}")

    def assert_none(self, page) -> None:
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], violations
        assert self.console_errors == [], self.console_errors
        assert self.failed_requests == [], self.failed_requests
        assert self.foreign_requests == [], self.foreign_requests


@pytest.fixture
def problems(page, live_server) -> PageProblems:
    return PageProblems(page, live_server.url)


@pytest.fixture
def member(transactional_db: None) -> User:
    return User.objects.create_user("alice@pharmacy.example", PASSWORD, full_name="Alice Patel")


def assert_nhsuk_frontend_started(page) -> None:
    """site.js imported NHS.UK frontend and ran initAll (the inline script set the body classes)."""
    page.wait_for_function(
        "document.querySelector('[data-module=\"nhsuk-header\"]')?.hasAttribute('data-nhsuk-header-init')"
    )
    assert "nhsuk-frontend-supported" in (page.locator("body").get_attribute("class") or "")


def assert_assets_of_the_page_load(page) -> None:
    """Every asset the page and its stylesheets refer to (icons, manifest, CSS images) answers 200 here."""
    local_urls = set(
        page.evaluate(
            """[...document.querySelectorAll('link[href], script[src], img[src]')]
                 .map((el) => el.href || el.src)"""
        )
    )
    for stylesheet in page.evaluate("[...document.styleSheets].map((sheet) => sheet.href).filter(Boolean)"):
        css = page.request.get(stylesheet).text()
        for reference in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", css):
            if not reference.startswith(("data:", "http:", "https:", "#")):
                local_urls.add(urljoin(stylesheet, reference))
    origin = urlsplit(page.url).netloc
    checked = 0
    for url in sorted(local_urls):
        if urlsplit(url).netloc != origin:
            continue
        response = page.request.get(url)
        assert response.status == 200, f"{url} answered {response.status}"
        checked += 1
    assert checked >= 8  # stylesheets, site.js, the favicons, the manifest and the CSS's icons


def test_it_loads_the_public_pages_cleanly_and_accessibly(page, problems, axe):
    for path, heading in [
        ("/", "Get a Smartcard problem fixed"),
        ("/login/", "Log in to Smartcard Route"),
        ("/password-reset/", "Reset your password"),
        ("/password-reset/sent/", "Check your email"),
        ("/password-reset/done/", "Your password has been changed"),
    ]:
        page.goto(path)
        assert page.locator("h1").inner_text() == heading
        assert_nhsuk_frontend_started(page)
        assert_accessible(axe, page)
    assert_assets_of_the_page_load(page)
    problems.assert_none(page)


def test_it_shows_login_errors_accessibly_and_focuses_the_summary(page, problems, axe, member):
    page.goto("/login/")
    page.locator("[name=username]").fill(member.email)
    page.locator("[name=password]").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_visible()
    assert page.title().startswith("Error: ")
    # NHS.UK frontend moves focus to the error summary; its link leads to the field.
    page.wait_for_function("document.activeElement.classList.contains('nhsuk-error-summary')")
    summary.get_by_role("link").click()
    page.wait_for_function("document.activeElement.name === 'username'")
    assert_accessible(axe, page)
    problems.assert_none(page)


def test_it_reveals_the_password_with_the_show_button(page, problems, member):
    page.goto("/login/")
    page.locator("[name=password]").fill("a secret")

    page.get_by_role("button", name="Show password").click()

    assert page.locator("[name=password]").get_attribute("type") == "text"
    problems.assert_none(page)


def test_it_logs_in_and_out_through_the_header(page, problems, axe, member):
    log_in(page, member.email, PASSWORD)

    assert page.locator(".nhsuk-header__account").inner_text().count("Alice Patel") == 1
    assert page.get_by_role("link", name="Directory").first.is_visible()
    assert_accessible(axe, page)

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    expect(page.locator("main")).to_contain_text("You have logged out")
    assert page.locator(".nhsuk-header__account").count() == 0
    assert_accessible(axe, page)
    problems.assert_none(page)


def test_it_shows_the_lock_out_page_accessibly(page, problems, axe, member):
    problems.expected_statuses["/login/"] = 429
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        page.goto("/login/")
        page.locator("[name=username]").fill(member.email)
        page.locator("[name=password]").fill("wrong-password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()

    expect(page.locator("h1")).to_have_text("You cannot log in for now")
    assert_accessible(axe, page)
    problems.assert_none(page)


def test_it_shows_the_404_page_cleanly_and_accessibly(page, problems, axe):
    problems.expected_statuses["/no-such-page/"] = 404

    response = page.goto("/no-such-page/")

    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert_nhsuk_frontend_started(page)
    assert_accessible(axe, page)
    problems.assert_none(page)


@pytest.mark.urls("tests.test_pages")
def test_it_shows_the_403_and_500_pages_cleanly_and_accessibly(page, problems, axe, member):
    log_in(page, member.email, PASSWORD)
    problems.expected_statuses.update({"/test/forbidden/": 403, "/test/broken/": 500})

    response = page.goto("/test/forbidden/")
    assert response is not None and response.status == 403
    assert page.locator("h1").inner_text() == "You cannot do this"
    assert_nhsuk_frontend_started(page)
    assert_accessible(axe, page)

    response = page.goto("/test/broken/")
    assert response is not None and response.status == 500
    assert page.locator("h1").inner_text() == "Sorry, there is a problem with the service"
    # The 500 page is drawn without the request, yet its inline script runs under the nonce.
    assert_nhsuk_frontend_started(page)
    assert_accessible(axe, page)
    problems.assert_none(page)
