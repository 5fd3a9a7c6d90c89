"""In Chromium: the figures page (/dashboard/figures/). With JavaScript, each table has a Chart.js
chart beside it, drawn from the table (the chart's labels and numbers are the table's); without
JavaScript the tables are there, with the numbers the seeded events imply, and no chart. axe-core
finds no violation with the charts or without them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import time_machine
from playwright.sync_api import expect

from smartcard_route.dates import day_in_words
from tests.e2e.browser import assert_accessible, log_in
from tests.issues import figures_data

URL = "/dashboard/figures/?weeks=4"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seeded() -> Iterator[figures_data.Seeded]:
    with time_machine.travel(figures_data.NOW, tick=True):
        yield figures_data.seed()


def table_series(page, table_id: str) -> dict[str, object]:
    """What the table says: its row headers, and the numbers of each data-series column."""
    return page.evaluate(
        """(id) => {
            const table = document.getElementById(id);
            const headers = Array.from(table.tHead.rows[0].cells);
            const rows = Array.from(table.tBodies[0].rows);
            const series = headers.map((h, i) => [h, i]).filter(([h]) => h.hasAttribute("data-series"))
                .map(([, i]) => rows.map((r) => r.cells[i].dataset.value))
                .map((texts) => texts.map((text) => (text === "" ? null : Number(text))));
            return {labels: rows.map((r) => r.cells[0].textContent.trim()), series};
        }""",
        table_id,
    )


def chart_series(page, table_id: str) -> dict[str, object]:
    """What the chart beside the table was drawn with (Chart.js's own record of its data)."""
    return page.evaluate(
        """(id) => {
            const canvas = document.querySelector(`[data-chart-for="${id}"] canvas`);
            const chart = Chart.getChart(canvas);
            return {labels: chart.data.labels, series: chart.data.datasets.map((d) => d.data)};
        }""",
        table_id,
    )


def test_it_draws_each_chart_from_the_table_beside_it(page, axe, seeded):
    log_in(page, seeded.cpe_it.email)
    page.goto(URL)
    for table_id in ("figure-per-week", "figure-per-step", "figure-per-ra"):
        canvas = page.locator(f'[data-chart-for="{table_id}"] canvas')
        expect(canvas).to_have_count(1)
        assert canvas.bounding_box()["height"] > 50  # type: ignore[index]
        assert chart_series(page, table_id) == table_series(page, table_id)
    want = figures_data.expected(figures_data.all_issues(seeded))
    assert table_series(page, "figure-per-week")["series"] == [
        [opened for _w, opened, _r in want["per_week"]],
        [resolved for _w, _o, resolved in want["per_week"]],
    ]
    assert_accessible(axe, page)


def test_it_reads_as_tables_without_javascript(browser, live_server, seeded):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, seeded.officer.email)
        page.goto(URL)
        want = figures_data.expected(figures_data.visible_to_officer(seeded))
        rows = page.locator("#figure-per-week tbody tr")
        expect(rows).to_have_count(4)
        for n, (week, opened, resolved) in enumerate(want["per_week"]):
            expect(rows.nth(n).locator("th")).to_have_text(f"Week of {day_in_words(week)}")
            expect(rows.nth(n).locator("td").nth(0)).to_have_text(str(opened))
            expect(rows.nth(n).locator("td").nth(1)).to_have_text(str(resolved))
        expect(page.locator("#figure-per-ra tbody tr th")).to_have_text(["York RA", "Leeds RA"])
        expect(page.locator("canvas")).to_have_count(0)
    finally:
        context.close()


def test_it_passes_axe_with_the_tables_alone(page, axe, seeded):
    """axe needs JavaScript to run: the page without its charts is the page with figures.js refused."""
    page.route("**/js/figures.js", lambda route: route.abort())
    log_in(page, seeded.officer.email)
    page.goto(URL)
    expect(page.locator("#figure-per-step tbody tr")).to_have_count(5)
    expect(page.locator("canvas")).to_have_count(0)
    assert_accessible(axe, page)


def test_it_shows_the_error_summary_for_a_nonsense_period(page, axe, seeded):
    log_in(page, seeded.cpe_it.email)
    response = page.goto("/dashboard/figures/?weeks=400")
    assert response is not None and response.status == 400
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Choose a period of the last 4, 13 or 52 weeks")
    assert_accessible(axe, page)
