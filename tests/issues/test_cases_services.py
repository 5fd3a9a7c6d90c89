"""The systemic case services (issues.services.cases): who, the status rules, the issues' checks,
the events on the case and on its issues, and the closing notice through the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues import services
from issues.exceptions import IssueActionForbidden, TransitionNotAllowedNow
from issues.models import (
    CaseEvent,
    CaseEventKind,
    CaseIssue,
    CaseStatus,
    EventKind,
    IssueEvent,
    IssueOutboundEmail,
    MailPurpose,
    State,
    SystemicCase,
)
from tests.issues.factories import IssueFactory, PharmacyFactory, outbound_email_about

pytestmark = pytest.mark.django_db


@pytest.fixture
def issues(pharmacy, staff):
    return [IssueFactory.create(pharmacy=pharmacy, reporter=staff) for _ in range(3)]


def _case(cpe_it, issues, title="Locked cards at Leeds RA"):
    return services.case_create(user=cpe_it, title=title, description="Same cause.", issues=issues)


def test_it_opens_a_case_with_its_issues_and_writes_the_events(cpe_it, issues):
    case = _case(cpe_it, [issue.reference for issue in issues])
    assert case.status == CaseStatus.OPEN and case.created_by == cpe_it
    assert list(CaseIssue.objects.filter(case=case).values_list("issue_id", flat=True)) == [i.pk for i in issues]
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == [CaseEventKind.CREATED] + [CaseEventKind.ISSUE_ADDED] * 3
    for issue in issues:
        event = IssueEvent.objects.get(issue=issue, kind=EventKind.CASE)
        assert event.text == f"Added to systemic case {case.reference}: Locked cards at Leeds RA"
        assert event.data == {"case": case.reference, "case_title": case.title, "change": "added"}


@pytest.mark.parametrize("persona", ["staff", "owner", "lpc_officer", "directory_manager", "outsider"])
def test_it_lets_only_cpe_it_change_cases(request, persona, cpe_it, issues):
    user = request.getfixturevalue(persona)
    with pytest.raises(IssueActionForbidden, match="Only the CPE IT team"):
        services.case_create(user=user, title="T", description="", issues=issues)
    case = _case(cpe_it, issues[:1])
    with pytest.raises(IssueActionForbidden):
        services.case_edit(user=user, case=case, title="Other", description="")
    with pytest.raises(IssueActionForbidden):
        services.case_close(user=user, case=case, note="Done", notify=False)
    assert SystemicCase.objects.get().title == "Locked cards at Leeds RA"


def test_it_names_an_issue_already_in_a_case(cpe_it, issues):
    first = _case(cpe_it, issues[:2])
    with pytest.raises(ValidationError) as caught:
        services.case_create(user=cpe_it, title="Again", description="", issues=[issues[1], issues[2]])
    assert caught.value.message_dict == {
        "issues": [f"{issues[1].reference} is already in systemic case {first.reference}: {first.title}."]
    }
    assert SystemicCase.objects.count() == 1
    assert not CaseIssue.objects.filter(issue=issues[2]).exists()


def test_it_names_an_issue_that_does_not_exist_or_is_not_a_reference(cpe_it, issues):
    with pytest.raises(ValidationError) as caught:
        services.case_create(user=cpe_it, title="", description="", issues=["SC-999999", "nonsense"])
    errors = caught.value.message_dict
    assert errors["title"] == ["Enter a title."]
    with pytest.raises(ValidationError) as caught:
        services.case_create(user=cpe_it, title="T", description="", issues=["SC-999999", "nonsense"])
    assert caught.value.message_dict["issues"] == [
        "“nonsense” is not an issue reference, like SC-000123.",
    ]
    with pytest.raises(ValidationError) as caught:
        services.case_create(user=cpe_it, title="T", description="", issues=["SC-999999"])
    assert caught.value.message_dict["issues"] == ["There is no issue SC-999999, or you cannot see it."]
    with pytest.raises(ValidationError, match="Choose at least one issue"):
        services.case_create(user=cpe_it, title="T", description="", issues=[])
    assert not SystemicCase.objects.exists()


def test_it_adds_and_removes_issues_with_events_on_both_sides(cpe_it, issues):
    case = _case(cpe_it, issues[:1])
    services.case_add_issues(user=cpe_it, case=case, issues=[issues[1].reference, issues[2]])
    assert case.links.count() == 3
    with pytest.raises(ValidationError, match="already in this case"):
        services.case_add_issues(user=cpe_it, case=case, issues=[issues[0]])
    removed = services.case_remove_issue(user=cpe_it, case=case, issue=issues[1].reference)
    assert removed == issues[1]
    assert set(case.links.values_list("issue_id", flat=True)) == {issues[0].pk, issues[2].pk}
    assert CaseEvent.objects.filter(case=case, kind=CaseEventKind.ISSUE_REMOVED, issue=issues[1]).exists()
    removal = IssueEvent.objects.filter(issue=issues[1], kind=EventKind.CASE).last()
    assert removal is not None and removal.data["change"] == "removed"
    assert removal.text == f"Taken out of systemic case {case.reference}: {case.title}"
    with pytest.raises(ValidationError, match="is not in this case"):
        services.case_remove_issue(user=cpe_it, case=case, issue=issues[1])
    # Out of the case, it may join another one.
    other = _case(cpe_it, [issues[1]], title="Another")
    assert issues[1].case_link.case == other


def test_it_edits_title_and_description_keeping_the_old_ones(cpe_it, issues):
    case = _case(cpe_it, issues[:1])
    services.case_edit(user=cpe_it, case=case, title="  New title ", description="New words")
    case.refresh_from_db()
    assert (case.title, case.description) == ("New title", "New words")
    event = CaseEvent.objects.get(case=case, kind=CaseEventKind.EDITED)
    assert event.data == {"before": {"title": "Locked cards at Leeds RA", "description": "Same cause."}}


def test_it_records_the_highlight_then_the_guidance(cpe_it, issues):
    case = _case(cpe_it, issues)
    sent = timezone.now() - timedelta(days=2)
    with pytest.raises(TransitionNotAllowedNow, match="once the case has been highlighted"):
        services.case_record_guidance(user=cpe_it, case=case, received_at=timezone.now(), text="Advice")
    services.case_record_highlight(user=cpe_it, case=case, highlighted_at=sent, to="td@nhs.example", text="Summary")
    case.refresh_from_db()
    assert case.status == CaseStatus.HIGHLIGHTED
    assert (case.highlighted_at, case.highlighted_to, case.highlight_text) == (sent, "td@nhs.example", "Summary")
    with pytest.raises(ValidationError) as caught:
        services.case_record_guidance(user=cpe_it, case=case, received_at=sent - timedelta(days=1), text="Advice")
    assert caught.value.message_dict == {
        "received_at": ["The guidance cannot have come before the highlight was sent."]
    }
    services.case_record_guidance(user=cpe_it, case=case, received_at=timezone.now(), text="Reissue the cards")
    case.refresh_from_db()
    assert case.status == CaseStatus.GUIDANCE_RECEIVED and case.guidance_text == "Reissue the cards"
    with pytest.raises(TransitionNotAllowedNow, match="before guidance has come back"):
        services.case_record_highlight(user=cpe_it, case=case, highlighted_at=sent, to="x", text="y")
    assert list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))[-2:] == [
        CaseEventKind.HIGHLIGHTED,
        CaseEventKind.GUIDANCE,
    ]


def test_it_checks_the_highlights_fields(cpe_it, issues):
    case = _case(cpe_it, issues[:1])
    with pytest.raises(ValidationError) as caught:
        services.case_record_highlight(
            user=cpe_it, case=case, highlighted_at=timezone.now() + timedelta(days=1), to="", text=" "
        )
    assert caught.value.message_dict == {
        "highlighted_at": ["When it was sent must be in the past."],
        "to": ["Enter who it was sent to."],
        "text": ["Enter what was sent."],
    }
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and not CaseEvent.objects.filter(kind=CaseEventKind.HIGHLIGHTED).exists()


def test_it_closes_a_case_for_good(cpe_it, issues):
    case = _case(cpe_it, issues[:1])
    services.case_close(user=cpe_it, case=case, note="Fixed by NHS England.", notify=False)
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    for call in (
        lambda: services.case_add_issues(user=cpe_it, case=case, issues=[issues[1]]),
        lambda: services.case_remove_issue(user=cpe_it, case=case, issue=issues[0]),
        lambda: services.case_edit(user=cpe_it, case=case, title="x", description=""),
        lambda: services.case_close(user=cpe_it, case=case, note="Again", notify=False),
    ):
        with pytest.raises(TransitionNotAllowedNow):
            call()
    assert not IssueOutboundEmail.objects.exists()


def test_it_sends_the_closing_notice_to_each_pharmacy_and_involved_lpc_on_the_issues_thread(cpe_it, staff):
    quiet = PharmacyFactory.create(email="quiet@pharmacy.example")
    involved = PharmacyFactory.create(email="")
    first = IssueFactory.create(pharmacy=quiet, reporter=staff)
    second = IssueFactory.create(pharmacy=involved, reporter=staff, state=State.LPC_CC)
    earlier = outbound_email_about(
        first,
        purpose=MailPurpose.RA_REQUEST,
        to=["ra@nhs.example"],
        subject="s",
        body_text="b",
        from_email="f@x",
        message_id="<earlier@x>",
    )
    case = _case(cpe_it, [first, second])
    services.case_record_highlight(user=cpe_it, case=case, highlighted_at=timezone.now(), to="td", text="t")
    services.case_record_guidance(user=cpe_it, case=case, received_at=timezone.now(), text="Use the new reader driver.")
    services.case_close(user=cpe_it, case=case, note="The supplier fixed the driver.", notify=True)

    notices = {link.issue_id: link.email for link in IssueOutboundEmail.objects.exclude(email=earlier)}
    assert set(notices) == {first.pk, second.pk}
    assert notices[first.pk].purpose == MailPurpose.CASE_NOTICE
    assert notices[first.pk].to == ["quiet@pharmacy.example"] and notices[first.pk].cc == []
    assert notices[first.pk].in_reply_to == "<earlier@x>"
    assert notices[first.pk].subject.startswith(f"[{first.reference}]")
    assert involved.lpc is not None
    assert notices[second.pk].to == [involved.owner.email] and notices[second.pk].cc == [involved.lpc.email]
    body = notices[first.pk].body_text
    assert "The supplier fixed the driver." in body and "Use the new reader driver." in body
    assert case.title in body
    # Nothing of the other issues reaches a pharmacy.
    assert second.reference not in body and involved.name not in body
    assert "</html>" in notices[first.pk].body_html


def test_it_locks_the_case_row_while_changing_it(cpe_it, issues):
    case = _case(cpe_it, issues[:1])
    with CaptureQueriesContext(connection) as queries:
        services.case_edit(user=cpe_it, case=case, title="Locked", description="")
    first_select = next(q["sql"] for q in queries.captured_queries if "issues_systemiccase" in q["sql"])
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in first_select
