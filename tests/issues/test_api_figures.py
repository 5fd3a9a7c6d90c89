"""The API's figures (/api/v1/figures/) and its CSV export (/api/v1/issues/export/): the numbers
the seeded events imply, scope, a bad period or filter (400), and the export holding exactly the
rows of the API's list."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from issues.models import Kind, State
from tests.issues import figures_data
from tests.issues.factories import IssueFactory, PharmacyFactory

FIGURES = "/api/v1/figures/"
LIST = "/api/v1/issues/"
EXPORT = "/api/v1/issues/export/"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def seeded(db: None) -> Iterator[figures_data.Seeded]:
    with time_machine.travel(figures_data.NOW, tick=False):
        yield figures_data.seed()


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize("who", ["cpe_it", "officer", "other_officer"])
def test_it_answers_the_figures_the_events_imply(api, seeded, who):
    user = getattr(seeded, who)
    ids = {
        "cpe_it": figures_data.all_issues(seeded),
        "officer": figures_data.visible_to_officer(seeded),
        "other_officer": {
            i.pk for i, s in zip(seeded.issues, figures_data.SPECS, strict=True) if s.pharmacy == "south1"
        },
    }[who]
    want = figures_data.expected(ids)
    api.force_authenticate(user)
    response = api.get(FIGURES, {"weeks": 4})
    assert response.status_code == 200
    body = response.json()
    assert body["weeks"] == 4
    assert [(w["week"], w["opened"], w["resolved"]) for w in body["per_week"]] == [
        (week.isoformat(), opened, resolved) for week, opened, resolved in want["per_week"]
    ]
    assert body["resolved"] == want["resolved"]
    assert {s["step"]: s["resolved"] for s in body["steps"] if s["resolved"]} == {
        step: row[0] for step, row in want["per_step"].items()
    }
    assert {ra["ra_id"]: (ra["requests"], ra["unanswered"]) for ra in body["ras"]} == {
        ra_id: (row["requests"], row["unanswered"]) for ra_id, row in want["per_ra"].items()
    }
    for ra in body["ras"]:
        median = want["per_ra"][ra["ra_id"]]["median"]
        assert (round(ra["median_reply_days"], 1) if ra["median_reply_days"] is not None else None) == median


def test_it_never_answers_another_lpcs_figures(api, seeded):
    api.force_authenticate(seeded.other_officer)
    body = api.get(FIGURES, {"weeks": 4}).json()
    assert sum(w["opened"] for w in body["per_week"]) == 2
    assert [ra["name"] for ra in body["ras"]] == ["Leeds RA"]
    assert [ra["requests"] for ra in body["ras"]] == [1]


@pytest.mark.parametrize("weeks", ["400", "0", "thirteen", "-4"])
def test_it_refuses_a_nonsense_period(api, seeded, weeks):
    api.force_authenticate(seeded.cpe_it)
    response = api.get(FIGURES, {"weeks": weeks})
    assert response.status_code == 400
    assert list(response.json()) == ["weeks"]


def test_it_answers_13_weeks_by_default(api, seeded):
    api.force_authenticate(seeded.cpe_it)
    assert len(api.get(FIGURES).json()["per_week"]) == 13


@pytest.mark.parametrize("persona", ["staff", "owner", "outsider", "directory_manager"])
def test_it_has_no_figures_for_others(api, request, persona):
    api.force_authenticate(request.getfixturevalue(persona))
    assert api.get(FIGURES).status_code == 404


def test_it_answers_401_without_credentials(api, db):
    assert api.get(FIGURES).status_code == 401
    assert api.get(EXPORT).status_code == 401


def test_it_answers_the_figures_in_a_constant_number_of_queries(api, seeded, django_assert_max_num_queries):
    lpc = seeded.issues[0].pharmacy.lpc
    for n in range(60):
        pharmacy = PharmacyFactory.create(lpc=lpc)
        issue = IssueFactory.create(
            pharmacy=pharmacy,
            state=State.RESOLVED,
            created_at=figures_data.NOW - timedelta(days=n % 20 + 1),
            resolved_at=figures_data.NOW - timedelta(hours=n % 10 + 1),
            lpc_involved_at=figures_data.NOW - timedelta(days=30),
        )
        data = {"transition": "contact_ra", "ra_id": pharmacy.ra_id}
        issue.events.create(kind="transition", data=data, created_at=issue.created_at)
    # Before the worker's first snapshot (the officer's: +2 for whether their scope is one LPC's
    # and that LPC's snapshot, looked for).
    for user in (seeded.cpe_it, seeded.officer):
        api.force_authenticate(user)
        with django_assert_max_num_queries(12):
            assert api.get(FIGURES, {"weeks": 52}).status_code == 200


# The CSV export -------------------------------------------------------------------------------


@pytest.fixture
def many(pharmacy, staff, outsider):
    for n in range(30):
        IssueFactory.create(
            pharmacy=pharmacy,
            reporter=staff,
            kind=Kind.LOCKED if n % 2 else Kind.NEW_CARD,
            state=State.RESOLVED if n % 4 == 0 else State.IN_PHARMACY,
            summary="=1+1" if n == 3 else f"Card problem {n}",
        )
    for _ in range(4):
        IssueFactory.create(pharmacy=PharmacyFactory.create())


@pytest.mark.parametrize("params", [{}, {"kind": "locked"}, {"state": "resolved"}, {"state": "open", "q": "Card"}])
def test_it_exports_exactly_the_rows_of_the_api_list(api, staff, many, params):
    api.force_authenticate(staff)
    listed = [row["reference"] for row in api.get(LIST, {**params, "page_size": 200}).json()["results"]]
    response = api.get(EXPORT, params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = _csv(response)
    assert listed and [row[0] for row in rows[1:]] == listed


def test_it_exports_only_the_scope_with_formula_cells_inert(api, staff, outsider, many):
    api.force_authenticate(outsider)
    assert _csv(api.get(EXPORT))[1:] == []
    api.force_authenticate(staff)
    rows = _csv(api.get(EXPORT, HTTP_ACCEPT="text/csv"))
    assert len(rows) == 31
    assert "'=1+1" in {row[-1] for row in rows}


def test_it_refuses_a_nonsense_filter_with_field_errors(api, staff, many):
    api.force_authenticate(staff)
    response = api.get(EXPORT, {"state": "nonsense", "overdue": "perhaps"})
    assert response.status_code == 400
    assert set(response.json()) == {"state", "overdue"}
    assert response.json() == api.get(LIST, {"state": "nonsense", "overdue": "perhaps"}).json()


def test_it_documents_the_export_and_the_figures(api, staff):
    api.force_authenticate(staff)
    schema = api.get("/api/schema/?format=json").json()
    export = schema["paths"][EXPORT]["get"]
    assert {"state", "kind", "pharmacy", "overdue"} <= {p["name"] for p in export["parameters"]}
    assert "text/csv" in export["responses"]["200"]["content"]
    figures = schema["paths"][FIGURES]["get"]
    assert [p["name"] for p in figures["parameters"]] == ["weeks"]
    assert set(figures["responses"]) == {"200", "400", "401", "404"}
