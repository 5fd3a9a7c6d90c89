"""The figures (issues.selectors.figures, the page /dashboard/figures/ and its tables): the numbers
the seeded events imply (tests/issues/figures_data.expected, computed from the events), scope, the
period choice, and the query count with many rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine

from issues.models import State, Step
from issues.selectors.figures import figures_for, figures_period
from smartcard_route.dates import day_in_words
from tests.issues import figures_data
from tests.issues.factories import IssueFactory, PharmacyFactory

URL = "/dashboard/figures/"


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(figures_data.NOW, tick=False):
        yield


@pytest.fixture
def seeded(db: None, frozen: None) -> figures_data.Seeded:
    return figures_data.seed()


def _cells(html: str, table_id: str) -> list[list[str]]:
    """The body rows of one table of the page, as the text of their cells."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert table, f"no table {table_id}"
    body = re.search(r"<tbody.*?</tbody>", table.group(0), re.S)
    assert body
    rows = re.findall(r"<tr.*?</tr>", body.group(0), re.S)
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def test_it_starts_the_period_on_the_monday_of_the_first_whole_week(frozen):
    period = figures_period(weeks=4)
    assert period.week_starts[0].isoformat() == "2026-11-02"
    assert period.week_starts[-1].isoformat() == "2026-11-23"
    assert len(figures_period(weeks=52).week_starts) == 52
    with pytest.raises(ValueError):
        figures_period(weeks=5)


@pytest.mark.parametrize("who", ["cpe_it", "officer"])
def test_it_computes_the_figures_the_events_imply(seeded, who):
    user = getattr(seeded, who)
    ids = figures_data.all_issues(seeded) if who == "cpe_it" else figures_data.visible_to_officer(seeded)
    want = figures_data.expected(ids)
    got = figures_for(user=user, weeks=4)

    assert [(w.week, w.opened, w.resolved) for w in got.weeks] == want["per_week"]
    assert got.resolved == want["resolved"]
    for step in got.steps:
        if step.step in want["per_step"]:
            count, share, median = want["per_step"][step.step]
            assert (step.resolved, round(100 * (step.share or 0)), round(step.median_days or 0, 1)) == (
                count,
                share,
                median,
            )
        else:
            assert (step.resolved, step.median_days) == (0, None)
    assert {ra.ra_id for ra in got.ras} == set(want["per_ra"])
    for ra in got.ras:
        row = want["per_ra"][ra.ra_id]
        assert ra.requests == row["requests"]
        assert ra.unanswered == row["unanswered"]
        assert (round(ra.median_reply_days, 1) if ra.median_reply_days is not None else None) == row["median"]
        share = ra.within_window_share
        assert (round(100 * share) if share is not None else None) == row["within"]


def test_it_knows_the_seeded_figures_by_hand(seeded):
    """The same figures worked out by hand for CPE IT, so `expected` itself is checked."""
    got = figures_for(user=seeded.cpe_it, weeks=4)
    assert [(w.opened, w.resolved) for w in got.weeks] == [(5, 3), (3, 3), (4, 2), (2, 2)]
    by_step = {s.step: s for s in got.steps}
    assert by_step[Step.RA].resolved == 4
    # Leeds, in working days: Mon 2 11:00 -> Wed 4 11:00 (2), Tue 3 10:00 -> 15:00 (0.625), none,
    # Mon 16 -> Fri 20 (4), Wed 18 -> Thu 19 (1), none (asked today), Thu 5 -> Fri 13 (6), and
    # South's Mon 2 -> Fri 20 (14): median of 0.625, 1, 2, 4, 6, 14 is 3.
    leeds = next(ra for ra in got.ras if ra.ra_id == seeded.leeds.pk)
    assert (leeds.requests, leeds.answered, leeds.unanswered) == (8, 6, 2)
    assert leeds.median_reply_days == pytest.approx(3)
    # Within 2 working days: 3 of the 7 requests answered or whose window is over (not today's).
    assert (leeds.within_window, leeds.decided) == (3, 7)


def test_it_sorts_the_ras_slowest_first(seeded):
    got = figures_for(user=seeded.cpe_it, weeks=4)
    medians = [ra.median_reply_days for ra in got.ras]
    assert medians == sorted(medians, key=lambda m: -(m or 0))


def test_it_never_counts_another_lpcs_issues_for_an_officer(seeded):
    south = figures_for(user=seeded.other_officer, weeks=4)
    north = figures_for(user=seeded.officer, weeks=4)
    assert sum(w.opened for w in south.weeks) == 2
    assert [ra.requests for ra in south.ras] == [1]  # South's one request to Leeds, not North's
    assert sum(w.opened for w in north.weeks) == 10
    assert {ra.ra_id: ra.requests for ra in north.ras} == {seeded.leeds.pk: 6, seeded.york.pk: 2}


