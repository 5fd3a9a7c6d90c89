"""Benchmark (not a test): the site's pages at national scale, as a pharmacy, an LPC officer and CPE IT.

    .venv/bin/python bench/dataset.py --issues 1000000 --keep        # once: the data set (see docs/benchmarks.md)
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sr_bench_1m .venv/bin/python bench/pages_bench.py
    BENCH_DATABASE_URL=... .venv/bin/python bench/pages_bench.py --runs 50 --only lpc
    BENCH_DATABASE_URL=... .venv/bin/python bench/pages_bench.py --explain     # also each floor's query plans

Each page is requested through Django's test client in this one process (the whole stack but the
network and the WSGI server: middleware, session and sign-in, the view, its queries, the Jinja2
templates or the API's serializers), signed in as the role's person (`Client.force_login`), on the
database BENCH_DATABASE_URL names (a data set from bench/dataset.py). For every page it reports
the median and 95th percentile wall time over --runs requests after --warmup, the number of
queries (counted in one more request, apart, since counting slows them), and beside it, in the
same run and interleaved request by request, the bare floor: a view on the same stack (same
client, middleware, session) that runs hand-written SQL returning the same rows (the scope's
pharmacy ids resolved beforehand, so the floor does not even pay for who the user is) and answers
them as plain text, with no ORM, no template.

The people (the data set's fixed ids, bench/dataset.py):
- pharmacy: a staff member of the pharmacy whose number of issues is closest to the mean (96 at
  1,000,000: the issue's "a pharmacy with 96 issues");
- owner: a member of a chain's owner organisation (200 pharmacies);
- lpc: an officer of LPC 1 (210 pharmacies);
- cpe_it: the CPE IT team (everything).

A streamed response is timed as its page's name says (`chunks_to_read`): the CSV export to its
first piece ("first byte": the BOM and the headings, sent before any query) or to its first
issue's line ("first line"), then closed (bench/export_memory.py measures the whole file); the
evidence pack, a download, to its end. The case pages need cases, which the data set has none
of: they run last, in a transaction that creates them and is rolled back (`case_rows`).

To add a page, add a row to PAGES: (role, page name, path, floor). A path may use {issue} (the
newest issue the role can see), {last_page} (the last page of the role's open issues) and
{last_page_all} (of all their issues); the floor is a function of FLOORS (or None for none).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dataset import CPE_IT_FIRST, OFFICER_FIRST, OWNER_MEMBER_FIRST, STAFF_PER_PHARMACY  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sr_bench_1m"
OPEN = ["in_pharmacy", "cis_self_service", "ra_contacted", "lpc_cc", "escalated"]
LIST_SIZE = 25  # issues.views.lists.PAGE_SIZE
API_SIZE = 50  # REST_FRAMEWORK["PAGE_SIZE"]
DASHBOARD_SIZE = 50  # issues.views.dashboards.DASHBOARD_SIZE

# (role, page, path, floor). Floors: keys of FLOORS below.
PAGES: list[tuple[str, str, str, str | None]] = [
    ("pharmacy", "issue list", "/issues/", "list_open"),
    ("pharmacy", "issue list, all states, last page", "/issues/?state=all&page={last_page_all}", "list_all_last"),
    ("pharmacy", "API list", "/api/v1/issues/", "api_list"),
    ("pharmacy", "issue page", "/issues/{issue}/", "issue_page"),
    ("owner", "issue list", "/issues/", "list_open"),
    ("owner", "issue list, all states, last page", "/issues/?state=all&page={last_page_all}", "list_all_last"),
    ("owner", "API list", "/api/v1/issues/", "api_list"),
    ("owner", "issue page", "/issues/{issue}/", "issue_page"),
    ("lpc", "issue list", "/issues/", "list_open"),
    ("lpc", "issue list, all states, last page", "/issues/?state=all&page={last_page_all}", "list_all_last"),
    ("lpc", "API list", "/api/v1/issues/", "api_list"),
    ("lpc", "issue page", "/issues/{issue}/", "issue_page"),
    ("lpc", "LPC dashboard", "/dashboard/lpc/", "lpc_dashboard"),
    ("cpe_it", "issue list", "/issues/", "list_open"),
    ("cpe_it", "issue list, last page", "/issues/?page={last_page}", "list_open_last"),
    ("cpe_it", "issue list, all states, last page", "/issues/?state=all&page={last_page_all}", "list_all_last"),
    ("cpe_it", "API list", "/api/v1/issues/", "api_list"),
    ("cpe_it", "issue page", "/issues/{issue}/", "issue_page"),
    ("cpe_it", "CPE IT dashboard", "/dashboard/cpe-it/", "cpe_dashboard"),
    # The figures (issue 9): the page and the API, over each period (13 weeks is the default).
    ("lpc", "figures, 4 weeks", "/dashboard/figures/?weeks=4", "figures_4"),
    ("lpc", "figures, 13 weeks", "/dashboard/figures/", "figures_13"),
    ("lpc", "figures, 52 weeks", "/dashboard/figures/?weeks=52", "figures_52"),
    ("lpc", "API figures, 13 weeks", "/api/v1/figures/", "figures_13"),
    ("cpe_it", "figures, 4 weeks", "/dashboard/figures/?weeks=4", "figures_4"),
    ("cpe_it", "figures, 13 weeks", "/dashboard/figures/", "figures_13"),
    ("cpe_it", "figures, 52 weeks", "/dashboard/figures/?weeks=52", "figures_52"),
    ("cpe_it", "API figures, 13 weeks", "/api/v1/figures/", "figures_13"),
    # The CSV export: its first bytes (the BOM and the headings, sent before any query) and its
    # first issue's line (the first chunk read), each timed from the request (see `get`).
    ("pharmacy", "CSV export, all states: first byte", "/issues/export.csv?state=all", "nothing"),
    ("pharmacy", "CSV export, all states: first line", "/issues/export.csv?state=all", "export_first"),
    ("lpc", "CSV export, all states: first byte", "/issues/export.csv?state=all", "nothing"),
    ("lpc", "CSV export, all states: first line", "/issues/export.csv?state=all", "export_first"),
    ("cpe_it", "CSV export: first byte", "/issues/export.csv", "nothing"),
    ("cpe_it", "CSV export: first line", "/issues/export.csv", "export_first_open"),
    ("cpe_it", "CSV export, all states: first byte", "/issues/export.csv?state=all", "nothing"),
    ("cpe_it", "CSV export, all states: first line", "/issues/export.csv?state=all", "export_first"),
    # Systemic cases (CPE IT). The data set has none: the benchmark creates CASES cases (the first
    # with CASE_ISSUES issues, each other with one) in a transaction of its own that it rolls back
    # at the end (`case_rows`), so nothing is left in the database.
    ("cpe_it", "cases list", "/cases/", "cases_list"),
    ("cpe_it", "case page (20 issues)", "/cases/{case}/", "case_page"),
    ("cpe_it", "case evidence pack (20 issues), whole file", "/cases/{case}/evidence-pack/", "case_evidence"),
]
CASE_PAGES = {"cases list", "case page (20 issues)", "case evidence pack (20 issues), whole file"}
CASES = 25
CASE_ISSUES = 20


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcard_route.test_settings")
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["DEBUG"] = "False"
    # One connection for the whole run, as a worker keeps one (the database CPU is read off its
    # server process; a run of the slow figures lasts minutes).
    os.environ.setdefault("DB_CONN_MAX_AGE", "86400")
    import django

    django.setup()


# The people -----------------------------------------------------------------------------------


@dataclass
class Person:
    role: str
    user_id: int
    scope_sql: str  # the scope as hand-written SQL on issues_issue i (for the floors)
    params: dict[str, Any]
    values: dict[str, Any]  # for the paths: issue, last_page, last_page_all


def fetch(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return list(cursor.fetchall())


def count_limit() -> int:
    """How far the lists count and page (settings.LIST_COUNT_LIMIT): the last page is at most there."""
    from django.conf import settings

    return int(settings.LIST_COUNT_LIMIT)


def people() -> dict[str, Person]:
    mean = fetch("SELECT count(*)::float / (SELECT count(*) FROM directory_pharmacy) FROM issues_issue")[0][0]
    (pharmacy,) = fetch(
        "SELECT pharmacy_id FROM issues_issue GROUP BY pharmacy_id ORDER BY abs(count(*) - %(mean)s), pharmacy_id "
        "LIMIT 1",
        {"mean": mean},
    )[0]
    staff = STAFF_PER_PHARMACY * (pharmacy - 1) + 1
    chain_pharmacies = [row[0] for row in fetch("SELECT id FROM directory_pharmacy WHERE owner_id = 1")]
    lpc_pharmacies = [row[0] for row in fetch("SELECT id FROM directory_pharmacy WHERE lpc_id = 1")]
    found = {
        "pharmacy": Person("pharmacy", staff, "i.pharmacy_id = ANY(%(ids)s)", {"ids": [pharmacy]}, {}),
        "owner": Person("owner", OWNER_MEMBER_FIRST, "i.pharmacy_id = ANY(%(ids)s)", {"ids": chain_pharmacies}, {}),
        "lpc": Person(
            "lpc",
            OFFICER_FIRST,
            "i.pharmacy_id = ANY(%(ids)s) AND i.lpc_involved_at IS NOT NULL",
            {"ids": lpc_pharmacies},
            {},
        ),
        "cpe_it": Person("cpe_it", CPE_IT_FIRST, "true", {}, {}),
    }
    for person in found.values():
        scope, params = person.scope_sql, {**person.params, "open": OPEN}
        (n_open,) = fetch(f"SELECT count(*) FROM issues_issue i WHERE {scope} AND i.state = ANY(%(open)s)", params)[0]
        (n_all,) = fetch(f"SELECT count(*) FROM issues_issue i WHERE {scope}", params)[0]
        (newest,) = fetch(f"SELECT max(i.id) FROM issues_issue i WHERE {scope}", params)[0]
        person.values = {
            "issue": f"SC-{newest:06d}",
            "last_page": max(1, math.ceil(min(n_open, count_limit()) / LIST_SIZE)),
            "last_page_all": max(1, math.ceil(min(n_all, count_limit()) / LIST_SIZE)),
            "n_open": n_open,
            "n_all": n_all,
        }
    return found


# The floors: the same rows in hand-written SQL, answered as text --------------------------------

LIST_COLUMNS = (
    "i.id, i.summary, i.kind, i.state, i.is_emergency, i.due_at, i.due_kind, i.created_at, p.name, p.ods_code, "
    "ra.name, lpc.name, u.full_name"
)
LIST_JOINS = (
    "FROM issues_issue i JOIN directory_pharmacy p ON p.id = i.pharmacy_id "
    "LEFT JOIN directory_registrationauthority ra ON ra.id = p.ra_id LEFT JOIN directory_lpc lpc ON lpc.id = p.lpc_id "
    "JOIN directory_user u ON u.id = i.reporter_id"
)


def page_of(person: Person, where: str, size: int, page: int) -> list[tuple[Any, ...]]:
    """A count and one page, newest first; a page in the back half read from the oldest end."""
    params = {**person.params, "open": OPEN}
    # Counted up to the lists' limit, as the site counts (smartcard_route.pagination); past it the
    # pages are read forwards.
    limit = count_limit()
    (counted,) = fetch(
        f"SELECT count(*) FROM (SELECT 1 FROM issues_issue i WHERE {person.scope_sql} {where} LIMIT {limit + 1}) s",
        params,
    )[0]
    total = min(counted, limit)
    offset = (page - 1) * size
    # A scope's rows sorted after their filter (an index in the list's order, walked for a small
    # scope, costs a walk of the whole table); everything read off that index.
    created = "i.created_at" if person.role == "cpe_it" else "COALESCE(i.created_at, i.created_at)"
    if offset > total / 2 and counted <= limit:
        last = min(total, offset + size)
        sql = (
            f"SELECT {LIST_COLUMNS} {LIST_JOINS} WHERE {person.scope_sql} {where} "
            f"ORDER BY {created}, i.id LIMIT {last - offset} OFFSET {total - last}"
        )
        return [(total,), *reversed(fetch(sql, params))]
    sql = (
        f"SELECT {LIST_COLUMNS} {LIST_JOINS} WHERE {person.scope_sql} {where} "
        f"ORDER BY {created} DESC, i.id DESC LIMIT {size} OFFSET {offset}"
    )
    return [(total,), *fetch(sql, params)]


def counts(person: Person) -> list[tuple[Any, ...]]:
    return fetch(
        f"SELECT i.state, count(*), count(*) FILTER (WHERE i.due_at <= now() AND i.due_kind <> '') "
        f"FROM issues_issue i WHERE {person.scope_sql} GROUP BY i.state",
        person.params,
    )


def issue_page(person: Person) -> list[tuple[Any, ...]]:
    pk = int(person.values["issue"][3:])
    params = {**person.params, "pk": pk}
    issue = fetch(
        f"SELECT i.*, p.name, p.ods_code, ra.name, lpc.name, o.name, u.full_name {LIST_JOINS} "
        f"JOIN directory_pharmacyowner o ON o.id = p.owner_id WHERE i.id = %(pk)s AND {person.scope_sql}",
        params,
    )
    events = fetch(
        "SELECT e.*, a.full_name FROM issues_issueevent e LEFT JOIN directory_user a ON a.id = e.actor_id "
        "WHERE e.issue_id = %(pk)s ORDER BY e.created_at, e.id",
        params,
    )
    return issue + events


def figures_floor(person: Person, weeks: int) -> list[tuple[Any, ...]]:
    """What the figures read, in hand-written SQL: the period's issues opened and resolved per week,
    resolved by step, the resolutions' two moments, each RA request with its first reply (no
    working time worked out: the rows only)."""
    from issues.selectors.figures import figures_period

    period = figures_period(weeks=weeks)
    params = {**person.params, "start": period.start, "now": period.now}
    scope = person.scope_sql
    week = "date_trunc('week', {} AT TIME ZONE 'Europe/London')"
    rows = fetch(
        f"SELECT {week.format('i.created_at')}, count(*) FROM issues_issue i WHERE {scope} "
        "AND i.created_at >= %(start)s AND i.created_at <= %(now)s GROUP BY 1",
        params,
    )
    resolved = f"{scope} AND i.state = 'resolved' AND i.resolved_at >= %(start)s AND i.resolved_at <= %(now)s"
    rows += fetch(
        f"SELECT {week.format('i.resolved_at')}, count(*) FROM issues_issue i WHERE {resolved} GROUP BY 1", params
    )
    rows += fetch(f"SELECT i.fixed_by_step, count(*) FROM issues_issue i WHERE {resolved} GROUP BY 1", params)
    rows += fetch(f"SELECT i.fixed_by_step, i.created_at, i.resolved_at FROM issues_issue i WHERE {resolved}", params)
    in_scope = (
        "" if person.role == "cpe_it" else f"AND e.issue_id = ANY(ARRAY(SELECT i.id FROM issues_issue i WHERE {scope}))"
    )
    rows += fetch(
        "SELECT e.data -> 'ra_id', e.created_at, (SELECT r.created_at FROM issues_issueevent r "
        "WHERE r.issue_id = e.issue_id AND r.created_at >= e.created_at AND (r.kind = 'ra_reply' "
        "OR (r.kind = 'phone_call' AND r.data -> 'with_ra' = 'true')) ORDER BY r.created_at LIMIT 1) "
        "FROM issues_issueevent e WHERE e.kind = 'transition' AND e.data -> 'transition' = '\"contact_ra\"' "
        f"AND e.created_at >= %(start)s AND e.created_at <= %(now)s {in_scope}",
        params,
    )
    return rows


def export_first(person: Person, where: str) -> list[tuple[Any, ...]]:
    """The export's first read in hand-written SQL: its first chunk (issues.exports.FIRST_CHUNK
    rows of the list's query, one short query), of which the first row is answered."""
    from issues.exports import FIRST_CHUNK

    created = "i.created_at" if person.role == "cpe_it" else "COALESCE(i.created_at, i.created_at)"
    return fetch(
        f"SELECT {LIST_COLUMNS} {LIST_JOINS} WHERE {person.scope_sql} {where} "
        f"ORDER BY {created} DESC, i.id DESC LIMIT {FIRST_CHUNK}",
        {**person.params, "open": OPEN},
    )[:1]


