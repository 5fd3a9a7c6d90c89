"""Issue 9, part 4: the pages cost what the user can see (docs/benchmarks.md, "Pages").

What is tested here is behaviour, never time: the scope written as index-served parts
(smartcard_route.expressions.InIds) sees exactly what the scope did; a page read from the far end
(smartcard_route.pagination.EitherEndPaginator) holds exactly the rows of the same page read
forwards, ties included; the counts stay scoped and in one query; and deep pages, on the page and
in the API, cost the queries of the first page with many rows present.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from directory.models import Pharmacy
from directory.roles import forget_roles
from issues.models import Deadline, Issue, State
from issues.selectors import issue_counts, issue_list, issues_visible_to
from smartcard_route.expressions import InIds
from smartcard_route.pagination import EitherEndPaginator
from tests.issues.factories import IssueFactory, PharmacyFactory

LIST = "/issues/"
API_LIST = "/api/v1/issues/"
REFERENCE = re.compile(r'href="/issues/(SC-\d{6})/"')


def page_references(html: str, issues: list[Issue]) -> list[str]:
    """The references of these issues on the page, in order, each once."""
    known = {issue.reference for issue in issues}
    seen: list[str] = []
    for reference in REFERENCE.findall(html):
        if reference in known and reference not in seen:
            seen.append(reference)
    return seen


def many_issues(*, pharmacy: Pharmacy, staff: object, n: int, same_time_every: int = 3) -> list[Issue]:
    """n issues of this pharmacy, newest last, several sharing a creation time (the order's tie
    is then broken by pk, which a page read backwards must respect too)."""
    start = timezone.now() - timedelta(days=n)
    return [
        IssueFactory.create(pharmacy=pharmacy, reporter=staff, created_at=start + timedelta(hours=k // same_time_every))
        for k in range(n)
    ]


# The scope as index-served parts ----------------------------------------------------------------


def test_it_writes_the_scope_as_ids_an_index_can_serve(staff, pharmacy):
    """The scope's pharmacies are read once (directory.roles.pharmacy_scope) and named by id: on
    PostgreSQL `pharmacy_id = ANY(%s::bigint[])`, one array parameter, so the SQL is the same however many
    pharmacies; elsewhere the plain `IN (...)`. No join to the pharmacy, no subquery."""
    sql, params = issues_visible_to(staff).query.sql_with_params()
    if connection.vendor == "postgresql":
        assert '"pharmacy_id" = ANY(%s::bigint[])' in sql and [pharmacy.pk] in params
        for _ in range(2):
            PharmacyFactory.create(staff=[staff])
        forget_roles(staff)
        more_sql, more_params = issues_visible_to(staff).query.sql_with_params()
        assert more_sql == sql and len(more_params) == len(params)
    else:
        assert '"pharmacy_id" IN (%s)' in sql and pharmacy.pk in params
    assert 'INNER JOIN "directory_pharmacy"' not in sql and "SELECT" not in sql.split(" WHERE ", 1)[1]


def test_the_scope_has_only_the_parts_of_the_users_roles(pharmacy, owner, lpc_officer):
    """An OR with a part that finds nothing costs a heap read of every issue in the other part, so
    an owner's scope has no LPC part and an officer's no pharmacy part; someone with both roles
    has both."""

    def where(user: object) -> str:
        return str(issues_visible_to(user).query).split(" WHERE ", 1)[1]

    assert "lpc_involved_at" not in where(owner) and where(owner).count("pharmacy_id") == 1
    officers = where(lpc_officer)
    assert "lpc_involved_at" in officers and officers.count("pharmacy_id") == 1
    pharmacy.lpc.officers.add(owner)
    forget_roles(owner)
    both = where(owner)
    assert "lpc_involved_at" in both and both.count("pharmacy_id") == 2


def test_the_roles_are_asked_once_per_user_object(owner, django_assert_num_queries):
    with django_assert_num_queries(1):
        issues_visible_to(owner)
        issues_visible_to(owner)


def test_in_ids_keeps_the_rows_of_in_and_their_negation(pharmacy, staff):
    mine = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    other = IssueFactory.create()
    ids = Pharmacy.objects.filter(pk=pharmacy.pk).values("pk")
    assert list(Issue.objects.filter(InIds("pharmacy_id", ids))) == [mine]
    assert list(Issue.objects.exclude(InIds("pharmacy_id", ids))) == [other]
    nothing = Pharmacy.objects.filter(pk=-1).values("pk")
    either = Issue.objects.filter(InIds("pharmacy_id", ids) | InIds("pharmacy_id", nothing))
    assert list(either) == [mine]


def test_the_scope_sees_what_each_role_may_see_and_no_more(pharmacy, staff, owner, lpc_officer, cpe_it, outsider):
    sister = PharmacyFactory.create(owner=pharmacy.owner, lpc=pharmacy.lpc)
    same_lpc = PharmacyFactory.create(lpc=pharmacy.lpc)
    elsewhere = PharmacyFactory.create()
    at_staff = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    at_sister = IssueFactory.create(pharmacy=sister)
    involved = IssueFactory.create(pharmacy=same_lpc, state=State.LPC_CC)
    not_involved = IssueFactory.create(pharmacy=same_lpc, state=State.RA_CONTACTED)
    far = IssueFactory.create(pharmacy=elsewhere, state=State.LPC_CC)

    def seen(user: object) -> set[int]:
        return set(issues_visible_to(user).values_list("pk", flat=True))

    assert seen(staff) == {at_staff.pk}
    assert seen(owner) == {at_staff.pk, at_sister.pk}
    assert seen(lpc_officer) == {involved.pk}
    assert seen(outsider) == set()
    assert seen(cpe_it) == {at_staff.pk, at_sister.pk, involved.pk, not_involved.pk, far.pk}


# Pages read from the far end --------------------------------------------------------------------


@pytest.mark.parametrize("count,per_page,orphans", [(25, 10, 0), (31, 10, 0), (31, 10, 3), (7, 2, 1), (30, 10, 0)])
def test_every_page_read_from_either_end_holds_the_rows_read_forwards(pharmacy, staff, count, per_page, orphans):
    many_issues(pharmacy=pharmacy, staff=staff, n=count)
    issues = issue_list(user=staff)
    forwards = Paginator(issues, per_page, orphans=orphans)
    either = EitherEndPaginator(issues, per_page, orphans=orphans)
    assert either.num_pages == forwards.num_pages
    for number in forwards.page_range:
        assert [i.pk for i in either.page(number)] == [i.pk for i in forwards.page(number)], number
        assert either.page(number).start_index() == forwards.page(number).start_index()


def test_a_list_over_everything_pages_the_same_from_either_end(pharmacy, staff, cpe_it):
    """CPE IT's list is read off the order's index, a scope's list sorted after its filter: the
    same order, ties broken by pk, either way."""
    many_issues(pharmacy=pharmacy, staff=staff, n=31)
    IssueFactory.create_batch(4, created_at=timezone.now() - timedelta(days=40))
    everything, scoped = issue_list(user=cpe_it), issue_list(user=staff)
    assert [i.pk for i in everything.filter(pharmacy=pharmacy)] == [i.pk for i in scoped]
    forwards, either = Paginator(everything, 10), EitherEndPaginator(everything, 10)
    for number in forwards.page_range:
        assert [i.pk for i in either.page(number)] == [i.pk for i in forwards.page(number)], number


def test_a_list_pages_as_django_does():
    either = EitherEndPaginator(list(range(95)), 10)
    assert list(either.page(10).object_list) == list(range(90, 95))


def test_the_last_page_of_the_list_shows_the_oldest_issues_newest_first(client, pharmacy, staff):
    issues = many_issues(pharmacy=pharmacy, staff=staff, n=60)
    client.force_login(staff)
    last = client.get(LIST, {"page": "3"})
    assert last.status_code == 200
    expected = [i.reference for i in sorted(issues, key=lambda i: (i.created_at, i.pk), reverse=True)][50:]
    assert page_references(last.content.decode(), issues) == expected


def test_a_deep_page_costs_the_queries_of_the_first_with_many_rows(client, pharmacy, staff, cpe_it):
    many_issues(pharmacy=pharmacy, staff=staff, n=130)
    for pharmacy_elsewhere in PharmacyFactory.create_batch(3):
        IssueFactory.create_batch(10, pharmacy=pharmacy_elsewhere)
    for user in (staff, cpe_it):
        client.force_login(user)
        counted = []
        for page in ("1", "3", "5", "6"):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(LIST, {"state": "all", "page": page}).status_code == 200
            counted.append(len(queries))
        assert len(set(counted)) == 1, counted
        assert counted[0] <= 9


def test_the_count_stops_at_the_limit_and_so_do_the_pages(client, settings, pharmacy, staff):
    settings.LIST_COUNT_LIMIT = 5
    issues = many_issues(pharmacy=pharmacy, staff=staff, n=8)
    newest_first = [i.reference for i in sorted(issues, key=lambda i: (i.created_at, i.pk), reverse=True)]
    items = issue_list(user=staff)
    with CaptureQueriesContext(connection) as queries:
        paginator = EitherEndPaginator(items, 2)
        assert paginator.count == 5 and paginator.beyond_limit and paginator.num_pages == 3
    assert "LIMIT 6" in queries[-1]["sql"]
    rows = [issue.reference for number in (1, 2, 3) for issue in paginator.page(number).object_list]
    assert rows == newest_first[:5]  # the newest 5, read forwards to the end (no read from the other end)

    client.force_login(staff)
    page = client.get(LIST, {"state": "all"}).content.decode()
    assert "Showing 1 to 5 of more than 5." in page and "narrow the list with the filters" in page
    assert "(all these issues)" in page
    settings.LIST_COUNT_LIMIT = 8
    page = client.get(LIST, {"state": "all"}).content.decode()
    assert "Showing 1 to 8 of 8<" in page and "more than" not in page and "(these 8 issues)" in page


def test_the_api_says_when_its_count_stopped_at_the_limit(settings, pharmacy, staff):
    settings.LIST_COUNT_LIMIT = 5
    issues = many_issues(pharmacy=pharmacy, staff=staff, n=7)
    newest_first = [i.reference for i in sorted(issues, key=lambda i: (i.created_at, i.pk), reverse=True)]
    api = APIClient()
    api.force_authenticate(staff)
    first = api.get(API_LIST, {"page_size": 3}).json()
    assert (first["count"], first["count_capped"]) == (5, True)
    last = api.get(first["next"]).json()
    assert last["next"] is None
    assert [row["reference"] for row in first["results"] + last["results"]] == newest_first[:5]
    settings.LIST_COUNT_LIMIT = 7
    exact = api.get(API_LIST).json()
    assert (exact["count"], exact["count_capped"], len(exact["results"])) == (7, False, 7)


def test_the_api_pages_the_same_rows_from_either_end_in_constant_queries(
    pharmacy, staff, django_assert_max_num_queries
):
    issues = many_issues(pharmacy=pharmacy, staff=staff, n=45)
    api = APIClient()
    api.force_authenticate(staff)
    newest_first = [i.reference for i in sorted(issues, key=lambda i: (i.created_at, i.pk), reverse=True)]
    pages: list[str] = []
    for number in (1, 2, 3, 4, 5):
        with django_assert_max_num_queries(3):  # the roles (kept on the user after the first), the count, the page
            response = api.get(API_LIST, {"page_size": 10, "page": number})
        assert response.status_code == 200
        pages.extend(row["reference"] for row in response.json()["results"])
    assert pages == newest_first


# Counts ------------------------------------------------------------------------------------------


def test_the_counts_are_scoped_overdue_included_in_one_query(
    pharmacy, staff, lpc_officer, cpe_it, django_assert_max_num_queries
):
    late = timezone.now() - timedelta(days=3)
    IssueFactory.create_batch(4, pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED, due_at=late)
    IssueFactory.create_batch(2, pharmacy=pharmacy, reporter=staff, state=State.LPC_CC, due_at=late)
    IssueFactory.create_batch(3, pharmacy=pharmacy, reporter=staff, state=State.RESOLVED)
    elsewhere = PharmacyFactory.create()
    IssueFactory.create_batch(5, pharmacy=elsewhere, state=State.LPC_CC, due_at=late)
    IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.IN_PHARMACY, due_at=late, due_kind=Deadline.NONE)

    with django_assert_max_num_queries(2):  # the user's roles (the scope's parts) and the counts
        mine = issue_counts(user=staff)
    assert mine.by_state[State.RA_CONTACTED] == 4
    assert mine.by_state[State.LPC_CC] == 2
    assert mine.by_state[State.RESOLVED] == 3
    assert mine.by_state[State.IN_PHARMACY] == 1
    assert mine.overdue == 6  # a deadline with nothing awaited is not overdue (Issue.overdue_q)

    with django_assert_max_num_queries(2):
        officer = issue_counts(user=lpc_officer)
    assert officer.by_state[State.LPC_CC] == 2 and officer.by_state[State.RA_CONTACTED] == 0
    assert officer.overdue == 2

    everything = issue_counts(user=cpe_it)
    assert everything.by_state[State.LPC_CC] == 7 and everything.overdue == 11


def test_the_counts_of_someone_who_sees_nothing_are_zero(outsider):
    counts = issue_counts(user=outsider)
    assert counts.overdue == 0 and set(counts.by_state.values()) == {0}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="expression statistics are PostgreSQL's")
def test_the_planner_knows_how_many_events_are_ra_requests(db):
    """issues/0015: statistics on `data -> 'transition'`, so PostgreSQL estimates the RA requests
    of a period from what the events hold, not a JSON field's fixed 0.5% guess."""
    from issues.models import EventKind, IssueEvent

    issues = IssueFactory.create_batch(40)
    for n, issue in enumerate(issues):
        transition = "contact_ra" if n % 2 else "try_cis"
        IssueEvent.objects.create(issue=issue, kind=EventKind.TRANSITION, data={"transition": transition})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_statistic_ext WHERE stxname = 'event_transition_expr'")
        assert cursor.fetchone() == (1,)
        cursor.execute(f"ANALYZE {IssueEvent._meta.db_table}")
        requests = IssueEvent.objects.filter(kind=EventKind.TRANSITION, data__transition="contact_ra")
        sql, params = requests.query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        estimate = cursor.fetchone()[0][0]["Plan"]["Plan Rows"]
    assert 10 <= estimate <= 30  # 20 of 40; without the statistics, 1


