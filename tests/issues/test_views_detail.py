"""The issue page: who sees it, what it says, and the actions it offers (each a POST to a service)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from issues import services
from issues.models import Deadline, EventKind, InboundEmailMatch, Issue, IssueEvent, MailPurpose, State
from smartcard_route.mail.models import InboundAttachment, InboundEmail, OutboundEmail
from tests.issues.factories import IssueEventFactory, IssueFactory, outbound_email_about
from tests.issues.pages import text_of

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


def detail(issue: Issue) -> str:
    return reverse("issues:detail", args=[issue.reference])


def action(issue: Issue, name: str) -> str:
    return reverse("issues:action", args=[issue.reference, name])


@pytest.mark.parametrize(
    ("persona", "status"),
    [("staff", 200), ("owner", 200), ("cpe_it", 200), ("outsider", 404), ("directory_manager", 404)],
)
def test_it_shows_the_issue_only_within_scope(client, request, issue, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(detail(issue)).status_code == status


def test_it_shows_the_issue_to_lpc_officers_once_the_lpc_is_involved(client, pharmacy, staff, lpc_officer):
    waiting_on_pharmacy = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    involved = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    client.force_login(lpc_officer)
    assert client.get(detail(waiting_on_pharmacy)).status_code == 404
    assert client.get(detail(involved)).status_code == 200


def test_it_answers_404_for_a_reference_that_does_not_exist(client, staff, issue):
    client.force_login(staff)
    assert client.get(reverse("issues:detail", args=["SC-999999"])).status_code == 404


def test_it_accepts_the_reference_in_lower_case(client, staff, issue):
    client.force_login(staff)
    assert client.get(f"/issues/{issue.reference.lower()}/").status_code == 200


def test_it_shows_the_status_guidance_and_the_actions_for_the_pharmacy_team(client, staff, issue):
    client.force_login(staff)
    page = client.get(detail(issue)).content.decode()
    assert "Trying to fix it in the pharmacy" in page
    assert "nhsuk-tag--grey" in page
    assert "What to do now" in page and "Care Identity Management" in page  # locked-card guidance
    assert reverse("issues:contact_ra", args=[issue.reference]) in page
    for name in ("try_cis", "resolve", "withdraw", "note", "phone_call"):
        assert action(issue, name) in page
    # Not the owner's, the LPC's, nor reopen; no RA reply before the RA was asked.
    for name in ("cc_lpc", "escalate_to_cpe", "reopen", "ra_reply"):
        assert action(issue, name) not in page


def test_it_offers_cc_lpc_to_the_owner_and_escalation_to_the_lpc_officer(client, pharmacy, staff, owner, lpc_officer):
    asked = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    client.force_login(staff)
    assert action(asked, "cc_lpc") not in client.get(detail(asked)).content.decode()
    client.force_login(owner)
    assert action(asked, "cc_lpc") in client.get(detail(asked)).content.decode()

    involved = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    client.force_login(lpc_officer)
    page = client.get(detail(involved)).content.decode()
    assert action(involved, "escalate_to_cpe") in page
    assert reverse("issues:contact_ra", args=[involved.reference]) not in page


def test_it_gives_the_deadline_in_words(client, pharmacy, staff):
    with time_machine.travel(datetime(2026, 12, 24, 10, 0, tzinfo=LONDON), tick=False):
        client.force_login(staff)
        issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
        services.issue_contact_ra(user=staff, issue=issue, question="Please unlock my card.", send_via="app")
        page = client.get(detail(issue)).content.decode()
    assert "RA reply due by Wednesday 30 December, 10:00: 2 working days" in page
    assert "Overdue" not in page


def test_it_writes_every_date_on_the_page_in_one_format(client, pharmacy, staff):
    """The report, the deadline and the timeline: 'Monday 30 November, 10:00', no year this year;
    the clock event keeps its year, as text read later."""
    with time_machine.travel(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON), tick=False):
        issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
        services.issue_contact_ra(user=staff, issue=issue, question="Unlock?", send_via="app")
        client.force_login(staff)
        page = client.get(detail(issue)).content.decode()
    assert "Monday 30 November, 10:00 by Sam Patel" in page  # reported
    assert text_of(page, class_name="app-issue-deadline").endswith(
        "RA reply due by Wednesday 2 December, 10:00: 2 working days"
    )
    assert text_of(page, class_name="app-timeline__meta").startswith("Monday 30 November, 10:00 by Sam Patel")
    assert "RA reply due by Wednesday 2 December 2026, 10:00 (2 working days)." in page
    with time_machine.travel(datetime(2027, 1, 4, 9, 0, tzinfo=LONDON), tick=False):
        client.force_login(staff)
        page = client.get(detail(issue)).content.decode()
    assert "Monday 30 November 2026, 10:00 by Sam Patel" in page  # another year: with its year


def test_it_says_how_long_the_deadline_has_been_overdue_in_working_days(client, pharmacy, staff):
    with time_machine.travel(datetime(2026, 11, 23, 15, 0, tzinfo=LONDON), tick=False):
        issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
        services.issue_contact_ra(user=staff, issue=issue, question="Unlock?", send_via="app")
    issue.refresh_from_db()
    assert issue.due_at == datetime(2026, 11, 25, 15, 0, tzinfo=LONDON)
    # Four working days later (Thursday, Friday, Monday, Tuesday), and a little more.
    with time_machine.travel(datetime(2026, 12, 1, 16, 0, tzinfo=LONDON), tick=False):
        client.force_login(staff)
        page = client.get(detail(issue)).content.decode()
        listed = client.get(reverse("issues:list")).content.decode()
    words = "RA reply overdue since Wednesday 25 November, 15:00 (4 working days)"
    assert words in text_of(page, class_name="app-issue-deadline")
    assert words in listed


def test_it_warns_when_the_deadline_has_passed(client, pharmacy, staff):
    with time_machine.travel(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON), tick=False):
        issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
        services.issue_contact_ra(user=staff, issue=issue, question="Please unlock my card.", send_via="app")
    with time_machine.travel(datetime(2026, 12, 3, 9, 0, tzinfo=LONDON), tick=False):
        client.force_login(staff)
        page = client.get(detail(issue)).content.decode()
    assert "Overdue" in page
    deadline = text_of(page, class_name="app-issue-deadline")
    assert "RA reply overdue since Wednesday 2 December, 10:00 (less than a working day)" in deadline
    assert "due by" not in deadline


def test_it_says_half_a_working_day_for_an_emergency(client, pharmacy, staff):
    with time_machine.travel(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON), tick=False):
        client.force_login(staff)
        issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, is_emergency=True)
        services.issue_contact_ra(user=staff, issue=issue, question="Lost.", send_via="app")
        page = client.get(detail(issue)).content.decode()
    assert "RA reply due by Monday 30 November, 14:00: half a working day" in page
    assert "Emergency" in page


def test_it_moves_on_to_cis_self_service(client, staff, issue):
    client.force_login(staff)
    response = client.post(action(issue, "try_cis"), {"try_cis-note": "Renew option greyed out."})
    assert response.status_code == 302 and response.url == detail(issue)
    issue.refresh_from_db()
    assert issue.state == State.CIS_SELF_SERVICE
    event = issue.events.get(kind=EventKind.TRANSITION)
    assert event.actor == staff and event.text == "Renew option greyed out."
    assert "You are now trying Care Identity Service self-service." in client.get(detail(issue)).content.decode()


def test_it_resolves_with_the_step_that_fixed_it(client, staff, issue):
    client.force_login(staff)
    response = client.post(
        action(issue, "resolve"), {"resolve-fixed_by_step": "in_pharmacy", "resolve-note": "A colleague unlocked it."}
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.state, issue.fixed_by_step, issue.resolution_note) == (
        State.RESOLVED,
        "in_pharmacy",
        "A colleague unlocked it.",
    )
    page = client.get(detail(issue)).content.decode()
    assert "Fixed in the pharmacy" in page
    assert action(issue, "reopen") in page


def test_it_shows_errors_and_changes_nothing_when_a_form_is_incomplete(client, staff, issue):
    client.force_login(staff)
    response = client.post(action(issue, "resolve"), {"resolve-fixed_by_step": "", "resolve-note": ""})
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in page and "<title>Error:" in page
    assert 'href="#resolve-fixed_by_step"' in page and 'href="#resolve-note"' in page
    assert 'id="action-resolve"' in page and "open" in page.split('id="action-resolve"')[1][:20]
    issue.refresh_from_db()
    assert issue.state == State.IN_PHARMACY
    assert not issue.events.exists()


def test_it_shows_a_refusal_as_a_message_not_an_error_page(client, staff, issue):
    client.force_login(staff)
    # Only the owner may copy the LPC in, and only once the RA was contacted.
    response = client.post(action(issue, "cc_lpc"), {"cc_lpc-note": ""})
    assert response.status_code == 403
    assert "Only the pharmacy&#39;s owner can copy the LPC in." in response.content.decode()
    issue.refresh_from_db()
    assert issue.state == State.IN_PHARMACY


def test_it_explains_when_a_step_is_not_possible_now(client, staff, pharmacy):
    cis = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.CIS_SELF_SERVICE)
    client.force_login(staff)
    response = client.post(action(cis, "try_cis"), {"try_cis-note": ""})
    assert response.status_code == 409
    assert "is not possible now" in response.content.decode()
    assert not cis.events.exists()


def test_it_says_the_issue_was_changed_by_someone_else_when_it_loses_a_race(client, staff, owner, issue):
    """Another request withdraws the issue between this one reading it and saving it."""

    def someone_else_withdraws_it(sender, instance, **kwargs):
        pre_save.disconnect(someone_else_withdraws_it, sender=Issue)
        Issue.objects.filter(pk=instance.pk).update(state=State.WITHDRAWN)

    client.force_login(staff)
    pre_save.connect(someone_else_withdraws_it, sender=Issue)
    try:
        response = client.post(action(issue, "try_cis"), {"try_cis-note": ""})
    finally:
        pre_save.disconnect(someone_else_withdraws_it, sender=Issue)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()
    assert not issue.events.filter(kind=EventKind.TRANSITION).exists()


def test_it_logs_the_ra_reply_and_stops_the_ra_window(client, pharmacy, staff):
    client.force_login(staff)
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    services.issue_contact_ra(user=staff, issue=issue, question="Unlock?", send_via="app")
    response = client.post(action(issue, "ra_reply"), {"ra_reply-text": "Unlocked it for you."})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE
    assert issue.events.filter(kind=EventKind.RA_REPLY, text="Unlocked it for you.").exists()


def test_it_logs_a_phone_call_with_the_ra(client, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)  # the RA was asked
    client.force_login(staff)
    response = client.post(action(issue, "phone_call"), {"phone_call-with_ra": "ra", "phone_call-text": "Rang them."})
    assert response.status_code == 302
    event = issue.events.get(kind=EventKind.PHONE_CALL)
    assert event.data == {"with_ra": True} and event.text == "Rang them."


def test_it_lets_the_owner_copy_in_the_lpc(client, pharmacy, staff, owner):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    services.issue_contact_ra(user=staff, issue=issue, question="Unlock?", send_via="app")
    client.force_login(owner)
    response = client.post(action(issue, "cc_lpc"), {"cc_lpc-note": "Please help."})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.state == State.LPC_CC
    assert OutboundEmail.objects.filter(issue=issue, purpose=MailPurpose.LPC_CC).exists()


def test_it_lets_the_lpc_officer_escalate_to_cpe_it(client, pharmacy, staff, owner, lpc_officer):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    services.issue_contact_ra(user=staff, issue=issue, question="Unlock?", send_via="app")
    services.issue_cc_lpc(user=owner, issue=issue, note="")
    client.force_login(lpc_officer)
    response = client.post(action(issue, "escalate_to_cpe"), {"escalate_to_cpe-note": "The RA does not answer."})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.state == State.ESCALATED


def test_it_lets_the_reporter_withdraw_and_reopen_is_not_offered(client, staff, issue):
    client.force_login(staff)
    response = client.post(action(issue, "withdraw"), {"withdraw-reason": "Reported twice."})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.state == State.WITHDRAWN
    page = client.get(detail(issue)).content.decode()
    assert "Reported twice." in page
    assert action(issue, "reopen") not in page and action(issue, "withdraw") not in page


def test_it_reopens_a_resolved_issue(client, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RESOLVED)
    client.force_login(staff)
    response = client.post(action(issue, "reopen"), {"reopen-reason": "Locked again."})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.state == State.RA_CONTACTED


def test_it_adds_a_note_and_shows_html_in_it_as_text(client, staff, issue):
    client.force_login(staff)
    client.post(action(issue, "note"), {"note-text": '<img src=x onerror="alert(1)">\nsecond line'})
    page = client.get(detail(issue)).content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;\nsecond line" in page


def test_it_refuses_anything_but_a_post_for_actions(client, staff, issue):
    client.force_login(staff)
    assert client.get(action(issue, "try_cis")).status_code == 405
    issue.refresh_from_db()
    assert issue.state == State.IN_PHARMACY


def test_it_answers_404_for_an_unknown_action_or_an_issue_out_of_scope(client, staff, outsider, issue):
    client.force_login(staff)
    assert client.post(action(issue, "explode"), {}).status_code == 404
    client.force_login(outsider)
    assert client.post(action(issue, "note"), {"note-text": "hello"}).status_code == 404
    assert not issue.events.exists()


def test_it_lists_every_event_with_its_emails_and_their_delivery_status(client, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    services.issue_contact_ra(user=staff, issue=issue, question="Unlock?", send_via="app")
    OutboundEmail.objects.filter(issue=issue).update(status=OutboundEmail.Status.DELIVERED)
    client.force_login(staff)
    page = client.get(detail(issue)).content.decode()
    assert "RA contacted" in page
    assert pharmacy.ra.email in page
    assert "Delivered" in page and "nhsuk-tag--green" in page
    kinds = list(IssueEvent.objects.filter(issue=issue).values_list("pk", flat=True))
    positions = [page.index(f'id="event-{pk}"') for pk in kinds]
    assert positions == sorted(positions)


def test_it_reads_the_page_in_a_constant_number_of_queries(client, pharmacy, staff):
    few = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    many = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    for issue, count in ((few, 2), (many, 60)):
        services.issue_contact_ra(user=staff, issue=issue, question="Unlock?", send_via="app")
        IssueEventFactory.create_batch(count, issue=issue, actor=staff)
    client.force_login(staff)
    client.get(detail(few))  # warm the session and any caches
    counts = []
    for issue in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(detail(issue)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[1] <= 25


def add_correspondence(issue: Issue, count: int) -> None:
    """`count` inbound emails (each with a stored and a refused attachment) and `count` outbound
    emails (two to an event), each on its own event of the timeline."""
    for n in range(count):
        received = IssueEventFactory.create(issue=issue, kind=EventKind.EMAIL_IN, actor=None, text="The RA replied.")
        mail = InboundEmail.objects.create(
            esp_name="test",
            message_id=f"<reply-{issue.pk}-{n}@ra.example.nhs.uk>",
            from_email="ra@example.nhs.uk",
            subject=f"Re: [{issue.reference}] reply {n}",
            body_text=f"Reply number {n}.",
        )
        InboundEmailMatch.objects.create(
            email=mail,
            issue=issue,
            event=received,
            matched_by=InboundEmailMatch.MatchedBy.TOKEN,
            sender_role=InboundEmailMatch.Sender.RA,
        )
        InboundAttachment.objects.create(
            email=mail, filename=f"form-{n}.pdf", size=2048, file=f"inbound/2026/01/{n:016x}/form-{n}.pdf"
        )
        InboundAttachment.objects.create(email=mail, filename=f"scan-{n}.tiff", refused_reason="Too large to keep.")
        sent = IssueEventFactory.create(issue=issue, kind=EventKind.NOTE, text="Chased the RA.")
        for copy in range(2):
            outbound_email_about(
                issue,
                event=sent,
                purpose=MailPurpose.NOTIFICATION,
                from_email="route@example.org",
                to=["ra@example.nhs.uk"],
                subject=f"[{issue.reference}] Chasing the RA {n}.{copy}",
                body_text="Any news?",
                message_id=f"<chase-{issue.pk}-{n}-{copy}@example.org>",
                status=OutboundEmail.Status.DELIVERED,
            )


def test_it_reads_the_page_in_a_constant_number_of_queries_however_much_mail_it_has(
    client, pharmacy, staff, django_assert_max_num_queries
):
    few = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    many = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    for issue, count in ((few, 1), (many, 40)):
        services.issue_contact_ra(user=staff, issue=issue, question="Unlock?", send_via="app")
        add_correspondence(issue, count)
        IssueEventFactory.create_batch(count, issue=issue, actor=staff)
    client.force_login(staff)
    client.get(detail(few))  # warm the session and any caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(detail(few)).status_code == 200
    with django_assert_max_num_queries(len(queries)):
        page = client.get(detail(many)).content.decode()
    assert page.count("Reply number") == 40
    assert page.count("Too large to keep.") == 40
    assert page.count("form-39.pdf") == 1
    assert page.count("Chasing the RA") == 80


# Where the route allows an RA reply or a call with the RA (issues.route.RA_ASKED) ----------------


def test_it_refuses_the_ras_reply_before_the_ra_was_asked_with_a_message(client, staff, issue):
    client.force_login(staff)
    response = client.post(action(issue, "ra_reply"), {"ra_reply-text": "The RA rang back."})
    assert response.status_code == 409
    page = response.content.decode()
    assert "That could not be done" in page and "contact the RA first" in page
    assert not issue.events.exists()


def test_it_refuses_a_call_with_the_ra_before_the_ra_was_asked_but_logs_other_calls(client, staff, issue):
    client.force_login(staff)
    response = client.post(action(issue, "phone_call"), {"phone_call-with_ra": "ra", "phone_call-text": "Rang."})
    assert response.status_code == 409
    assert "contact the RA first" in response.content.decode()
    assert not issue.events.exists()
    response = client.post(action(issue, "phone_call"), {"phone_call-with_ra": "other", "phone_call-text": "IT."})
    assert response.status_code == 302
    assert issue.events.get(kind=EventKind.PHONE_CALL).data == {"with_ra": False}


def test_it_asks_who_was_on_the_call(client, staff, issue):
    client.force_login(staff)
    response = client.post(action(issue, "phone_call"), {"phone_call-text": "Rang."})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'href="#phone_call-with_ra"' in page and "Choose who you spoke to." in page
    assert not issue.events.exists()


@pytest.mark.parametrize("name", ["ra_reply", "phone_call"])
def test_it_refuses_a_reply_or_a_call_on_a_closed_issue(client, pharmacy, staff, name):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RESOLVED)
    client.force_login(staff)
    page = client.get(detail(issue)).content.decode()
    assert action(issue, name) not in page and action(issue, "note") in page
    response = client.post(action(issue, name), {f"{name}-text": "Late.", f"{name}-with_ra": "other"})
    assert response.status_code == 409
    assert "is not possible now: the issue is &#39;Resolved&#39;" in response.content.decode()
    assert not issue.events.exists()


def test_it_offers_the_ras_reply_once_the_ra_was_asked(client, pharmacy, staff):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    client.force_login(staff)
    page = client.get(detail(issue)).content.decode()
    assert action(issue, "ra_reply") in page and "Log the RA&#39;s reply" in page


def test_it_offers_no_cis_step_for_a_kind_only_the_ra_can_fix(client, pharmacy, staff):
    lost = IssueFactory.create(pharmacy=pharmacy, reporter=staff, kind="lost_stolen_damaged")
    client.force_login(staff)
    page = client.get(detail(lost)).content.decode()
    assert action(lost, "try_cis") not in page and "Move on to CIS self-service" not in page
    assert reverse("issues:contact_ra", args=[lost.reference]) in page
    response = client.post(action(lost, "try_cis"), {"try_cis-note": ""})
    assert response.status_code == 409
    assert "Only the RA can fix this kind of problem" in response.content.decode()
    lost.refresh_from_db()
    assert lost.state == State.IN_PHARMACY


def test_it_titles_each_action_with_what_the_person_does_now(client, staff, issue):
    client.force_login(staff)
    page = client.get(detail(issue)).content.decode()
    assert "Move on to CIS self-service" in page
    assert "I have tried" not in page


def test_the_timeline_asks_for_inbound_mail_only_when_it_has_some(pharmacy, staff, django_assert_num_queries):
    from issues.selectors import issue_events

    quiet = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    IssueEventFactory.create_batch(3, issue=quiet, actor=staff)
    with django_assert_num_queries(2):  # the events with their actors; the outbox rows
        assert len(issue_events(issue=quiet)) >= 3
    busy = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    add_correspondence(busy, 2)
    with django_assert_num_queries(4):  # and the inbound emails with their attachments, prefetched
        events = issue_events(issue=busy)
        received = [event for event in events if event.kind == EventKind.EMAIL_IN]
        replies = [match.email.body_text for event in received for match in event.inbound_matches.all()]
        files = [
            a.filename for event in received for m in event.inbound_matches.all() for a in m.email.attachments.all()
        ]
        sent = [email.subject for event in events for email in event.emails.all()]
    assert replies == ["Reply number 0.", "Reply number 1."]
    assert sorted(files) == ["form-0.pdf", "form-1.pdf", "scan-0.tiff", "scan-1.tiff"]
    assert len(sent) == 4
