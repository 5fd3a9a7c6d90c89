"""The CSV export of a list (/issues/export.csv?<the list's filters>, issues.exports): exactly the
rows the list shows, in scope, streamed, UTF-8 with a BOM, formula cells made inert; a nonsense
filter answers as the list does."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from issues import exports
from issues.exports import inert
from issues.models import Kind, State
from issues.selectors import issue_list
from tests.issues.factories import IssueFactory, PharmacyFactory

LIST = reverse("issues:list")
EXPORT = reverse("issues:export_csv")


def _csv(response) -> list[list[str]]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _listed(client, params: dict[str, str]) -> list[str]:
    """Every reference the list page shows for these filters, page after page."""
    references: list[str] = []
    page = 1
    while True:
        response = client.get(LIST, {**params, "page": page})
        assert response.status_code == 200
        html = response.content.decode()
        references += re.findall(r'<a href="/issues/(SC-\d+)/">', html)
        if f"page={page + 1}" not in html:
            return references
        page += 1


@pytest.fixture
def many(pharmacy, staff, outsider):
    """30 of the pharmacy's issues (some locked cards, some resolved, one emergency) and 5 elsewhere."""
    for n in range(30):
        IssueFactory.create(
            pharmacy=pharmacy,
            reporter=staff,
            kind=Kind.LOCKED if n % 3 else Kind.NEW_CARD,
            state=State.RESOLVED if n % 5 == 0 else State.IN_PHARMACY,
            is_emergency=n == 7,
        )
    elsewhere = PharmacyFactory.create(lpc=pharmacy.lpc)
    for _ in range(5):
        IssueFactory.create(pharmacy=elsewhere, state=State.LPC_CC)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"kind": "locked"},
        {"state": "all"},
        {"state": "resolved"},
        {"emergency": "true", "state": "all"},
        {"q": "FA123"},
    ],
)
def test_it_exports_exactly_the_rows_the_list_shows(client, staff, many, params):
    client.force_login(staff)
    response = client.get(EXPORT, params)
    assert response.status_code == 200
    rows = _csv(response)
    assert rows[0][:3] == ["Reference", "Reported", "Pharmacy"]
    listed = _listed(client, params)
    assert listed  # the filters find something
    assert [row[0] for row in rows[1:]] == listed


def test_it_exports_only_what_the_user_may_see(client, pharmacy, lpc_officer, outsider, many):
    client.force_login(outsider)
    assert _csv(client.get(EXPORT, {"state": "all"}))[1:] == []
    client.force_login(lpc_officer)
    rows = _csv(client.get(EXPORT, {"state": "all"}))[1:]
    assert len(rows) == 5  # the LPC is involved only in the other pharmacy's 5
    assert {row[3] for row in rows} != {"FA123"}


def test_it_makes_formula_cells_inert(client, pharmacy, staff):
    summaries = ['=HYPERLINK("http://evil.example")', "+44 113", "-1", "@SUM(A1)", "\tTabbed", "\rReturn", "Plain"]
    for summary in summaries:
        IssueFactory.create(pharmacy=pharmacy, reporter=staff, summary=summary)
    client.force_login(staff)
    rows = _csv(client.get(EXPORT))
    cells = {row[-1] for row in rows[1:]}
    assert cells == {"'" + s for s in summaries[:-1]} | {"Plain"}
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_it_writes_sensible_columns(client, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED, is_emergency=True)
    client.force_login(staff)
    response = client.get(EXPORT)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="issues.csv"' in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    header, row = _csv(response)
    record = dict(zip(header, row, strict=True))
    assert record["Reference"] == issue.reference
    assert record["ODS code"] == "FA123"
    assert record["Registration Authority"] == pharmacy.ra.name
    assert record["LPC"] == pharmacy.lpc.name
    assert record["Kind of problem"] == "Card locked or passcode forgotten"
    assert record["Status"] == "RA contacted"
    assert record["Waiting for"] == "RA reply"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d[+-]\d\d:\d\d", record["Reported"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d[+-]\d\d:\d\d", record["Deadline"])
    assert (record["Overdue"], record["Emergency"]) == ("No", "Yes")


