"""The API reference (/api/docs/) in Chromium: Swagger UI from the site itself, under the site's CSP.

Anonymous visitors are asked to log in; logged in, Swagger UI loads the schema, lists every operation
and runs one with "Try it out", with no CSP violation, console error, failed or foreign request, and
no accessibility violation.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import PASSWORD, assert_accessible
from tests.e2e.test_accounts_browser import PageProblems
from tests.issues.factories import IssueFactory, PharmacyFactory, UserFactory
from tests.issues.test_api_schema import OPERATIONS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_shows_the_api_reference_with_swagger_ui_after_logging_in(page, live_server, axe):
    problems = PageProblems(page, live_server.url)
    problems.expected_statuses["/api/docs/"] = 403
    pharmacist = UserFactory.create(email="reader@example.org")
    issue = IssueFactory.create(pharmacy=PharmacyFactory.create(staff=[pharmacist]), reporter=pharmacist)

    page.goto("/api/docs/")
    expect(page.locator("h1")).to_have_text("Log in to read the API reference")
    assert_accessible(axe, page)
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email address").fill(pharmacist.email)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    del problems.expected_statuses["/api/docs/"]
    with page.expect_response(lambda response: urlsplit(response.url).path == "/api/schema/") as schema:
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/api/docs/")

    assert schema.value.status == 200
    # One level-one heading: Swagger UI's information block, which repeats it, is hidden (api-docs.css).
    expect(page.get_by_role("heading", level=1)).to_have_text("Smartcard Route API reference")
    summaries = page.locator(".swagger-ui .opblock-summary")
    expect(summaries).to_have_count(len(OPERATIONS))
    shown = {
        (
            summary.locator(".opblock-summary-path").get_attribute("data-path"),
            summary.locator(".opblock-summary-method").inner_text().lower(),
        )
        for summary in summaries.all()
    }
    assert shown == OPERATIONS
    assert_accessible(axe, page)

    # "Try it out" sends the request with the login session and shows the API's answer.
    page.locator("#operations-v1-v1_issues_list .opblock-summary-control").click()
    page.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda response: urlsplit(response.url).path == "/api/v1/issues/") as answer:
        page.get_by_role("button", name="Execute").click()
    assert answer.value.status == 200
    expect(page.locator(".live-responses-table tbody .response-col_status")).to_have_text("200")
    expect(page.locator(".live-responses-table")).to_contain_text(issue.reference)
    problems.assert_none(page)