def test_it_shows_the_tables_the_events_imply(client, seeded):
    client.force_login(seeded.officer)
    response = client.get(URL, {"weeks": 4})
    assert response.status_code == 200
    html = response.content.decode()
    want = figures_data.expected(figures_data.visible_to_officer(seeded))
    assert _cells(html, "figure-per-week") == [
        [f"Week of {day_in_words(week)}", str(opened), str(resolved)] for week, opened, resolved in want["per_week"]
    ]
    steps = {row[0]: row[1:] for row in _cells(html, "figure-per-step")}
    for step in Step:
        count, share, _median = want["per_step"].get(step.value, (0, 0, None))
        assert steps[step.label][0] == str(count)
        assert steps[step.label][1] == (f"{share}%" if want["resolved"] else "None yet")
    ras = _cells(html, "figure-per-ra")
    # York's median reply (5 and 0.25 working days: 2.6) is slower than Leeds's (2, 0.625, 4, 1: 1.5).
    assert [row[0] for row in ras] == ["York RA", "Leeds RA"]
    assert [row[2] for row in ras] == ["2.6 working days", "1.5 working days"]
    leeds = ras[1]
    assert leeds[1] == str(want["per_ra"][seeded.leeds.pk]["requests"])
    assert leeds[4] == str(want["per_ra"][seeded.leeds.pk]["unanswered"])
    assert 'data-chart-for="figure-per-week"' in html
    assert "/static/js/figures.js" in html


def test_it_draws_a_chart_from_each_table_with_the_numbers_in_data_values(client, seeded):
    client.force_login(seeded.cpe_it)
    html = client.get(URL, {"weeks": 4}).content.decode()
    assert re.search(r'<td[^>]*data-value="5"[^>]*>5</td>', html)  # week of 2 November: 5 opened
    assert 'data-chart="line"' in html and html.count("data-series") == 4


def test_it_answers_a_nonsense_period_with_the_error_summary(client, seeded):
    client.force_login(seeded.cpe_it)
    response = client.get(URL, {"weeks": "400"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "nhsuk-error-summary" in html
    assert "Choose a period of the last 4, 13 or 52 weeks" in html
    assert "figure-per-week" not in html


@pytest.mark.parametrize("weeks", ["", "13", "52"])
def test_it_offers_every_period(client, seeded, weeks):
    client.force_login(seeded.cpe_it)
    response = client.get(URL, {"weeks": weeks} if weeks else {})
    assert response.status_code == 200
    assert len(_cells(response.content.decode(), "figure-per-week")) == int(weeks or 13)


@pytest.mark.parametrize("persona", ["staff", "owner", "outsider", "directory_manager"])
def test_it_is_not_there_for_pharmacies_and_others(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 404


def test_it_asks_an_anonymous_visitor_to_log_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_shows_the_page_in_a_constant_number_of_queries(client, seeded, django_assert_max_num_queries):
    """Many issues resolved and RA requests in the period: still the same handful of queries."""
    for n in range(60):
        pharmacy = PharmacyFactory.create(lpc=seeded.issues[0].pharmacy.lpc)
        issue = IssueFactory.create(
            pharmacy=pharmacy,
            state=State.RESOLVED,
            created_at=figures_data.NOW - timedelta(days=n % 20 + 1),
            resolved_at=figures_data.NOW - timedelta(hours=n % 10 + 1),
            lpc_involved_at=figures_data.NOW - timedelta(days=30),
        )
        issue.events.create(
            kind="transition", data={"transition": "contact_ra", "ra_id": pharmacy.ra_id}, created_at=issue.created_at
        )
    # Before the worker's first snapshot, worked out from the rows (the officer's: +2 for whether
    # their scope is one LPC's and that LPC's snapshot, looked for).
    for user in (seeded.cpe_it, seeded.officer):
        client.force_login(user)
        with django_assert_max_num_queries(14):
            assert client.get(URL, {"weeks": 52}).status_code == 200


@pytest.mark.parametrize(("who", "dashboard"), [("officer", "/dashboard/lpc/"), ("cpe_it", "/dashboard/cpe-it/")])
def test_each_dashboard_shows_the_figures_of_its_viewer(client, seeded, who, dashboard):
    """The same tables on the dashboard as on the figures page, scoped to the viewer."""
    client.force_login(getattr(seeded, who))
    on_dashboard = client.get(dashboard, {"weeks": 4})
    assert on_dashboard.status_code == 200
    on_page = client.get(URL, {"weeks": 4}).content.decode()
    for table in ("figure-per-week", "figure-per-step", "figure-per-ra"):
        assert _cells(on_dashboard.content.decode(), table) == _cells(on_page, table)
    want = figures_data.expected(
        figures_data.visible_to_officer(seeded) if who == "officer" else figures_data.all_issues(seeded)
    )
    opened = [int(row[1]) for row in _cells(on_dashboard.content.decode(), "figure-per-week")]
    assert opened == [week_opened for _week, week_opened, _resolved in want["per_week"]]


@pytest.mark.parametrize("dashboard", ["/dashboard/lpc/", "/dashboard/cpe-it/"])
def test_a_dashboard_answers_a_nonsense_period_with_the_error_summary(client, seeded, dashboard):
    client.force_login(seeded.officer if "lpc" in dashboard else seeded.cpe_it)
    response = client.get(dashboard, {"weeks": "yesterday"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "nhsuk-error-summary" in html and "Choose a period of the last 4, 13 or 52 weeks" in html
    assert "figure-per-week" not in html
