"""Systemic cases in the API (/api/v1/cases/): CPE IT only (404 for everyone else), every action,
field errors, status conflicts, the suggestions, the evidence pack; and the issue's `case` (title
and status only) that a pharmacy and an LPC see."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from issues import services
from issues.models import CaseStatus, IssueOutboundEmail, Kind, MailPurpose, State, SystemicCase
from tests.issues.factories import IssueEventFactory, IssueFactory, PharmacyFactory, RegistrationAuthorityFactory

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"


def url(case: SystemicCase, tail: str = "") -> str:
    return f"{CASES}{case.reference}/{tail}"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def as_cpe(api, cpe_it) -> APIClient:
    api.force_login(cpe_it)
    return api


@pytest.fixture
def case(cpe_it, pharmacy, staff) -> SystemicCase:
    issues = [IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC) for _ in range(2)]
    return services.case_create(user=cpe_it, title="Locked cards", description="Same cause.", issues=issues)


@pytest.mark.parametrize("persona", ["staff", "owner", "lpc_officer", "outsider", "directory_manager"])
def test_it_answers_404_to_everyone_but_cpe_it(api, request, persona, case, issue):
    api.force_login(request.getfixturevalue(persona))
    for path in (CASES, f"{CASES}suggestions/", url(case), url(case, "evidence-pack/")):
        assert api.get(path).status_code == 404, path
    assert api.post(CASES, {"title": "x", "issues": [issue.reference]}, format="json").status_code == 404
    for tail in ("edit/", "issues/", "remove-issue/", "highlight/", "guidance/", "close/"):
        assert api.post(url(case, tail), {}, format="json").status_code == 404, tail
    assert SystemicCase.objects.count() == 1


def test_it_answers_401_without_credentials(api, case):
    assert api.get(CASES).status_code == 401


def test_it_creates_lists_and_retrieves(as_cpe, pharmacy, staff):
    issues = [IssueFactory.create(pharmacy=pharmacy, reporter=staff) for _ in range(2)]
    response = as_cpe.post(
        CASES, {"title": "Readers", "description": "", "issues": [i.reference for i in issues]}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["reference"].startswith("CASE-") and body["status"] == "open"
    assert [entry["reference"] for entry in body["issues"]] == [i.reference for i in issues]
    assert body["issues"][0]["pharmacy"] == "FA123"
    assert [event["kind"] for event in body["events"]] == ["created", "issue_added", "issue_added"]
    listed = as_cpe.get(CASES).json()
    assert [row["reference"] for row in listed["results"]] == [body["reference"]]
    assert listed["results"][0]["issue_count"] == 2
    assert as_cpe.get(f"{CASES}{body['reference']}/").json()["title"] == "Readers"


def test_it_answers_field_errors_naming_the_issue(as_cpe, case, issue):
    taken = case.links.first().issue
    response = as_cpe.post(CASES, {"title": "", "issues": [issue.reference, taken.reference]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"title": ["Enter a title."]}
    response = as_cpe.post(CASES, {"title": "T", "issues": [issue.reference, taken.reference]}, format="json")
    assert response.json() == {
        "issues": [f"{taken.reference} is already in systemic case {case.reference}: Locked cards."]
    }
    assert as_cpe.post(CASES, {"title": "T"}, format="json").json() == {"issues": ["This field is required."]}
    assert SystemicCase.objects.count() == 1


def test_it_runs_every_action_and_conflicts_once_closed(as_cpe, case, issue):
    assert as_cpe.post(url(case, "edit/"), {"title": "Renamed", "description": "d"}, format="json").json()["title"] == (
        "Renamed"
    )
    body = as_cpe.post(url(case, "issues/"), {"issues": [issue.reference]}, format="json").json()
    assert issue.reference in [entry["reference"] for entry in body["issues"]]
    body = as_cpe.post(url(case, "remove-issue/"), {"issue": issue.reference}, format="json").json()
    assert issue.reference not in [entry["reference"] for entry in body["issues"]]
    response = as_cpe.post(url(case, "guidance/"), {"received_at": timezone.now().isoformat(), "text": "x"})
    assert response.status_code == 409 and "highlighted" in response.json()["detail"]
    response = as_cpe.post(
        url(case, "highlight/"), {"highlighted_at": "yesterday", "to": "", "text": ""}, format="json"
    )
    assert response.status_code == 400 and "highlighted_at" in response.json()
    response = as_cpe.post(
        url(case, "highlight/"), {"highlighted_at": timezone.now().isoformat(), "to": "", "text": ""}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"to": ["Enter who it was sent to."], "text": ["Enter what was sent."]}
    moment = timezone.now().isoformat()
    body = as_cpe.post(url(case, "highlight/"), {"highlighted_at": moment, "to": "td", "text": "sent"}).json()
    assert body["status"] == CaseStatus.HIGHLIGHTED and body["highlight_text"] == "sent"
    body = as_cpe.post(url(case, "guidance/"), {"received_at": timezone.now().isoformat(), "text": "Do this"}).json()
    assert body["status"] == CaseStatus.GUIDANCE_RECEIVED
    body = as_cpe.post(url(case, "close/"), {"note": "Done", "notify": True}, format="json").json()
    assert body["status"] == CaseStatus.CLOSED
    assert IssueOutboundEmail.objects.filter(email__purpose=MailPurpose.CASE_NOTICE).count() == 2
    response = as_cpe.post(url(case, "edit/"), {"title": "Again"}, format="json")
    assert response.status_code == 409


def test_it_lists_suggestions(as_cpe, settings):
    settings.CASE_SUGGESTION_MIN_PHARMACIES = 3
    ra = RegistrationAuthorityFactory.create(name="Leeds RA")
    issues = [IssueFactory.create(pharmacy=PharmacyFactory.create(ra=ra), kind=Kind.LOCKED) for _ in range(3)]
    body = as_cpe.get(f"{CASES}suggestions/").json()
    assert len(body) == 1
    assert body[0]["ra"] == "Leeds RA" and body[0]["kind"] == "locked" and body[0]["pharmacies"] == 3
    assert sorted(body[0]["issues"]) == sorted(issue.reference for issue in issues)
    assert body[0]["title"] == f"{Kind.LOCKED.label} at Leeds RA"


def test_it_pins_the_case_detail_query_count(as_cpe, cpe_it, django_assert_max_num_queries):
    issues = [IssueFactory.create() for _ in range(30)]
    case = services.case_create(user=cpe_it, title="Big", description="", issues=issues)
    for n in range(70):
        services.case_edit(user=cpe_it, case=case, title=f"Big {n}", description="")
    with django_assert_max_num_queries(8):
        response = as_cpe.get(url(case))
    assert len(response.json()["issues"]) == 30 and len(response.json()["events"]) == 101


def test_it_downloads_the_evidence_pack(as_cpe, case):
    response = as_cpe.get(url(case, "evidence-pack/"))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment")
    pack = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "summary.html" in pack.namelist()


# The issue's case, as everyone in scope sees it ------------------------------------------------


@pytest.mark.parametrize("persona", ["staff", "owner", "lpc_officer", "cpe_it"])
def test_it_shows_the_issues_case_title_and_status_only(api, request, persona, cpe_it, case):
    issue = case.links.first().issue
    other = case.links.last().issue
    IssueEventFactory.create(issue=issue)
    services.case_record_highlight(
        user=cpe_it, case=case, highlighted_at=timezone.now(), to="td@nhs.example", text="SECRET HIGHLIGHT"
    )
    api.force_login(request.getfixturevalue(persona))
    response = api.get(f"/api/v1/issues/{issue.reference}/")
    assert response.json()["case"] == {"reference": case.reference, "title": "Locked cards", "status": "highlighted"}
    text = json.dumps(response.json())
    assert "SECRET HIGHLIGHT" not in text and "td@nhs.example" not in text and other.reference not in text
    assert "Same cause." not in text


def test_it_shows_no_case_for_an_issue_in_none(api, staff, issue):
    api.force_login(staff)
    assert api.get(f"/api/v1/issues/{issue.reference}/").json()["case"] is None