CASE_COLUMNS = "c.id, c.title, c.status, c.created_at, c.updated_at, u.full_name"


def cases_list(person: Person) -> list[tuple[Any, ...]]:
    """A page of cases, newest first, with their number of issues."""
    return fetch("SELECT count(*) FROM issues_systemiccase") + fetch(
        f"SELECT {CASE_COLUMNS}, (SELECT count(*) FROM issues_caseissue ci WHERE ci.case_id = c.id) "
        "FROM issues_systemiccase c JOIN directory_user u ON u.id = c.created_by_id "
        f"ORDER BY c.created_at DESC, c.id DESC LIMIT {LIST_SIZE}"
    )


def case_page(person: Person, *, with_events: bool = False) -> list[tuple[Any, ...]]:
    """The case, its issues (as a list's rows) and its own events; with_events: every event of
    its issues too (the evidence pack's timelines)."""
    params = {"case": person.values["case_pk"]}
    rows = fetch(
        "SELECT c.*, u.full_name FROM issues_systemiccase c JOIN directory_user u ON u.id = c.created_by_id "
        "WHERE c.id = %(case)s",
        params,
    )
    rows += fetch(
        f"SELECT {LIST_COLUMNS} {LIST_JOINS} JOIN issues_caseissue ci ON ci.issue_id = i.id "
        "WHERE ci.case_id = %(case)s ORDER BY ci.added_at, i.id",
        params,
    )
    rows += fetch(
        "SELECT e.*, a.full_name FROM issues_caseevent e JOIN directory_user a ON a.id = e.actor_id "
        "WHERE e.case_id = %(case)s ORDER BY e.created_at, e.id",
        params,
    )
    if with_events:
        rows += fetch(
            "SELECT e.*, a.full_name FROM issues_issueevent e LEFT JOIN directory_user a ON a.id = e.actor_id "
            "JOIN issues_caseissue ci ON ci.issue_id = e.issue_id WHERE ci.case_id = %(case)s "
            "ORDER BY e.issue_id, e.created_at, e.id",
            params,
        )
    return rows


