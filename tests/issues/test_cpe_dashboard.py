"""CPE IT's dashboard (/dashboard/cpe-it/ and /api/v1/dashboards/cpe-it/): escalations to triage,
triaged escalations by owner, unmatched mail; CPE IT only; a constant number of queries."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from issues import services
from issues.models import Deadline, EventKind, Issue, State, TriageOutcome, UnmatchedEmail
from smartcard_route.dates import moment_in_words
from smartcard_route.mail.models import InboundEmail
from tests.issues.factories import IssueFactory, PharmacyFactory, UserFactory

pytestmark = pytest.mark.django_db

CPE = reverse("dashboards:cpe_it")
API = "/api/v1/dashboards/cpe-it/"


def escalated(pharmacy: Any, **fields: Any) -> Issue:
    return IssueFactory.create(pharmacy=pharmacy, state=State.ESCALATED, **fields)


def triaged(issue: Issue, owner: Any, outcome: str = TriageOutcome.HANDLED) -> Issue:
    services.issue_triage(user=owner, issue=issue, outcome=outcome, note="Looking into it.")
    issue.refresh_from_db()
    return issue


SERIAL = count()


def unmatched_email(n: int, *, ago: timedelta = timedelta(0)) -> InboundEmail:
    email = InboundEmail.objects.create(
        esp_name="test",
        message_id=f"<stray-{next(SERIAL)}@elsewhere.example>",
        from_email=f"someone{n}@elsewhere.example",
        subject=f"Stray message {n}",
        received_at=timezone.now() - ago,
    )
    UnmatchedEmail.objects.create(email=email, created_at=email.received_at)
    return email


def section(page: str, heading_id: str) -> str:
    start = page.index(f'id="{heading_id}"')
    end = page.find("<section", start)
    return page[start : end if end != -1 else len(page)]


@pytest.fixture
def colleague(db: None) -> Any:
    return UserFactory.create(email="robin@cpe.example", full_name="Robin Adeyemi", is_cpe_it=True)


def test_it_lists_the_escalations_to_triage_oldest_deadline_first_with_how_long_overdue(client, cpe_it, pharmacy):
    later = escalated(pharmacy, due_at=timezone.now() + timedelta(days=1))
    overdue = escalated(pharmacy, due_at=timezone.now() - timedelta(days=10))
    done = triaged(escalated(pharmacy), cpe_it)
    client.force_login(cpe_it)

    page = client.get(CPE).content.decode()

    to_triage = section(page, "to-triage")
    assert "Escalations awaiting triage (2)" in to_triage
    assert to_triage.index(overdue.reference) < to_triage.index(later.reference)
    assert done.reference not in to_triage
    assert "CPE IT triage overdue since" in to_triage and "working days)" in to_triage


def test_it_asks_for_a_new_triage_once_an_issue_is_escalated_again(client, cpe_it, pharmacy):
    """Resolved, then reopened into escalated: a new escalation, which the earlier triage does not cover."""
    issue = triaged(escalated(pharmacy), cpe_it)
    assert issue.triaged_at is not None
    staff = UserFactory.create()
    pharmacy.staff.add(staff)
    services.issue_resolve(user=staff, issue=issue, fixed_by_step="cpe_it", note="Fixed by the RA.")
    services.issue_reopen(user=staff, issue=issue, reason="Locked again.")
    issue.refresh_from_db()
    assert issue.state == State.ESCALATED
    assert (issue.triage_outcome, issue.triaged_at) == ("", None)
    assert issue.events.filter(kind=EventKind.TRIAGE).exists()  # the earlier triage stays on the timeline
    client.force_login(cpe_it)

    page = client.get(CPE).content.decode()

    assert issue.reference in section(page, "to-triage")
    assert issue.reference not in section(page, "triaged")


def test_it_groups_the_triaged_escalations_by_owner_yours_first(client, cpe_it, colleague, pharmacy):
    theirs = triaged(escalated(pharmacy), colleague, TriageOutcome.RETURNED_TO_LPC)
    mine = triaged(escalated(pharmacy), cpe_it, TriageOutcome.SYSTEMIC_CASE)
    resolved = IssueFactory.create(pharmacy=pharmacy, state=State.RESOLVED, cpe_owner=cpe_it, triaged_at=timezone.now())
    client.force_login(cpe_it)

    page = client.get(CPE).content.decode()

    by_owner = section(page, "triaged")
    assert "Triaged escalations by owner (2)" in by_owner
    assert by_owner.index("Yours (1)") < by_owner.index(mine.reference)
    assert by_owner.index(mine.reference) < by_owner.index("Robin Adeyemi (1)") < by_owner.index(theirs.reference)
    assert "Linked to a systemic case" in by_owner and "Returned to the LPC with advice" in by_owner
    assert moment_in_words(mine.triaged_at) in by_owner  # when each was triaged
    assert "LPC follow-up due by" in by_owner  # the LPC is awaited again
    assert resolved.reference not in page
    client.force_login(colleague)
    by_owner = section(client.get(CPE).content.decode(), "triaged")
    assert by_owner.index(theirs.reference) < by_owner.index("Casey IT (1)") < by_owner.index(mine.reference)


def test_it_counts_the_unmatched_mail_and_shows_the_newest(client, cpe_it):
    emails = [unmatched_email(n, ago=timedelta(hours=n)) for n in range(7)]
    client.force_login(cpe_it)

    page = client.get(CPE).content.decode()

    mail = section(page, "unmatched-mail")
    assert "Unmatched mail (7)" in mail
    shown = [email.subject for email in emails if email.subject + "<" in mail]
    assert shown == [f"Stray message {n}" for n in range(5)]
    assert reverse("issues:unmatched_mail") in mail
    assert reverse("issues:unmatched_mail_detail", args=[emails[0].pk]) in mail


def test_it_says_when_nothing_needs_cpe_it(client, cpe_it):
    client.force_login(cpe_it)

    page = client.get(CPE).content.decode()

    assert "No escalation is waiting for triage." in page
    assert "No escalation has been triaged and is still open." in page
    assert "There is no unmatched mail." in page


@pytest.mark.parametrize("who", ["staff", "owner", "lpc_officer", "outsider", "directory_manager"])
def test_only_cpe_it_may_see_the_dashboard(client, request, pharmacy, who):
    escalated(pharmacy)
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get(CPE).status_code == 403
    api = APIClient()
    api.force_authenticate(user)
    assert api.get(API).status_code == 403


def test_it_asks_an_anonymous_visitor_to_log_in(client, db):
    response = client.get(CPE)
    assert response.status_code == 302 and "/login" in response["Location"]
    assert APIClient().get(API).status_code == 401


def fill(pharmacy: Any, owners: list[Any], *, n: int) -> None:
    """n escalations to triage (some overdue), n triaged among the owners, n unmatched emails, and
    issues in other states, across several pharmacies and RAs."""
    others = [PharmacyFactory.create() for _ in range(3)]
    for i in range(n):
        place = [pharmacy, *others][i % 4]
        # Every other one escalated again after an earlier triage: its owner stays as a hint.
        hint = {"cpe_owner": owners[i % len(owners)]} if i % 2 else {}
        escalated(place, due_at=timezone.now() + timedelta(hours=i - n // 2), **hint)
        triaged(escalated(place), owners[i % len(owners)], list(TriageOutcome)[i % 3])
        unmatched_email(i)
        IssueFactory.create(pharmacy=place, state=State.RA_CONTACTED)


def test_it_reads_the_page_in_a_constant_number_of_queries(
    client, cpe_it, colleague, pharmacy, django_assert_max_num_queries
):
    fill(pharmacy, [cpe_it, colleague], n=2)
    client.force_login(cpe_it)
    # 10 for the dashboard's own sections (each list's count apart, off its own index) and 1 for
    # the closed counts' snapshot, 3 for the systemic cases and suggested groups, 7 for the figures
    # (with no snapshot yet: the snapshot's read, then worked out; tests/issues/
    # test_figures_snapshot.py has the page with one).
    with django_assert_max_num_queries(21) as few:
        assert client.get(CPE).status_code == 200

    fill(pharmacy, [cpe_it, colleague, UserFactory.create(is_cpe_it=True)], n=60)
    with django_assert_max_num_queries(len(few)):
        page = client.get(CPE).content.decode()

    assert "Escalations awaiting triage (62)" in page and "Triaged escalations by owner (62)" in page
    assert "Unmatched mail (62)" in page


def test_the_api_gives_the_same_sections_in_a_constant_number_of_queries(
    cpe_it, colleague, pharmacy, django_assert_max_num_queries
):
    overdue = escalated(pharmacy, due_at=timezone.now() - timedelta(days=3))
    mine = triaged(escalated(pharmacy), cpe_it, TriageOutcome.RETURNED_TO_LPC)
    theirs = triaged(escalated(pharmacy), colleague)
    stray = unmatched_email(1)
    api = APIClient()
    api.force_authenticate(cpe_it)
    with django_assert_max_num_queries(8) as few:
        body = api.get(API).json()

    assert [row["reference"] for row in body["to_triage"]["results"]] == [overdue.reference]
    assert body["to_triage"]["count"] == 1 and body["to_triage"]["results"][0]["is_overdue"] is True
    assert body["to_triage"]["results"][0]["deadline_text"].startswith("CPE IT triage overdue since")
    assert [(group["owner"]["name"], group["yours"]) for group in body["triaged"]["groups"]] == [
        ("Casey IT", True),
        ("Robin Adeyemi", False),
    ]
    first = body["triaged"]["groups"][0]["issues"][0]
    assert first["reference"] == mine.reference and first["triage_outcome"] == "returned_to_lpc"
    assert first["due_kind"] == Deadline.LPC_FOLLOW_UP
    assert body["triaged"]["groups"][1]["issues"][0]["reference"] == theirs.reference
    assert body["unmatched_mail"]["count"] == 1
    assert body["unmatched_mail"]["newest"][0]["id"] == stray.pk
    assert body["unmatched_mail"]["newest"][0]["subject"] == "Stray message 1"

    fill(pharmacy, [cpe_it, colleague], n=30)
    with django_assert_max_num_queries(len(few)):
        assert api.get(API).json()["to_triage"]["count"] == 31
