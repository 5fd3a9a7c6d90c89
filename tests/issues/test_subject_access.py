"""Subject-access export (issue 11, part 2): the directory manager or CPE IT finds a person by email
address and downloads everything held about them, as JSON and as a readable page; the export holds
every row that names them (checked against a seeded set, and against the tables read independently),
nothing that does not; each export is audited and listed; nobody else may."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from directory.models import CorrectionReport, SubjectAccessExport
from issues.models import IssueEvent
from smartcard_route.mail.models import InboundEmail, OutboundEmail
from tests.issues.factories import IssueFactory, UserFactory
from tests.issues.journey import run_journey
from tests.mail import payloads

pytestmark = pytest.mark.django_db

SEARCH = "/subject-access/"
EXPORT = "/subject-access/export/"


@pytest.fixture
def seeded(client: Any, settings: Any, tmp_path: Any) -> dict[str, Any]:
    settings.MEDIA_ROOT = tmp_path / "media"
    journey = run_journey(client, settings=settings, resolve=True)
    person = journey.people["reporter"]
    person.phone = "07700 900999"
    person.save()
    named_by_phone = IssueFactory.create(contact_phone="07700 900999", contact_name="Someone Else")
    named_by_name = IssueFactory.create(contact_name=person.full_name.upper(), contact_phone="0113 000 0000")
    unrelated = IssueFactory.create(contact_name="Nobody Related", contact_phone="0113 111 1111")
    CorrectionReport.objects.create(ra=journey.issue.pharmacy.ra, reporter=person, details="Wrong phone.")
    # Mail from their own mailbox that matched no issue; and mail to someone whose address contains theirs.
    own = payloads.Mail(from_email=person.email.upper(), to=["issues@smartcard-route.localhost"], text="From me.")
    payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(own))
    OutboundEmail.objects.create(
        purpose="notification",
        from_email="x@x.example",
        to=[f"not{person.email}"],
        subject="Not theirs",
        body_text="Not theirs.",
        message_id="<not-theirs@x.example>",
        status="sent",
    )
    return {
        "journey": journey,
        "person": person,
        "issues": {journey.issue.reference, named_by_phone.reference, named_by_name.reference},
        "unrelated": unrelated,
    }


def export(client: Any, email: str, format: str) -> Any:
    return client.post(EXPORT, {"email": email, "format": format})


def test_the_json_export_holds_every_row_that_names_them_and_nothing_else(client: Any, seeded: dict[str, Any]) -> None:
    person, cpe_it = seeded["person"], seeded["journey"].people["cpe_it"]
    client.force_login(cpe_it)
    response = export(client, f"  {person.email.upper()} ", "json")

    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["account"]["email"] == person.email and data["account"]["phone"] == "07700 900999"
    assert data["roles"]["pharmacy_staff"] == [f"{p.name} ({p.ods_code})" for p in person.pharmacies.all()]
    assert {issue["reference"] for issue in data["issues"]} == seeded["issues"]
    assert seeded["unrelated"].reference not in response.content.decode()
    whys = {issue["reference"]: issue["why"] for issue in data["issues"]}
    assert "reported it" in whys[seeded["journey"].issue.reference]
    assert any("contact phone" in why for why in whys.values()) and any("contact name" in why for why in whys.values())
    # Every row that names them, read independently of the selector.
    address = person.email.lower()
    sent = {e.pk for e in OutboundEmail.objects.all() if address in [a.lower() for a in [*e.to, *e.cc]]}
    received = {
        e.pk
        for e in InboundEmail.objects.all()
        if e.from_email.lower() == address or address in [a.lower() for a in [*e.to, *e.cc]]
    }
    assert len(sent) >= 2 and len(received) == 1
    assert {e["id"] for e in data["emails_sent_to_them"]} == sent
    assert {e["id"] for e in data["emails_received_from_or_for_them"]} == received
    by_them = set(IssueEvent.objects.filter(actor=person).values_list("pk", flat=True))
    assert len(by_them) >= 3 and {e["id"] for e in data["events_by_them"]} == by_them
    journey_issue = next(i for i in data["issues"] if i["reference"] == seeded["journey"].issue.reference)
    assert len(journey_issue["timeline"]) == IssueEvent.objects.filter(issue=seeded["journey"].issue).count()
    assert journey_issue["smartcard_number"] == seeded["journey"].issue.smartcard_number
    assert [r["details"] for r in data["correction_reports"]] == ["Wrong phone."]
    # Audited.
    [audit] = SubjectAccessExport.objects.all()
    assert (audit.requested_by, audit.subject, audit.subject_email, audit.format) == (
        cpe_it,
        person,
        address,
        "json",
    )


def test_the_readable_page_shows_it_and_the_search_page_lists_past_exports(client: Any, seeded: dict[str, Any]) -> None:
    person = seeded["person"]
    manager = UserFactory.create(email="dm@cpe.example", full_name="Dee Directory", is_directory_manager=True)
    client.force_login(manager)
    found = client.get(SEARCH, {"email": person.email})
    assert found.status_code == 200
    assert "3 issues they reported or are named in" in found.content.decode()

    page = export(client, person.email, "page")

    body = page.content.decode()
    assert page.status_code == 200 and "<h1>" in body
    for reference in seeded["issues"]:
        assert reference in body
    assert seeded["journey"].issue.contact_phone in body and "Wrong phone." in body
    listed = client.get(SEARCH).content.decode()
    assert "Dee Directory" in listed and person.email in listed and "Readable page" in listed
    assert SubjectAccessExport.objects.get().format == "page"


def test_an_address_with_nothing_held_says_so_and_still_audits_the_export(client: Any, seeded: dict[str, Any]) -> None:
    client.force_login(seeded["journey"].people["cpe_it"])
    assert "Nothing: no account" in client.get(SEARCH, {"email": "unknown@nowhere.example"}).content.decode()
    data = json.loads(export(client, "unknown@nowhere.example", "json").content)
    assert data["account"] is None and data["issues"] == [] and data["emails_sent_to_them"] == []
    assert SubjectAccessExport.objects.get().subject is None


@pytest.mark.parametrize("email", ["", "not-an-address"])
def test_bad_input_gets_the_error_summary(client: Any, seeded: dict[str, Any], email: str) -> None:
    client.force_login(seeded["journey"].people["cpe_it"])
    answers = (client.get(SEARCH, {"email": email}), export(client, email, "json"), export(client, "a@b.example", "x"))
    for response in answers:
        assert response.status_code == 400
        assert "nhsuk-error-summary" in response.content.decode()
    assert not SubjectAccessExport.objects.exists()


def test_nobody_else_may_export(client: Any, seeded: dict[str, Any]) -> None:
    for user in (seeded["person"], seeded["journey"].people["officer"], seeded["journey"].people["owner"]):
        client.force_login(user)
        assert client.get(SEARCH).status_code == 403
        assert export(client, seeded["person"].email, "json").status_code == 403
    assert not SubjectAccessExport.objects.exists()
    url = reverse("subject_access:search")
    client.logout()
    assert client.get(url).status_code == 302