FLOORS: dict[str, Callable[[Person], list[tuple[Any, ...]]]] = {
    "nothing": lambda p: [],  # the stack alone: no query
    "cases_list": cases_list,
    "case_page": case_page,
    "case_evidence": lambda p: case_page(p, with_events=True),
    "figures_4": lambda p: figures_floor(p, 4),
    "figures_13": lambda p: figures_floor(p, 13),
    "figures_52": lambda p: figures_floor(p, 52),
    "export_first": lambda p: export_first(p, ""),
    "export_first_open": lambda p: export_first(p, "AND i.state = ANY(%(open)s)"),
    "list_open": lambda p: page_of(p, "AND i.state = ANY(%(open)s)", LIST_SIZE, 1),
    "list_open_last": lambda p: page_of(p, "AND i.state = ANY(%(open)s)", LIST_SIZE, p.values["last_page"]),
    "list_all_last": lambda p: page_of(p, "", LIST_SIZE, p.values["last_page_all"]),
    "api_list": lambda p: page_of(p, "", API_SIZE, 1),
    "issue_page": issue_page,
    "lpc_dashboard": lambda p: (
        counts(p)
        + fetch(
            f"SELECT {LIST_COLUMNS} {LIST_JOINS} WHERE {p.scope_sql} AND i.state = ANY(%(open)s) "
            f"ORDER BY i.state <> 'lpc_cc', i.due_at NULLS LAST, i.created_at DESC LIMIT {DASHBOARD_SIZE}",
            {**p.params, "open": OPEN},
        )
    ),
    "cpe_dashboard": lambda p: (
        counts(p)
        + fetch(
            f"SELECT {LIST_COLUMNS} {LIST_JOINS} WHERE {p.scope_sql} AND i.state = 'escalated' "
            f"ORDER BY i.due_at NULLS LAST, i.created_at LIMIT {DASHBOARD_SIZE}",
            p.params,
        )
    ),
}


