"""The figures the worker keeps (issues.services.figures, FiguresSnapshot): CPE IT's figures and
closed counts, and each LPC's officers' figures, read from the snapshot, equal to those worked out
from the rows when it was taken, said to be as at that moment, not changed by what happens until
the next refresh, and said to be possibly out of date when old. An officer never reads another
LPC's snapshot, nor the national one; a scope that is not one LPC's is worked out for the request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine

from directory.models import LPC
from issues.models import FiguresSnapshot, Issue, State
from issues.selectors.figures import (
    PERIOD_WEEKS,
    figures_for,
    figures_from_json,
    figures_to_json,
    lpc_figures,
    national_figures,
)
from issues.services.figures import figures_refresh
from issues.tasks import refresh_figures
from tests.issues import figures_data
from tests.issues.factories import IssueFactory, PharmacyFactory

URL = "/dashboard/figures/"


@pytest.fixture
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(figures_data.NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def seeded(db: None, frozen: time_machine.Traveller) -> figures_data.Seeded:
    return figures_data.seed()


def _numbers(figures) -> dict:
    """The figures' numbers, without when and how they were worked out."""
    data = figures_to_json(figures)
    for key in ("snapshot_at", "scope", "closed_by_state", "area_closed_by_state"):
        data.pop(key)
    return data


def _report_one(seeded) -> None:
    IssueFactory.create(pharmacy=seeded.issues[0].pharmacy, lpc_involved_at=figures_data.NOW)


def test_it_keeps_a_snapshot_of_every_period_as_worked_out_from_the_rows(seeded):
    snapshots = figures_refresh()
    national = [s for s in snapshots if s.lpc_id is None]
    assert sorted(s.weeks for s in national) == sorted(PERIOD_WEEKS)
    for weeks in PERIOD_WEEKS:
        live = national_figures(weeks=weeks)
        read = figures_for(user=seeded.cpe_it, weeks=weeks)
        assert read.snapshot_at == figures_data.NOW
        assert _numbers(read) == _numbers(live)
    # And the numbers are those the events imply (tests/issues/figures_data, not the selector).
    want = figures_data.expected(figures_data.all_issues(seeded))
    got = figures_for(user=seeded.cpe_it, weeks=4)
    assert [(w.week, w.opened, w.resolved) for w in got.weeks] == want["per_week"]
    assert got.resolved == want["resolved"]


def test_it_reads_back_what_it_wrote(seeded):
    figures = national_figures(weeks=13)
    assert figures_to_json(figures_from_json(figures_to_json(figures))) == figures_to_json(figures)


def test_cpe_its_figures_change_at_the_next_refresh_not_before(seeded, frozen):
    figures_refresh()
    before = sum(w.opened for w in figures_for(user=seeded.cpe_it, weeks=4).weeks)
    _report_one(seeded)
    assert sum(w.opened for w in figures_for(user=seeded.cpe_it, weeks=4).weeks) == before
    frozen.shift(timedelta(minutes=10))
    assert refresh_figures() == 3 * len(PERIOD_WEEKS)  # the beat task: national, North's, South's
    after = figures_for(user=seeded.cpe_it, weeks=4)
    assert sum(w.opened for w in after.weeks) == before + 1
    assert after.snapshot_at == figures_data.NOW + timedelta(minutes=10)


def test_an_officers_figures_are_their_lpcs_snapshot_as_worked_out_from_their_scope(seeded):
    figures_refresh()
    for weeks in PERIOD_WEEKS:
        read = figures_for(user=seeded.officer, weeks=weeks)
        assert read.snapshot_at == figures_data.NOW and read.scope == "North LPC"
        # What the officer would see worked out now from their own scope: the same numbers.
        assert _numbers(read) == _numbers(figures_for(user=seeded.officer, weeks=weeks, now=figures_data.NOW))
    # And the numbers the events imply for North's involved issues alone (not the selector's).
    want = figures_data.expected(figures_data.visible_to_officer(seeded))
    got = figures_for(user=seeded.officer, weeks=4)
    assert [(w.week, w.opened, w.resolved) for w in got.weeks] == want["per_week"]
    assert got.resolved == want["resolved"]
    # Never another LPC's nor the national numbers.
    south = figures_for(user=seeded.other_officer, weeks=4)
    assert south.scope == "South LPC"
    assert _numbers(south) != _numbers(got)
    assert sum(w.opened for w in got.weeks) < sum(w.opened for w in figures_for(user=seeded.cpe_it, weeks=4).weeks)


def test_an_officers_snapshot_changes_at_the_next_refresh_not_before(seeded, frozen):
    figures_refresh()
    before = sum(w.opened for w in figures_for(user=seeded.officer, weeks=4).weeks)
    _report_one(seeded)  # a North pharmacy, the LPC involved
    assert sum(w.opened for w in figures_for(user=seeded.officer, weeks=4).weeks) == before
    frozen.shift(timedelta(minutes=10))
    refresh_figures()
    assert sum(w.opened for w in figures_for(user=seeded.officer, weeks=4).weeks) == before + 1