def test_the_kept_roles_are_forgotten_through_a_lazy_user_too(owner, pharmacy):
    from django.utils.functional import SimpleLazyObject

    from directory.roles import user_roles

    lazy = SimpleLazyObject(lambda: owner)
    assert not user_roles(lazy).lpc_officer
    pharmacy.lpc.officers.add(owner)
    assert not user_roles(lazy).lpc_officer  # kept
    forget_roles(lazy)
    assert user_roles(lazy).lpc_officer and user_roles(owner).lpc_officer


@pytest.mark.parametrize("who", ["staff", "lpc_officer"])
def test_the_users_pharmacies_are_looked_up_with_no_limit(request, client, pharmacy, who):
    """The list (may the user report?) and the report's pages (which pharmacies?) ask for the
    user's pharmacies with no LIMIT: with one (exists(), or the first two by name), PostgreSQL
    expected to meet one of them soon and read all of England's pharmacies in turn instead of the
    user's own by their indexes (issues.selectors.reports_for_a_pharmacy; docs/benchmarks.md)."""
    client.force_login(request.getfixturevalue(who))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/issues/").status_code == 200
        if who == "staff":
            assert client.get("/issues/report/").status_code == 302
            assert client.get("/issues/report/kind/").status_code == 200
    asked = [q["sql"] for q in queries if 'FROM "directory_pharmacy" WHERE' in q["sql"] and "staff" in q["sql"]]
    assert asked  # the lookups are there
    assert not [sql for sql in asked if "LIMIT" in sql]