def install_floor_view(persons: dict[str, Person]) -> None:
    """Add /_bench/floor/<role>/<floor>/ to the URLs: the floor's rows as plain text, on the same stack."""
    from django.conf import settings
    from django.http import HttpRequest, HttpResponse
    from django.urls import clear_url_caches, path

    site = importlib.import_module(settings.ROOT_URLCONF)

    def floor_view(request: HttpRequest, role: str, floor: str) -> HttpResponse:
        assert request.user.is_authenticated
        rows = FLOORS[floor](persons[role])
        return HttpResponse("\n".join("\t".join(map(str, row)) for row in rows), content_type="text/plain")

    module = ModuleType("pages_bench_urls")
    module.urlpatterns = [*site.urlpatterns, path("_bench/floor/<str:role>/<str:floor>/", floor_view)]  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    clear_url_caches()


# Timing -----------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return ordered[index]


def chunks_to_read(page: str) -> int | None:
    """How much of a streamed response a page's time covers: its first piece ("first byte": the
    CSV's BOM and headings), its first two ("first line": and the first issue's line), or all of
    it (None: a download, such as the evidence pack)."""
    if page.endswith("first byte"):
        return 1
    if page.endswith("first line"):
        return 2
    return None


def get(client: Any, url: str, chunks: int | None = None) -> Any:
    """The response; a streamed one read up to its first `chunks` pieces (all of it if None), then closed."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    response = client.get(url)
    if response.streaming:
        pieces = iter(response.streaming_content)
        if chunks is None:
            for _ in pieces:
                pass
        else:
            for _ in range(chunks):
                next(pieces, None)
        # As the test client does: closing fires request_finished, whose close_old_connections
        # would close the connection inside the case pages' transaction (autocommit off).
        request_finished.disconnect(close_old_connections)
        try:
            response.close()
        finally:
            request_finished.connect(close_old_connections)
    return response


def timed_get(client: Any, url: str, cpu: list[float] | None = None, chunks: int | None = None) -> float:
    """The request's wall time; its CPU time in this process (Python: the stack, the ORM, the
    templates) appended to `cpu`, which waiting for a CPU on a busy machine does not inflate."""
    started, started_cpu = time.perf_counter(), time.process_time()
    response = get(client, url, chunks)
    elapsed = time.perf_counter() - started
    if cpu is not None:
        cpu.append(time.process_time() - started_cpu)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return elapsed


def backend_cpu(pid: int) -> float:
    """CPU seconds the database server process of our connection has used (from /proc, in ticks of
    10 ms: only an average over many requests means anything; parallel workers not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def query_count(client: Any, url: str, chunks: int | None = None) -> int:
    from django.db import connection

    # Counted by a wrapper rather than CaptureQueriesContext: a streamed response's queries run
    # after the request has "finished" for Django's signals.
    counted: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counted.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        get(client, url, chunks)
    return len(counted)


def case_rows(persons: dict[str, Person]) -> None:
    """Create the cases the case pages show (in the caller's transaction, rolled back after): the
    first with CASE_ISSUES open issues, CASES - 1 others with one each, by CPE IT."""
    from directory.models import User
    from issues.services.cases import case_create

    person = persons["cpe_it"]
    user = User.objects.get(pk=person.user_id)
    ids = [
        row[0]
        for row in fetch(
            "SELECT id FROM issues_issue WHERE state = ANY(%(open)s) ORDER BY id DESC LIMIT %(n)s",
            {"open": OPEN, "n": CASE_ISSUES + CASES - 1},
        )
    ]
    first = case_create(
        user=user, title="Smartcards locked after the update", description="Bench case.", issues=ids[:CASE_ISSUES]
    )
    for n, pk in enumerate(ids[CASE_ISSUES:]):
        case_create(user=user, title=f"Bench case {n}", description="", issues=[pk])
    person.values.update({"case": first.reference, "case_pk": first.pk})


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    (version,) = fetch("SHOW server_version")[0]
    settings = [f"{name} {fetch(f'SHOW {name}')[0][0]}" for name in ("shared_buffers", "work_mem", "jit")]
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"PostgreSQL {version.split()[0]} ({', '.join(settings)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page (and per floor)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="roles or page names (substrings) to keep")
    parser.add_argument("--skip", nargs="*", help='"role: page" substrings to leave out (e.g. "cpe_it: figures")')
    parser.add_argument(
        "--without",
        nargs="*",
        choices=["kept-forms", "deferred-join"],
        default=[],
        help="measure as before a change (same process, same load): forms drawn at every request "
        "(smartcard_route.fragments), pages sliced whole (smartcard_route.pagination.deferred_join)",
    )
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each page's queries")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    setup_django(url)

    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from directory.models import User

    if "kept-forms" in args.without:
        from smartcard_route import fragments

        fragments.FRAGMENTS_KEPT = 0
    if "deferred-join" in args.without:
        from smartcard_route import pagination

        pagination.deferred_join = lambda items, bottom, top: list(items[bottom:top])
    # CPE IT's suggested groups as the worker keeps them (every 5 minutes; a copy older than three
    # refreshes is ignored and the groups worked out per request): one refresh now, as a running
    # worker would have made, so the dashboard reads a fresh copy for the length of the run.
    from issues.services.suggestions import case_suggestions_refresh

    print(f"Suggested groups worked out in {case_suggestions_refresh().seconds * 1000:.0f} ms (the worker's)")
    persons = people()
    install_floor_view(persons)
    (issues,) = fetch("SELECT count(*) FROM issues_issue")[0]
    (events,) = fetch("SELECT count(*) FROM issues_issueevent")[0]
    print(f"Database {urlsplit(url).path.lstrip('/')}: {issues:,} issues, {events:,} events")
    print(f"Machine: {machine()}")
    print(f"Load average before: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    for person in persons.values():
        print(
            f"  {person.role}: user {person.user_id}, sees {person.values['n_all']:,} issues "
            f"({person.values['n_open']:,} open)"
        )
    (backend,) = fetch("SELECT pg_backend_pid()")[0]
    clients: dict[str, Any] = {}
    for role, person in persons.items():
        client = Client()
        client.force_login(User.objects.get(pk=person.user_id))
        clients[role] = client

    rows = [row for row in PAGES if not args.only or any(word in row[0] or word in row[1] for word in args.only)]
    rows = [row for row in rows if not any(word in f"{row[0]}: {row[1]}" for word in args.skip or [])]
    # The case pages last, inside one transaction that is rolled back: they need cases the data
    # set does not have (`case_rows`), and nothing may be left in it.
    rows = [row for row in rows if row[1] not in CASE_PAGES] + [row for row in rows if row[1] in CASE_PAGES]
    in_cases: Any = None
    results = []
    for role, page, template, floor in rows:
        if page in CASE_PAGES and in_cases is None:
            in_cases = transaction.atomic()
            in_cases.__enter__()
            case_rows(persons)
        person, client = persons[role], clients[role]
        path = template.format(**person.values)
        chunks = chunks_to_read(page)
        floor_path = f"/_bench/floor/{role}/{floor}/" if floor else None
        for _ in range(args.warmup):
            timed_get(client, path, chunks=chunks)
            if floor_path:
                timed_get(client, floor_path)
        times: list[float] = []
        floors: list[float] = []
        cpu: list[float] = []
        db_cpu = 0.0
        for _ in range(args.runs):
            db_started = backend_cpu(backend)
            times.append(timed_get(client, path, cpu, chunks))
            db_cpu += backend_cpu(backend) - db_started
            if floor_path:
                floors.append(timed_get(client, floor_path))
        queries = query_count(client, path, chunks)
        if args.explain:
            with CaptureQueriesContext(connection) as captured:
                get(client, path, chunks)
            print(f"\n{role}, {page} ({path}):")
            for query in captured.captured_queries:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT") or "django_session" in sql:
                    continue
                plan = fetch("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF, SUMMARY ON) " + sql)
                print("  " + sql[:300])
                print("\n".join("      " + line for (line,) in plan))
        result: dict[str, Any] = {
            "role": role,
            "page": page,
            "path": path,
            "median": statistics.median(times),
            "p95": percentile(times, 0.95),
            "queries": queries,
            "cpu": statistics.median(cpu),
            "db_cpu": db_cpu / args.runs,
            "floor": statistics.median(floors) if floors else None,
        }
        results.append(result)
        print(
            f"{role:9} {page:36} {result['median'] * 1000:8.1f} ms median {result['p95'] * 1000:8.1f} ms p95 "
            f"{queries:3} queries  cpu {result['cpu'] * 1000:6.1f} + db {result['db_cpu'] * 1000:6.1f} ms"
            + (f"   floor {result['floor'] * 1000:7.1f} ms" if result["floor"] is not None else ""),
            flush=True,
        )
    if in_cases is not None:
        transaction.set_rollback(True)
        in_cases.__exit__(None, None, None)
    print(f"\nLoad average after: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(
        "\n| role | page | median | p95 | queries | CPU: Python (median) + database (mean) "
        "| bare floor (median) | page / floor |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        floor_text = f"{r['floor'] * 1000:.1f} ms" if r["floor"] is not None else ""
        ratio = f"{r['median'] / r['floor']:.1f}" if r["floor"] else ""
        print(
            f"| {r['role']} | {r['page']} | {r['median'] * 1000:.1f} ms | {r['p95'] * 1000:.1f} ms | {r['queries']} "
            f"| {r['cpu'] * 1000:.0f} + {r['db_cpu'] * 1000:.0f} ms | {floor_text} | {ratio} |"
        )


if __name__ == "__main__":
    main()