def test_it_answers_a_nonsense_filter_as_the_list_does(client, staff, pharmacy):
    client.force_login(staff)
    listed = client.get(LIST, {"state": "nonsense", "reported_after": "31/02/2026"})
    exported = client.get(EXPORT, {"state": "nonsense", "reported_after": "31/02/2026"})
    assert listed.status_code == exported.status_code == 400
    summary = re.compile(r'<ul class="nhsuk-list nhsuk-error-summary__list">.*?</ul>', re.S)
    messages = summary.findall(listed.content.decode())
    assert messages and messages == summary.findall(exported.content.decode())
    assert "Select a valid choice" in messages[0]


def test_it_refuses_another_lpcs_filter(client, lpc_officer, outsider):
    """An LPC outside the user's scope is not a choice: 400, as on the list."""
    other = PharmacyFactory.create()
    client.force_login(lpc_officer)
    assert client.get(EXPORT, {"lpc": other.lpc_id}).status_code == 400


def test_it_links_the_list_to_its_export_with_the_same_filters(client, staff, many):
    client.force_login(staff)
    html = client.get(LIST, {"kind": "locked", "state": "all"}).content.decode()
    assert f'href="{EXPORT}?kind=locked&amp;state=all"' in html


def test_it_asks_an_anonymous_visitor_to_log_in(client, db):
    response = client.get(EXPORT)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_exports_many_rows_in_a_constant_number_of_queries(client, staff, pharmacy, django_assert_max_num_queries):
    for _ in range(120):
        IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    client.force_login(staff)
    with django_assert_max_num_queries(8):
        response = client.get(EXPORT, {"state": "all"})
        rows = _csv(response)
    assert len(rows) == 121


def test_it_leaves_plain_cells_alone():
    assert inert("Riverside") == "Riverside"
    assert inert("") == ""
    assert inert(None) == ""
    assert inert(12) == "12"
    assert inert("=1+1") == "'=1+1"


def test_it_sends_the_bom_and_headings_before_any_query(client, staff, pharmacy):
    IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    client.force_login(staff)
    response = client.get(EXPORT, {"state": "all"})
    chunks = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as queries:
        first = next(chunks).decode()
    assert first.startswith("\ufeffReference,Reported,") and first.endswith("Summary\r\n")
    assert len(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        line = next(chunks).decode()
    assert line.startswith("SC-") and len(queries) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["staff", "cpe_it", "lpc_officer"])
def test_it_reads_the_lists_rows_in_short_chunks_with_no_transaction_open(
    client, pharmacy, staff, cpe_it, lpc_officer, monkeypatch, who
):
    """Keyset chunks (issues.exports.issue_chunks), each its own query in autocommit: the same
    rows in the same order as the list, ties of created_at included, whoever asks."""
    monkeypatch.setattr(exports, "CHUNK_SIZE", 4)
    start = timezone.now() - timedelta(days=3)
    for n in range(11):  # three at each moment: a chunk ends inside a tie
        IssueFactory.create(
            pharmacy=pharmacy,
            reporter=staff,
            created_at=start + timedelta(hours=n // 3),
            lpc_involved_at=timezone.now() if n % 2 else None,
            state=State.RESOLVED if n % 4 == 0 else State.IN_PHARMACY,
        )
    IssueFactory.create(created_at=start)  # elsewhere: only CPE IT sees it
    client.force_login({"staff": staff, "cpe_it": cpe_it, "lpc_officer": lpc_officer}[who])
    for params in ({"state": "all"}, {}):
        response = client.get(EXPORT, params)
        lines: list[str] = []
        reads: list[str] = []

        def count(execute, sql, params, many, context, reads=reads):
            reads.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            for chunk in response.streaming_content:
                assert not connection.in_atomic_block  # no read held open between the lines
                lines.append(chunk.decode())
        rows = list(csv.reader(io.StringIO("".join(lines)[1:])))
        listed = _listed(client, params)
        assert listed
        assert [row[0] for row in rows[1:]] == listed
        queries = [sql for sql in reads if "issues_issue" in sql]
        assert len(queries) == len(listed) // 4 + 1  # a chunk of 4 a query, the last one short
        # The server writes a piece at a time: the headings, then one piece of whole lines a chunk
        # (a line each was a system call each: issues.exports.issue_csv_pieces).
        assert len(lines) == 1 + -(-len(listed) // 4)
        assert all(piece.endswith("\r\n") for piece in lines)


def test_an_export_of_a_slice_stops_at_its_end(pharmacy, staff):
    for _ in range(7):
        IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    everything = issue_list(user=staff)
    chunks = list(exports.issue_chunks(everything[:5], chunk_size=2))
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert [issue.pk for chunk in chunks for issue in chunk] == [issue.pk for issue in everything[:5]]
