"""'Your pharmacy's issues' and the LPC and CPE IT dashboards: scope, filters, pages, query counts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from issues.models import Deadline, Issue, State
from tests.issues.factories import IssueFactory, PharmacyFactory

pytestmark = pytest.mark.django_db

LIST = reverse("issues:list")
LPC = reverse("dashboards:lpc")
CPE = reverse("dashboards:cpe_it")


def references(page: str, issues: list[Issue]) -> set[str]:
    return {issue.reference for issue in issues if f">{issue.reference}<" in page}


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_it_lists_the_open_issues_of_the_users_pharmacies_only(client, pharmacy, staff, outsider):
    mine = [
        IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state)
        for state in (State.IN_PHARMACY, State.LPC_CC)
    ]
    closed = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RESOLVED)
    theirs = IssueFactory.create(reporter=outsider, pharmacy=outsider.pharmacies.get())
    client.force_login(staff)
    page = client.get(LIST).content.decode()
    assert references(page, [*mine, closed, theirs]) == {issue.reference for issue in mine}
    assert "LPC involved" in page and "Trying to fix it in the pharmacy" in page
    assert "Your pharmacy&#39;s issues</h1>" in page and reverse("issues:report") in page


def test_it_offers_reporting_only_to_the_pharmacy_side(client, pharmacy, staff, cpe_it, directory_manager):
    IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    for user in (cpe_it, directory_manager):
        client.force_login(user)
        page = client.get(LIST).content.decode()
        assert ">Issues</h1>" in page and reverse("issues:report") not in page.split("<main")[1]


def test_it_filters_by_state_and_by_overdue(client, pharmacy, staff):
    late = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    Issue.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    waiting = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    fresh = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    resolved = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RESOLVED)
    every = [late, waiting, fresh, resolved]
    client.force_login(staff)

    page = client.get(LIST, {"state": "ra_contacted"}).content.decode()
    assert references(page, every) == {late.reference, waiting.reference}
    page = client.get(LIST, {"state": "open", "overdue": "on"}).content.decode()
    assert references(page, every) == {late.reference}
    assert "Overdue" in page
    page = client.get(LIST, {"state": "all"}).content.decode()
    assert references(page, every) == {issue.reference for issue in every}
    # A state that does not exist is an error in the error summary, not silently the open issues.
    response = client.get(LIST, {"state": "<script>"})
    page = response.content.decode()
    assert response.status_code == 400
    assert references(page, every) == set()
    assert "There is a problem" in page and 'href="#state"' in page
    assert "<script>" not in page


def test_it_shows_the_deadline_and_age_in_words(client, pharmacy, staff):
    IssueFactory.create(
        pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED, created_at=timezone.now() - timedelta(days=3)
    )
    client.force_login(staff)
    page = client.get(LIST).content.decode()
    assert "3\xa0days ago" in page or "3 days ago" in page
    assert "RA reply due by" in page and "2 working days" in page


def test_it_pages_the_list_with_numbered_links(client, pharmacy, staff):
    IssueFactory.create_batch(60, pharmacy=pharmacy, reporter=staff)
    client.force_login(staff)
    first = client.get(LIST).content.decode()
    assert "Showing 1 to 25 of 60" in first
    assert "nhsuk-pagination" in first and 'href="?page=3"' in first
    third = client.get(LIST, {"page": 3}).content.decode()
    assert "Showing 51 to 60 of 60" in third
    assert 'href="?page=2"' in third and 'rel="prev"' in third
    # A page beyond the end shows the last one rather than an error.
    assert "Showing 51 to 60 of 60" in client.get(LIST, {"page": 99}).content.decode()


def test_it_keeps_the_filters_in_the_page_links(client, pharmacy, staff):
    IssueFactory.create_batch(30, pharmacy=pharmacy, reporter=staff, state=State.CIS_SELF_SERVICE)
    client.force_login(staff)
    page = client.get(LIST, {"state": "cis_self_service"}).content.decode()
    assert 'href="?state=cis_self_service&amp;page=2"' in page


def test_it_reads_the_list_in_a_constant_number_of_queries(client, pharmacy, staff):
    IssueFactory.create_batch(3, pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    client.force_login(staff)
    few = queries_for(client, LIST)
    other_pharmacy = PharmacyFactory.create(staff=[staff])
    IssueFactory.create_batch(40, pharmacy=other_pharmacy, reporter=staff, state=State.LPC_CC)
    IssueFactory.create_batch(40, pharmacy=pharmacy, reporter=staff, state=State.ESCALATED)
    assert queries_for(client, LIST) == few
    assert few <= 9  # session, user, roles, scope (directory.roles.pharmacy_scope), count, page, RAs, LPCs, ...


def test_it_shows_the_lpc_dashboard_to_lpc_officers_only(client, staff, owner, cpe_it, directory_manager, lpc_officer):
    for user in (staff, owner, cpe_it, directory_manager):
        client.force_login(user)
        assert client.get(LPC).status_code == 403
    client.force_login(lpc_officer)
    assert client.get(LPC).status_code == 200


def test_it_puts_the_issues_waiting_on_the_lpc_first(client, pharmacy, staff, lpc_officer):
    escalated = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.ESCALATED)
    waiting_on_lpc = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    not_involved = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    client.force_login(lpc_officer)
    page = client.get(LPC).content.decode()
    assert page.index(waiting_on_lpc.reference) < page.index(escalated.reference)
    assert not_involved.reference not in page
    # Counts by state, of every issue of the LPC's area (tests/issues/test_lpc_dashboard.py has the rest).
    counts = page.split("Issues in your area by status")[1]
    assert "LPC involved" in counts and ">1<" in counts.replace(" ", "").replace("\n", "")


def test_it_reads_the_lpc_dashboard_in_a_constant_number_of_queries(client, pharmacy, staff, lpc_officer):
    IssueFactory.create_batch(2, pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    client.force_login(lpc_officer)
    few = queries_for(client, LPC)
    IssueFactory.create_batch(80, pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    assert queries_for(client, LPC) == few
    # The session, the user, the header's roles, the LPCs, two lists, four count tables, the figures
    # (6 worked out from the rows, with no snapshot yet; 3 to find the officer's LPC and its snapshot).
    assert few <= 19


def test_it_shows_escalations_awaiting_triage_to_cpe_it_only(
    client, pharmacy, staff, owner, lpc_officer, directory_manager, cpe_it
):
    for user in (staff, owner, lpc_officer, directory_manager):
        client.force_login(user)
        assert client.get(CPE).status_code == 403
    later = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.ESCALATED)
    sooner = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.ESCALATED)
    Issue.objects.filter(pk=sooner.pk).update(due_at=timezone.now() + timedelta(hours=1), due_kind=Deadline.CPE_TRIAGE)
    waiting_on_ra = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    client.force_login(cpe_it)
    page = client.get(CPE).content.decode()
    assert page.index(sooner.reference) < page.index(later.reference)
    assert waiting_on_ra.reference not in page.split("All issues, by status")[0]
    assert "CPE IT triage due by" in page


def test_it_reads_the_cpe_dashboard_in_a_constant_number_of_queries(client, pharmacy, staff, cpe_it):
    IssueFactory.create_batch(2, pharmacy=pharmacy, reporter=staff, state=State.ESCALATED)
    client.force_login(cpe_it)
    few = queries_for(client, CPE)
    IssueFactory.create_batch(80, pharmacy=pharmacy, reporter=staff, state=State.ESCALATED)
    IssueFactory.create_batch(40, pharmacy=pharmacy, reporter=staff, state=State.RESOLVED)
    assert queries_for(client, CPE) == few
    assert few <= 21  # tests/issues/test_cpe_dashboard.py pins it with every section full


def test_it_shows_the_same_status_and_deadline_as_the_issue_page(client, pharmacy, staff, lpc_officer, cpe_it):
    """A lost card waits to be sent to the RA; an overdue wait says since when, on every list."""
    lost = IssueFactory.create(pharmacy=pharmacy, reporter=staff, kind="lost_stolen_damaged")
    locked = IssueFactory.create(pharmacy=pharmacy, reporter=staff, kind="locked")
    late_lpc = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    late_cpe = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.ESCALATED)
    for late in (late_lpc, late_cpe):
        Issue.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(minutes=5))

    def row_of(page: str, issue: Issue) -> str:
        return page.split(f">{issue.reference}<")[1].split("</tr>")[0]

    client.force_login(staff)
    page = client.get(LIST).content.decode()
    assert "Ready to contact the RA" in row_of(page, lost)
    assert "Trying to fix it in the pharmacy" not in row_of(page, lost)
    assert "Trying to fix it in the pharmacy" in row_of(page, locked)
    assert "LPC action overdue since" in row_of(page, late_lpc) and "due by" not in row_of(page, late_lpc)
    client.force_login(lpc_officer)
    assert "LPC action overdue since" in row_of(client.get(LPC).content.decode(), late_lpc)
    client.force_login(cpe_it)
    assert "CPE IT triage overdue since" in row_of(client.get(CPE).content.decode(), late_cpe)


def test_the_dashboards_count_overdue_issues_and_link_to_them(client, cpe_it, pharmacy, staff):
    late = timezone.now() - timedelta(hours=1)
    IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED, due_at=late, due_kind="ra_reply")
    IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.ESCALATED, due_at=late, due_kind="cpe_triage")
    IssueFactory.create(
        pharmacy=pharmacy,
        reporter=staff,
        state=State.RA_CONTACTED,
        due_at=timezone.now() + timedelta(days=1),
        due_kind="ra_reply",
    )
    client.force_login(cpe_it)

    page = client.get(CPE).content.decode()

    row = page[page.index('?overdue=on"') :]
    assert re.search(r'nhsuk-table__cell--numeric">\s*2\s*<', row[: row.index("</tr>")])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"state": "banana"}, "state"),
        ({"kind": "x"}, "kind"),
        ({"reported_after": "31/02/2026"}, "reported_after"),
        ({"pharmacy": "999999"}, "pharmacy"),
        ({"reported_after": "2026-03-02", "reported_before": "2026-03-01"}, "reported_before"),
    ],
)
def test_a_nonsense_filter_answers_400_with_the_error_summary(client, pharmacy, staff, query, field):
    IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    client.force_login(staff)
    response = client.get(LIST, query)
    page = response.content.decode()
    assert response.status_code == 400
    assert "nhsuk-error-summary" in page and f'href="#{field}"' in page
    assert "No issues match." in page


def test_the_filters_stay_in_the_page_links(client, pharmacy, staff):
    IssueFactory.create_batch(30, pharmacy=pharmacy, reporter=staff, kind="locked", summary="a b")
    client.force_login(staff)
    page = client.get(LIST, {"kind": "locked", "q": "a b"}).content.decode()
    assert "of 30" in page
    assert re.search(r'href="\?[^"]*kind=locked[^"]*page=2"', page)


def test_lpc_officers_and_cpe_it_can_filter_by_lpc(client, lpc_officer, cpe_it, pharmacy, staff):
    mine = IssueFactory.create(pharmacy=pharmacy, reporter=staff, lpc_involved_at=timezone.now())
    other = IssueFactory.create(lpc_involved_at=timezone.now())
    client.force_login(lpc_officer)
    page = client.get(LIST, {"lpc": pharmacy.lpc_id}).content.decode()
    assert references(page, [mine, other]) == {mine.reference}
    assert client.get(LIST, {"lpc": other.pharmacy.lpc_id}).status_code == 400
    client.force_login(cpe_it)
    page = client.get(LIST, {"lpc": other.pharmacy.lpc_id}).content.decode()
    assert references(page, [mine, other]) == {other.reference}


def test_the_filtered_list_has_a_constant_number_of_queries(client, cpe_it, django_assert_max_num_queries):
    for _ in range(6):
        IssueFactory.create_batch(10, pharmacy=PharmacyFactory.create(), is_emergency=True)
    client.force_login(cpe_it)
    query = {"state": "all", "emergency": "on", "q": "a", "reported_after": "2000-01-01"}
    with django_assert_max_num_queries(9):
        few = client.get(LIST, query)
    assert few.status_code == 200
    ra = IssueFactory.create(is_emergency=True).pharmacy.ra_id
    with django_assert_max_num_queries(10):
        assert client.get(LIST, {**query, "ra": ra}).status_code == 200