def test_a_scope_wider_than_one_lpc_is_worked_out_for_each_request(seeded):
    """An officer who is also a pharmacy's staff sees that pharmacy's issues too, and an officer of
    two LPCs both: no LPC's snapshot is their scope, so theirs are worked out for them."""
    figures_refresh()
    staff_too = seeded.other_officer
    own = PharmacyFactory.create(name="Own Pharmacy", staff=[staff_too])
    IssueFactory.create(pharmacy=own, created_at=figures_data.NOW - timedelta(days=1))
    south_snapshot = FiguresSnapshot.objects.get(lpc__name="South LPC", weeks=4)
    figures = figures_for(user=staff_too, weeks=4)
    assert figures.snapshot_at is None and figures.scope is None
    assert sum(w.opened for w in figures.weeks) == sum(row[1] for row in south_snapshot.data["per_week"]) + 1
    two_lpcs = seeded.officer
    LPC.objects.get(name="South LPC").officers.add(two_lpcs)
    both = figures_for(user=two_lpcs, weeks=4)
    assert both.snapshot_at is None
    north_alone = lpc_figures(lpc=LPC.objects.get(name="North LPC"), weeks=4)
    assert sum(w.opened for w in both.weeks) > sum(w.opened for w in north_alone.weeks)


def test_an_lpc_without_officers_keeps_no_snapshot(seeded):
    figures_refresh()
    south = LPC.objects.get(name="South LPC")
    south.officers.clear()
    figures_refresh()
    assert not FiguresSnapshot.objects.filter(lpc=south).exists()
    assert FiguresSnapshot.objects.filter(lpc__name="North LPC").count() == len(PERIOD_WEEKS)


def test_without_a_snapshot_cpe_its_figures_are_worked_out_for_the_request(seeded):
    assert not FiguresSnapshot.objects.exists()
    figures = figures_for(user=seeded.cpe_it, weeks=4)
    assert figures.snapshot_at is None
    assert _numbers(figures) == _numbers(national_figures(weeks=4))


def test_the_page_says_when_the_national_figures_were_worked_out(client, seeded, frozen):
    figures_refresh()
    client.force_login(seeded.cpe_it)
    html = client.get(URL, {"weeks": 4}).content.decode()
    assert "Figures for every LPC as at Thursday 26 November, 12:00" in html
    assert "worked out again every 10 minutes" in html
    assert "may be out of date" not in html
    frozen.shift(timedelta(minutes=31))  # FIGURES_STALE_MINUTES is 30
    html = client.get(URL, {"weeks": 4}).content.decode()
    assert "These figures may be out of date" in html and "worker may have stopped" in html
    # The officer's page names their LPC's figures.
    client.force_login(seeded.officer)
    frozen.shift(timedelta(minutes=-31))
    assert "Figures for North LPC as at Thursday 26 November, 12:00" in client.get(URL, {"weeks": 4}).content.decode()


def test_the_api_says_when_the_national_figures_were_worked_out(client, seeded):
    figures_refresh()
    client.force_login(seeded.cpe_it)
    body = client.get("/api/v1/figures/", {"weeks": 4}).json()
    assert body["snapshot_at"] is not None and body["snapshot_at"].startswith("2026-11-26T12:00")
    assert body["scope"] == "every LPC"
    client.force_login(seeded.officer)
    body = client.get("/api/v1/figures/", {"weeks": 4}).json()
    assert body["snapshot_at"].startswith("2026-11-26T12:00") and body["scope"] == "North LPC"


def test_the_cpe_dashboard_counts_closed_issues_with_the_snapshot_and_open_ones_now(client, seeded):
    figures_refresh()
    resolved_then = FiguresSnapshot.objects.get(lpc=None, weeks=13).data["closed_by_state"][State.RESOLVED]
    assert resolved_then == Issue.objects.filter(state=State.RESOLVED).count()
    in_pharmacy_then = Issue.objects.filter(state=State.IN_PHARMACY).count()
    IssueFactory.create(pharmacy=seeded.issues[0].pharmacy, state=State.IN_PHARMACY)
    IssueFactory.create(pharmacy=seeded.issues[0].pharmacy, state=State.RESOLVED, resolved_at=figures_data.NOW)
    client.force_login(seeded.cpe_it)
    html = client.get("/dashboard/cpe-it/").content.decode()
    counts = {row[0]: int(row[1]) for row in _state_count_rows(html)}
    assert counts["Resolved"] == resolved_then  # as counted with the snapshot
    assert counts["Trying to fix it in the pharmacy"] == in_pharmacy_then + 1  # counted now
    assert "Resolved and withdrawn issues as counted at Thursday 26 November, 12:00" in html


def _state_count_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table class="nhsuk-table app-state-counts">.*?</table>', html, re.S)
    assert table
    rows = re.findall(r"<tr class=\"nhsuk-table__row\">(.*?)</tr>", table.group(0).split("<tbody")[1], re.S)
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


