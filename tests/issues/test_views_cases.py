"""The systemic case pages (/cases/): CPE IT's alone, the list's selection, the confirmation page,
the case page and its actions, the suggestions, the dashboard's sections, the "part of a case" line
on the issue page; scope and query counts with many rows."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from issues import services
from issues.models import (
    CaseEvent,
    CaseEventKind,
    CaseStatus,
    Issue,
    IssueOutboundEmail,
    Kind,
    MailPurpose,
    State,
    SystemicCase,
)
from issues.selectors.cases import cases_dashboard_sections
from issues.services.suggestions import case_suggestions_refresh
from tests.issues.factories import (
    IssueEventFactory,
    IssueFactory,
    PharmacyFactory,
    RegistrationAuthorityFactory,
)

pytestmark = pytest.mark.django_db

CASES = reverse("cases:list")
NEW = reverse("cases:new")
SUGGESTIONS = reverse("cases:suggestions")


def detail(case: SystemicCase) -> str:
    return reverse("cases:detail", args=[case.reference])


LONDON = ZoneInfo("Europe/London")


def action(case: SystemicCase, name: str) -> str:
    return reverse("cases:action", args=[case.reference, name])


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.fixture
def case(cpe_it, pharmacy, staff) -> SystemicCase:
    issues = [IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC) for _ in range(2)]
    return services.case_create(user=cpe_it, title="Locked cards at Leeds RA", description="Same cause.", issues=issues)


def _similar(count: int, *, ra=None, kind: str = Kind.LOCKED, days_ago: int = 1) -> list[Issue]:
    """`count` open issues of `kind`, each from a pharmacy of its own, all with one RA."""
    ra = ra or RegistrationAuthorityFactory.create(name="Leeds RA")
    issues = []
    for _ in range(count):
        issue = IssueFactory.create(pharmacy=PharmacyFactory.create(ra=ra), kind=kind)
        Issue.objects.filter(pk=issue.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
        issues.append(issue)
    return issues


# Scope ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["staff", "owner", "lpc_officer", "outsider", "directory_manager"])
def test_it_answers_404_to_everyone_but_cpe_it_on_every_case_page(client, request, persona, case):
    client.force_login(request.getfixturevalue(persona))
    for url in (CASES, NEW, SUGGESTIONS, detail(case), reverse("cases:evidence_pack", args=[case.reference])):
        assert client.get(url).status_code == 404, url
    for name in ("edit", "add_issues", "remove_issue", "highlight", "guidance", "close"):
        assert client.post(action(case, name), {}).status_code == 404
    assert client.post(NEW, {"issue": "SC-000001", "title": "x"}).status_code == 404
    assert SystemicCase.objects.count() == 1


def test_it_answers_404_for_a_case_that_does_not_exist_or_an_unknown_action(client, cpe_it, case):
    client.force_login(cpe_it)
    assert client.get(reverse("cases:detail", args=["CASE-99999"])).status_code == 404
    assert client.post(action(case, "explode"), {}).status_code == 404


# The list and the selection -------------------------------------------------------------------


def test_it_lists_cases_filtered_by_status(client, cpe_it, case):
    closed = services.case_create(user=cpe_it, title="An old one", description="", issues=[IssueFactory.create()])
    services.case_close(user=cpe_it, case=closed, note="Done", notify=False)
    client.force_login(cpe_it)
    page = client.get(CASES).content.decode()
    assert case.title in page and "An old one" in page
    page = client.get(CASES, {"status": "active"}).content.decode()
    assert case.title in page and "An old one" not in page
    page = client.get(CASES, {"status": "closed"}).content.decode()
    assert case.title not in page and "An old one" in page


def test_it_answers_a_nonsense_status_with_the_error_summary(client, cpe_it, case):
    client.force_login(cpe_it)
    response = client.get(CASES, {"status": "nonsense"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "nhsuk-error-summary" in page and "Choose one of the statuses listed" in page


def test_it_gives_cpe_it_checkboxes_on_the_issue_list_and_nobody_else(client, cpe_it, staff, issue):
    client.force_login(cpe_it)
    page = client.get(reverse("issues:list")).content.decode()
    assert f'action="{NEW}"' in page and f'name="issue" type="checkbox" value="{issue.reference}"' in page
    assert "Group into a systemic case" in page
    client.force_login(staff)
    page = client.get(reverse("issues:list")).content.decode()
    assert NEW not in page and 'name="issue"' not in page


def test_it_confirms_the_selection_then_opens_the_case(client, cpe_it, pharmacy, staff):
    chosen = [IssueFactory.create(pharmacy=pharmacy, reporter=staff) for _ in range(3)]
    client.force_login(cpe_it)
    response = client.get(NEW, {"issue": [issue.reference for issue in chosen]})
    page = response.content.decode()
    assert response.status_code == 200 and "The case will hold these 3 issues" in page
    assert all(f">{issue.reference}<" in page for issue in chosen)
    assert not SystemicCase.objects.exists()

    response = client.post(
        NEW, {"issue": [issue.reference for issue in chosen], "title": "Locked at Leeds", "description": "Why"}
    )
    case = SystemicCase.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(case)
    assert case.title == "Locked at Leeds" and case.links.count() == 3


def test_it_answers_an_issue_already_in_a_case_with_the_error_summary(client, cpe_it, case, issue):
    taken = case.links.first().issue
    client.force_login(cpe_it)
    response = client.post(NEW, {"issue": [issue.reference, taken.reference], "title": "Again"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "nhsuk-error-summary" in page
    assert f"{taken.reference} is already in systemic case {case.reference}" in page
    assert SystemicCase.objects.count() == 1 and not hasattr(Issue.objects.get(pk=issue.pk), "case_link")


def test_it_asks_for_a_title(client, cpe_it, issue):
    client.force_login(cpe_it)
    response = client.post(NEW, {"issue": [issue.reference], "title": " "})
    assert response.status_code == 400 and "Enter a title." in response.content.decode()
    assert not SystemicCase.objects.exists()


# The case page and its actions ----------------------------------------------------------------


def test_it_shows_the_case_its_issues_and_history(client, cpe_it, case):
    client.force_login(cpe_it)
    page = client.get(detail(case)).content.decode()
    for link in case.links.all():
        assert f">{link.issue.reference}<" in page
    assert "Riverside Pharmacy" in page and "Registration Authority" in page
    assert "Case opened" in page and "Issue added" in page
    assert "Record the highlight to NHS England" in page
    assert "Record the guidance received" not in page  # not before the highlight
    assert reverse("cases:evidence_pack", args=[case.reference]) in page


def test_it_records_the_highlight_from_its_form(client, cpe_it, case):
    client.force_login(cpe_it)
    response = client.post(
        action(case, "highlight"),
        {
            "highlight-highlighted_at": "27/11/2026",
            "highlight-highlighted_at_time": "14:30",
            "highlight-to": "td@england.nhs.example",
            "highlight-text": "Three pharmacies cannot unlock cards.",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.HIGHLIGHTED and case.highlighted_to == "td@england.nhs.example"
    assert timezone.localtime(case.highlighted_at).strftime("%d/%m/%Y %H:%M") == "27/11/2026 14:30"
    page = client.get(detail(case)).content.decode()
    assert "Three pharmacies cannot unlock cards." in page and "Record the guidance received" in page


def test_it_records_a_highlight_sent_this_morning_with_no_time_as_sent_now(client, cpe_it, case):
    """No time given means noon; on the morning of the same day, noon has not come: now, not a refusal."""
    client.force_login(cpe_it)
    with time_machine.travel(datetime(2026, 12, 1, 9, 30, tzinfo=LONDON), tick=False):
        response = client.post(
            action(case, "highlight"),
            {"highlight-highlighted_at": "01/12/2026", "highlight-to": "td@england.nhs.example", "highlight-text": "x"},
        )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.highlighted_at == datetime(2026, 12, 1, 9, 30, tzinfo=LONDON)


def test_it_answers_a_bad_highlight_with_the_error_summary_and_saves_nothing(client, cpe_it, case):
    client.force_login(cpe_it)
    response = client.post(action(case, "highlight"), {"highlight-highlighted_at": "31/02/2026", "highlight-to": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert "nhsuk-error-summary" in page and "Enter the date like 27/11/2026" in page
    assert 'href="#highlight-highlighted_at"' in page
    response = client.post(action(case, "highlight"), {"highlight-highlighted_at": "27/11/2026"})
    page = response.content.decode()
    assert response.status_code == 400 and "Enter who it was sent to." in page and "Enter what was sent." in page
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_it_refuses_guidance_before_the_highlight_with_409(client, cpe_it, case):
    client.force_login(cpe_it)
    response = client.post(action(case, "guidance"), {"guidance-received_at": "27/11/2026", "guidance-text": "Advice"})
    assert response.status_code == 409
    assert "once the case has been highlighted" in response.content.decode()


def test_it_adds_by_reference_removes_and_edits(client, cpe_it, case, pharmacy, staff):
    extra = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    client.force_login(cpe_it)
    assert (
        client.post(action(case, "add_issues"), {"add_issues-references": f"{extra.reference.lower()}"}).status_code
        == 302
    )
    assert case.links.filter(issue=extra).exists()
    response = client.post(action(case, "add_issues"), {"add_issues-references": "SC-999999"})
    assert response.status_code == 400 and "There is no issue SC-999999" in response.content.decode()
    assert 'href="#add_issues-references"' in response.content.decode()
    assert client.post(action(case, "remove_issue"), {"remove_issue-issue": extra.reference}).status_code == 302
    assert not case.links.filter(issue=extra).exists()
    response = client.post(action(case, "edit"), {"edit-title": "Renamed", "edit-description": "More"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.title == "Renamed"


def test_it_closes_with_a_notice_to_each_issue(client, cpe_it, case):
    client.force_login(cpe_it)
    response = client.post(action(case, "close"), {"close-note": "The RA fixed its process.", "close-notify": "on"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    links = IssueOutboundEmail.objects.filter(email__purpose=MailPurpose.CASE_NOTICE)
    assert sorted(links.values_list("issue_id", flat=True)) == sorted(case.links.values_list("issue_id", flat=True))
    page = client.get(detail(case)).content.decode()
    assert "What you can do" not in page and "Take out" not in page


def test_it_pins_the_case_pages_query_count_with_30_issues_and_100_events(
    client, cpe_it, django_assert_max_num_queries
):
    ra = RegistrationAuthorityFactory.create()
    issues = [IssueFactory.create(pharmacy=PharmacyFactory.create(ra=ra)) for _ in range(30)]
    case = services.case_create(user=cpe_it, title="Big", description="", issues=issues)
    for n in range(70):
        CaseEvent.objects.create(case=case, kind=CaseEventKind.NOTE, actor=cpe_it, text=f"Note {n}")
    client.force_login(cpe_it)
    assert CaseEvent.objects.filter(case=case).count() >= 100
    with django_assert_max_num_queries(6):
        response = client.get(detail(case))
    assert response.status_code == 200
    assert all(f">{issue.reference}<" in response.content.decode() for issue in issues)


def test_it_pins_the_case_lists_query_count(client, cpe_it, django_assert_max_num_queries):
    for n in range(30):
        services.case_create(user=cpe_it, title=f"Case {n}", description="", issues=[IssueFactory.create()])
    client.force_login(cpe_it)
    with django_assert_max_num_queries(5):
        assert client.get(CASES).status_code == 200


# Suggestions ----------------------------------------------------------------------------------


def test_it_suggests_a_group_and_accepting_it_confirms_the_issues(client, cpe_it, settings):
    settings.CASE_SUGGESTION_MIN_PHARMACIES = 3
    group = _similar(3)
    client.force_login(cpe_it)
    page = client.get(SUGGESTIONS).content.decode()
    assert "Leeds RA" in page and Kind.LOCKED.label in page
    href = re.search(r'href="(/cases/new/\?[^"]+)"', page)
    assert href is not None
    confirmation = client.get(href.group(1).replace("&amp;", "&"))
    text = confirmation.content.decode()
    assert confirmation.status_code == 200 and all(f">{issue.reference}<" in text for issue in group)
    assert f'value="{Kind.LOCKED.label} at Leeds RA"' in text


def test_it_pins_the_suggestions_query_count_with_200_issues(client, cpe_it, django_assert_max_num_queries):
    ra = RegistrationAuthorityFactory.create(name="Busy RA")
    pharmacies = [PharmacyFactory.create(ra=ra) for _ in range(20)]
    for n in range(200):
        IssueFactory.create(pharmacy=pharmacies[n % 20], kind=[Kind.LOCKED, Kind.READER_SOFTWARE][n % 2])
    case_suggestions_refresh()  # the worker's copy, which the page reads
    client.force_login(cpe_it)
    with django_assert_max_num_queries(6):  # the first page of a snapshot reads its groups
        client.get(SUGGESTIONS)
    with django_assert_max_num_queries(5):  # then they are kept (issues.selectors.cases._snapshot_suggestions)
        response = client.get(SUGGESTIONS)
    page = response.content.decode()
    assert response.status_code == 200 and page.count(">Busy RA</td>") == 2 and "Groups as at " in page


def test_it_shows_open_cases_and_suggestions_on_the_cpe_dashboard(client, cpe_it, case, django_assert_max_num_queries):
    _similar(3)
    for n in range(30):
        services.case_create(user=cpe_it, title=f"Case {n}", description="", issues=[IssueFactory.create()])
    case_suggestions_refresh()
    with django_assert_max_num_queries(4):  # the cases, the worker's latest, its groups, which issues still count
        cases_dashboard_sections(user=cpe_it)
    with django_assert_max_num_queries(3):  # its groups are kept once read
        sections = cases_dashboard_sections(user=cpe_it)
    assert len(sections["open_cases"]) == 20 and len(sections["case_suggestions"]) == 1
    client.force_login(cpe_it)
    response = client.get(reverse("dashboards:cpe_it"))
    page = response.content.decode()
    assert "Systemic cases" in page and "Case 29" in page and "Suggested groups" in page and "Leeds RA" in page
    assert "See all cases not closed" in page


# The issue page: part of a case, title and status only ---------------------------------------


@pytest.mark.parametrize("persona", ["staff", "owner", "lpc_officer"])
def test_it_tells_the_pharmacy_and_lpc_the_case_title_and_status_only(client, request, persona, cpe_it, case):
    issue = case.links.first().issue
    other = case.links.last().issue
    services.case_record_highlight(
        user=cpe_it, case=case, highlighted_at=timezone.now(), to="td@nhs.example", text="SECRET HIGHLIGHT"
    )
    client.force_login(request.getfixturevalue(persona))
    page = client.get(reverse("issues:detail", args=[issue.reference])).content.decode()
    assert "Part of systemic case:" in page and "Locked cards at Leeds RA" in page
    assert "(Highlighted to NHS England)" in page
    assert detail(case) not in page and "SECRET HIGHLIGHT" not in page and "td@nhs.example" not in page
    assert other.reference not in page


def test_it_links_cpe_it_to_the_case_from_the_issue_page(client, cpe_it, case):
    issue = case.links.first().issue
    client.force_login(cpe_it)
    page = client.get(reverse("issues:detail", args=[issue.reference])).content.decode()
    assert f'href="{detail(case)}"' in page


def test_it_shows_no_case_line_for_an_issue_in_none(client, staff, issue):
    client.force_login(staff)
    assert "Part of systemic case" not in client.get(reverse("issues:detail", args=[issue.reference])).content.decode()


def test_it_keeps_the_issue_pages_timeline_to_the_cases_reference_and_title(client, staff, cpe_it, case):
    issue = case.links.first().issue
    IssueEventFactory.create(issue=issue)
    client.force_login(staff)
    page = client.get(reverse("issues:detail", args=[issue.reference])).content.decode()
    assert f"Added to systemic case {case.reference}: {case.title}" in page
    assert "Same cause." not in page  # the case's description stays CPE IT's


def test_a_large_suggested_group_shows_its_newest_issues_and_leads_to_all(client, cpe_it, settings):
    settings.CASE_SUGGESTION_MIN_PHARMACIES = 3
    ra = RegistrationAuthorityFactory.create(name="Busy RA")
    pharmacies = [PharmacyFactory.create(ra=ra) for _ in range(4)]
    issues = [IssueFactory.create(pharmacy=pharmacies[n % 4], kind=Kind.LOCKED) for n in range(12)]
    client.force_login(cpe_it)
    page = client.get(SUGGESTIONS).content.decode()
    shown = re.findall(r'<a href="/issues/(SC-\d+)/"', page)
    assert shown == [issue.reference for issue in reversed(issues[-5:])]  # the newest five
    assert "and 7 more" in page
    href = re.search(r'href="(/cases/new/\?[^"]+)"', page)
    assert href is not None
    assert sorted(re.findall(r"issue=(SC-\d+)", href.group(1))) == sorted(issue.reference for issue in issues)
