"""The LPC officer's dashboard (/dashboard/lpc/, issues.selectors.lpc): what waits on the
LPC, overdue first; its other open issues; the counts of its whole area by state, per RA and per
kind; the ageing of open issues; its scope; its query count with many rows; the API's read."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from issues.models import OPEN_STATES, Deadline, EventKind, Issue, IssueEvent, Kind, State, TriageOutcome
from issues.selectors import lpc as lpc_selectors
from issues.services.figures import figures_refresh
from tests.issues.factories import IssueFactory, LPCFactory, PharmacyFactory, RegistrationAuthorityFactory, UserFactory

LONDON = ZoneInfo("Europe/London")
URL = "/dashboard/lpc/"
API_URL = "/api/v1/dashboards/lpc/"


def make(**fields: Any) -> Issue:
    issue: Issue = IssueFactory.create(**fields)
    return issue


@pytest.fixture
def other_lpc_issue(db):
    """Another LPC's issue waiting on that LPC, overdue: never on this officer's dashboard."""
    return make(state=State.LPC_CC, due_at=timezone.now() - timedelta(days=3), summary="Another LPC's problem")


@pytest.fixture
def area(pharmacy, lpc_officer, other_lpc_issue):
    """60 issues across 3 RAs and several kinds in the officer's LPC, in every state; the LPC is
    involved in those past ra_contacted."""
    ras = [
        pharmacy.ra,
        RegistrationAuthorityFactory.create(name="B RA"),
        RegistrationAuthorityFactory.create(name="C RA"),
    ]
    pharmacies = [pharmacy] + [PharmacyFactory.create(ra=ra, lpc=pharmacy.lpc) for ra in ras[1:]]
    kinds = [Kind.LOCKED, Kind.CERTIFICATES_EXPIRING, Kind.ROLES_POSITIONS, Kind.NEW_CARD]
    states = itertools.cycle(State.values)
    issues = []
    for n in range(60):
        state = next(states)
        issues.append(
            make(
                pharmacy=pharmacies[n % 3],
                kind=kinds[n % 4],
                state=state,
                lpc_involved_at=timezone.now() if state in (State.LPC_CC, State.ESCALATED) else None,
            )
        )
    return issues


def test_it_lists_what_waits_on_the_lpc_overdue_first_then_the_rest(pharmacy, lpc_officer, other_lpc_issue):
    now = timezone.now()
    later = make(pharmacy=pharmacy, state=State.LPC_CC, due_at=now + timedelta(days=2), summary="Later")
    late = make(pharmacy=pharmacy, state=State.LPC_CC, due_at=now - timedelta(days=1), summary="Late")
    later_still = make(
        pharmacy=pharmacy,
        state=State.LPC_CC,
        due_kind=Deadline.LPC_FOLLOW_UP,
        due_at=now + timedelta(days=4),
        summary="Follow-up",
    )
    returned = make(
        pharmacy=pharmacy,
        state=State.ESCALATED,
        triage_outcome=TriageOutcome.RETURNED_TO_LPC,
        due_kind=Deadline.NONE,
        summary="Returned",
    )
    with_cpe = make(pharmacy=pharmacy, state=State.ESCALATED, summary="With CPE IT")
    not_involved = make(pharmacy=pharmacy, state=State.RA_CONTACTED, summary="Not yet the LPC's")
    resolved = make(pharmacy=pharmacy, state=State.RESOLVED, lpc_involved_at=now, summary="Done")

    board = lpc_selectors.lpc_dashboard(user=lpc_officer, lpcs=lpc_selectors.lpcs_of_officer(user=lpc_officer))

    assert board.waiting_on_lpc == [late, later, later_still, returned]
    assert board.waiting_on_others == [with_cpe]
    shown = {*board.waiting_on_lpc, *board.waiting_on_others}
    assert not shown & {not_involved, resolved, other_lpc_issue}


def test_the_page_says_how_long_overdue_and_keeps_other_lpcs_and_uninvolved_issues_out(
    client, pharmacy, lpc_officer, other_lpc_issue
):
    late = make(pharmacy=pharmacy, state=State.LPC_CC, due_at=datetime(2026, 11, 25, 17, 0, tzinfo=LONDON))
    not_involved = make(pharmacy=pharmacy, state=State.RA_CONTACTED)
    client.force_login(lpc_officer)
    with time_machine.travel(datetime(2026, 12, 1, 17, 0, tzinfo=LONDON), tick=False):
        page = client.get(URL).content.decode()

    assert late.reference in page
    assert "LPC action overdue since Wednesday 25 November, 17:00 (4 working days)" in page
    assert not_involved.reference not in page
    assert other_lpc_issue.reference not in page
    assert "Another LPC's problem" not in page
    assert pharmacy.lpc.name in page


def test_it_counts_every_issue_of_the_area_and_nothing_outside_it(area, lpc_officer, other_lpc_issue):
    board = lpc_selectors.lpc_dashboard(user=lpc_officer, lpcs=lpc_selectors.lpcs_of_officer(user=lpc_officer))

    by_state = {row.key: (row.area, row.involved) for row in board.by_state}
    expected = Counter(issue.state for issue in area)
    assert by_state == {
        state: (expected[state], expected[state] if state in (State.LPC_CC, State.ESCALATED) else 0)
        for state in State.values
    }
    open_issues = [issue for issue in area if issue.state in OPEN_STATES]
    assert sum(row.area for row in board.by_ra) == len(open_issues)
    assert {row.label: row.area for row in board.by_ra} == dict(
        Counter(issue.pharmacy.ra.name for issue in open_issues)
    )
    assert {row.key: row.area for row in board.by_kind} == dict(Counter(issue.kind for issue in open_issues))
    assert sum(row.area for row in board.ageing) == len(open_issues)
    # The other LPC's issue is in no count.
    assert sum(row.area for row in board.by_state) == len(area)


def test_an_officer_of_several_lpcs_sees_all_theirs(pharmacy, lpc_officer, other_lpc_issue):
    other_lpc_issue.pharmacy.lpc.officers.add(lpc_officer)
    mine = make(pharmacy=pharmacy, state=State.LPC_CC)

    lpcs = lpc_selectors.lpcs_of_officer(user=lpc_officer)
    board = lpc_selectors.lpc_dashboard(user=lpc_officer, lpcs=lpcs)

    assert len(lpcs) == 2
    assert set(board.waiting_on_lpc) == {mine, other_lpc_issue}
    assert sum(row.area for row in board.by_state) == 2


def test_it_bands_open_issues_by_working_days_in_their_current_state(pharmacy, lpc_officer):
    now = datetime(2026, 11, 30, 12, 0, tzinfo=LONDON)  # a Monday

    def entered(state: str, at: datetime, *, changed: bool) -> Issue:
        # Changed: its last status change was `at` (Issue.state_changed_at, kept by the transitions:
        # tests/issues/test_transitions.py); not changed: it is in the state it was reported in.
        return make(
            pharmacy=pharmacy,
            state=state,
            created_at=at - timedelta(days=30) if changed else at,
            state_changed_at=at if changed else None,
        )

    entered(State.IN_PHARMACY, datetime(2026, 11, 30, 10, 0, tzinfo=LONDON), changed=False)  # 2 hours
    entered(State.RA_CONTACTED, datetime(2026, 11, 25, 12, 0, tzinfo=LONDON), changed=True)  # 3 working days
    entered(State.CIS_SELF_SERVICE, datetime(2026, 11, 20, 12, 0, tzinfo=LONDON), changed=False)  # 6
    entered(State.LPC_CC, datetime(2026, 11, 16, 12, 0, tzinfo=LONDON), changed=True)  # exactly 10
    entered(State.LPC_CC, datetime(2026, 11, 16, 12, 1, tzinfo=LONDON), changed=True)  # a minute short of 10
    entered(State.RESOLVED, datetime(2026, 10, 1, 12, 0, tzinfo=LONDON), changed=True)  # closed: not counted

    board = lpc_selectors.lpc_dashboard(user=lpc_officer, lpcs=lpc_selectors.lpcs_of_officer(user=lpc_officer), now=now)

    assert [(row.label, row.area, row.involved) for row in board.ageing] == [
        ("Less than 2 working days", 1, 0),
        ("2 to 5 working days", 1, 0),
        ("5 to 10 working days", 2, 1),
        ("10 working days or more", 1, 1),
    ]


def test_the_count_tables_link_to_the_filtered_lists_of_the_issues_the_lpc_sees(client, area, lpc_officer):
    client.force_login(lpc_officer)
    page = client.get(URL).content.decode()
    lpc = lpc_officer.lpcs.get()
    links = set(re.findall(r'href="(/issues/\?[^"]+)"', page.replace("&amp;", "&")))
    assert f"/issues/?state=lpc_cc&lpc={lpc.pk}" in links
    assert f"/issues/?state=open&ra={area[0].pharmacy.ra_id}&lpc={lpc.pk}" in links
    assert f"/issues/?state=open&kind=locked&lpc={lpc.pk}" in links
    # No link to a list of states the LPC is not involved in.
    assert not any("state=in_pharmacy" in link or "state=ra_contacted" in link for link in links)
    # Each link's list holds as many issues as the count beside it says.
    listed = client.get(f"/issues/?state=lpc_cc&lpc={lpc.pk}")
    assert listed.status_code == 200
    count = sum(1 for issue in area if issue.state == State.LPC_CC)
    assert f"of {count}</p>" in listed.content.decode()


def test_it_answers_in_a_constant_number_of_queries_with_many_rows(
    client, area, lpc_officer, django_assert_max_num_queries
):
    for issue in area[:20]:
        IssueEvent.objects.create(issue=issue, kind=EventKind.TRANSITION, to_state=issue.state)
    client.force_login(lpc_officer)
    # 12 for the dashboard; its figures worked out from the rows (no snapshot yet): 6, and 2 to
    # find the officer's LPC and look for its snapshot.
    with django_assert_max_num_queries(20):
        response = client.get(URL)
    assert response.status_code == 200
    figures_refresh()
    with django_assert_max_num_queries(15):  # the figures from the LPC's snapshot: 3
        assert client.get(URL).status_code == 200


def test_only_lpc_officers_have_the_dashboard(client, staff, owner, cpe_it):
    for user in (staff, owner, cpe_it):
        client.force_login(user)
        assert client.get(URL).status_code == 403
    client.logout()
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


# The API


def api_for(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_the_api_reads_the_dashboard(area, lpc_officer, other_lpc_issue, django_assert_max_num_queries):
    with django_assert_max_num_queries(18):  # 12 for the dashboard, 6 for its figures
        response = api_for(lpc_officer).get(API_URL)
    assert response.status_code == 200
    body = response.json()
    board = lpc_selectors.lpc_dashboard(user=lpc_officer, lpcs=lpc_selectors.lpcs_of_officer(user=lpc_officer))
    assert [item["reference"] for item in body["waiting_on_lpc"]] == [i.reference for i in board.waiting_on_lpc]
    assert [item["reference"] for item in body["waiting_on_others"]] == [i.reference for i in board.waiting_on_others]
    assert other_lpc_issue.reference not in response.content.decode()
    assert {row["key"]: row["area"] for row in body["counts"]["by_state"]} == {
        row.key: row.area for row in board.by_state
    }
    assert set(body["counts"]) == {"by_state", "by_ra", "by_kind", "ageing", "closed_as_of"}
    assert [lpc["name"] for lpc in body["lpcs"]] == [lpc_officer.lpcs.get().name]


def test_the_api_refuses_whoever_is_not_an_lpc_officer(staff, cpe_it):
    assert api_for(staff).get(API_URL).status_code == 403
    assert api_for(cpe_it).get(API_URL).status_code == 403
    assert APIClient().get(API_URL).status_code == 401


def test_another_lpcs_officer_sees_none_of_this_lpcs_issues(area, pharmacy):
    stranger = UserFactory.create(email="stranger@lpc.example")
    LPCFactory.create(officers=[stranger])
    board = lpc_selectors.lpc_dashboard(user=stranger, lpcs=lpc_selectors.lpcs_of_officer(user=stranger))
    assert board.waiting_on_lpc == [] and board.waiting_on_others == []
    assert sum(row.area for row in board.by_state) == 0
    body = api_for(stranger).get(API_URL).json()
    assert body["waiting_on_lpc"] == [] and body["counts"]["by_ra"] == []