def test_the_cpe_it_figures_page_reads_the_snapshot_in_a_few_queries(client, seeded, django_assert_max_num_queries):
    figures_refresh()
    client.force_login(seeded.cpe_it)
    with django_assert_max_num_queries(6):
        assert client.get(URL, {"weeks": 52}).status_code == 200


def test_an_officers_figures_page_reads_the_snapshot_in_a_few_queries(client, seeded, django_assert_max_num_queries):
    figures_refresh()
    client.force_login(seeded.officer)
    with django_assert_max_num_queries(8):
        assert client.get(URL, {"weeks": 52}).status_code == 200


def _area_by_state(html: str) -> dict[str, list[int]]:
    """The LPC dashboard's "Issues in your area by status": each status's [in the area, involved]."""
    table = re.search(
        r"<table class=\"nhsuk-table app-area-counts\">\s*<caption[^>]*>Issues in your area by status<.*?</table>",
        html,
        re.S,
    )
    assert table
    rows = re.findall(r'<th scope="row" class="nhsuk-table__cell">(.*?)</th>(.*?)</tr>', table.group(0), re.S)
    return {
        label.strip(): [int(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        for label, cells in rows
    }


def test_the_lpc_dashboard_counts_its_areas_closed_issues_with_the_snapshot_and_open_ones_now(client, seeded):
    north = LPC.objects.get(name="North LPC")
    area = Issue.objects.filter(pharmacy__lpc=north)

    def counted(state: str) -> list[int]:
        return [area.filter(state=state).count(), area.filter(state=state, lpc_involved_at__isnull=False).count()]

    client.force_login(seeded.officer)
    before = client.get("/dashboard/lpc/").content.decode()
    assert _area_by_state(before)["Resolved"] == counted(State.RESOLVED)  # no snapshot yet: all counted now
    assert "as counted at" not in before

    figures_refresh()
    resolved_then, in_pharmacy_then = counted(State.RESOLVED), counted(State.IN_PHARMACY)
    assert resolved_then[0] > resolved_then[1] > 0  # the area holds issues the LPC is not involved in
    assert (
        FiguresSnapshot.objects.get(lpc=north, weeks=13).data["area_closed_by_state"][State.RESOLVED] == resolved_then
    )
    pharmacy = seeded.issues[0].pharmacy
    assert pharmacy.lpc == north
    IssueFactory.create(pharmacy=pharmacy, state=State.IN_PHARMACY)
    IssueFactory.create(
        pharmacy=pharmacy, state=State.RESOLVED, resolved_at=figures_data.NOW, lpc_involved_at=figures_data.NOW
    )

    html = client.get("/dashboard/lpc/").content.decode()
    counts = _area_by_state(html)
    assert counts["Resolved"] == resolved_then  # as counted with the snapshot
    assert counts["Trying to fix it in the pharmacy"] == [in_pharmacy_then[0] + 1, in_pharmacy_then[1]]  # counted now
    assert "Resolved and withdrawn issues as counted at Thursday 26 November, 12:00" in html
    body = client.get("/api/v1/dashboards/lpc/").json()
    assert body["counts"]["closed_as_of"].startswith("2026-11-26T12:00")
    assert {row["key"]: [row["area"], row["involved"]] for row in body["counts"]["by_state"]}[
        State.RESOLVED
    ] == resolved_then


def test_an_officer_of_two_lpcs_has_both_areas_closed_counts_added_up(client, seeded):
    figures_refresh()
    both = Issue.objects.filter(pharmacy__lpc__name__in=["North LPC", "South LPC"], state=State.RESOLVED)
    LPC.objects.get(name="South LPC").officers.add(seeded.officer)
    client.force_login(seeded.officer)
    IssueFactory.create(pharmacy=seeded.issues[0].pharmacy, state=State.RESOLVED, resolved_at=figures_data.NOW)
    html = client.get("/dashboard/lpc/").content.decode()
    assert _area_by_state(html)["Resolved"] == [both.count() - 1, both.filter(lpc_involved_at__isnull=False).count()]
    assert "as counted at" in html


def test_an_lpc_without_a_snapshot_has_its_officers_counts_all_counted_now(client, seeded):
    figures_refresh()
    west = LPC.objects.create(name="West LPC", code="WST")
    west.officers.add(seeded.officer)  # no snapshot for West until the next refresh
    PharmacyFactory.create(lpc=west)
    client.force_login(seeded.officer)
    IssueFactory.create(pharmacy=seeded.issues[0].pharmacy, state=State.RESOLVED, resolved_at=figures_data.NOW)
    html = client.get("/dashboard/lpc/").content.decode()
    north_resolved = Issue.objects.filter(pharmacy__lpc__name="North LPC", state=State.RESOLVED).count()
    assert _area_by_state(html)["Resolved"][0] == north_resolved  # the new one included: counted now
    assert "as counted at" not in html
