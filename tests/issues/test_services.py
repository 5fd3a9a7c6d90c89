"""The service layer: reporting, each transition's fields, guards, events and clock; notes, calls and
the RA's replies. (Who may run which transition from which state: test_transitions.py.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from issues import services
from issues.correspondence.outbound import issue_ra_request_preview
from issues.exceptions import IssueActionForbidden, TransitionNotAllowedNow
from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose, State
from smartcard_route.mail.models import OutboundEmail
from tests.issues.factories import IssueFactory

LONDON = ZoneInfo("Europe/London")
MONDAY_10 = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)


def report(user, pharmacy, **overrides):
    fields: dict[str, Any] = {
        "kind": "locked",
        "summary": "Card locked",
        "contact_name": "Sam Patel",
        "contact_phone": "0113 496 0002",
        "smartcard_number": "1234 5678 9012",
    }
    fields.update(overrides)
    return services.issue_report(user=user, pharmacy=pharmacy, **fields)


def kinds_of_events(issue) -> list[str]:
    return list(IssueEvent.objects.filter(issue=issue).order_by("pk").values_list("kind", flat=True))


# Reporting ------------------------------------------------------------------------------------


def test_it_reports_an_issue_with_normalised_fields_and_a_reported_event(staff, pharmacy):
    issue = report(staff, pharmacy, contact_phone="  0113  496 0002 ", is_emergency=True)
    assert (issue.state, issue.reporter, issue.pharmacy) == (State.IN_PHARMACY, staff, pharmacy)
    assert issue.smartcard_number == "123456789012"
    assert issue.contact_phone == "0113 496 0002"
    assert issue.is_emergency
    assert issue.due_at is None
    event = IssueEvent.objects.get(issue=issue)
    assert (event.kind, event.actor, event.to_state) == (EventKind.REPORTED, staff, State.IN_PHARMACY)
    assert issue.reference == f"SC-{issue.pk:06d}"


def test_it_names_every_bad_field_and_saves_nothing(staff, pharmacy):
    with pytest.raises(ValidationError) as raised:
        report(
            staff,
            pharmacy,
            kind="exploded",
            summary="x" * 201,
            smartcard_number="1234",
            contact_name="",
            contact_phone="call me",
        )
    assert set(raised.value.message_dict) == {"kind", "summary", "smartcard_number", "contact_name", "contact_phone"}
    assert raised.value.message_dict["smartcard_number"] == [
        "Enter the 12-digit Smartcard number from the front of the card, below the photo."
    ]
    assert not Issue.objects.exists()
    assert not IssueEvent.objects.exists()


def test_it_refuses_a_number_and_no_card_yet_together(staff, pharmacy):
    with pytest.raises(ValidationError) as raised:
        report(staff, pharmacy, no_card_yet=True)
    assert "not both" in raised.value.message_dict["smartcard_number"][0]
    issue = report(staff, pharmacy, smartcard_number="", no_card_yet=True, kind="new_card")
    assert (issue.smartcard_number, issue.no_card_yet) == ("", True)


def test_it_refuses_text_that_cannot_be_stored(staff, pharmacy):
    with pytest.raises(ValidationError) as raised:
        report(staff, pharmacy, details="bad\x00byte")
    assert "details" in raised.value.message_dict


def test_it_stores_html_as_typed(staff, pharmacy):
    issue = report(staff, pharmacy, summary='<script>alert("x")</script> & <b>bold</b>')
    assert Issue.objects.get(pk=issue.pk).summary == '<script>alert("x")</script> & <b>bold</b>'


def test_it_lets_only_the_pharmacys_people_report(pharmacy, outsider, lpc_officer, cpe_it, owner):
    for user in (outsider, lpc_officer, cpe_it):
        with pytest.raises(IssueActionForbidden):
            report(user, pharmacy)
    assert report(owner, pharmacy).reporter == owner


# Contacting the RA -----------------------------------------------------------------------------


def test_it_starts_the_ra_reply_window_when_the_ra_is_contacted(issue, staff):
    with time_machine.travel(MONDAY_10, tick=False):
        services.issue_contact_ra(user=staff, issue=issue, question="Please unlock")
    issue = Issue.objects.get(pk=issue.pk)
    assert issue.due_at == datetime(2026, 12, 2, 10, 0, tzinfo=LONDON)
    assert (issue.due_kind, issue.reminders_sent) == (Deadline.RA_REPLY, 0)
    clock = IssueEvent.objects.get(issue=issue, kind=EventKind.CLOCK)
    assert clock.text == "RA reply due by Wednesday 2 December 2026, 10:00 (2 working days)."
    assert clock.data["due_kind"] == Deadline.RA_REPLY


def test_it_gives_an_emergency_half_a_working_day(staff, pharmacy):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, is_emergency=True)
    with time_machine.travel(MONDAY_10, tick=False):
        services.issue_contact_ra(user=staff, issue=issue, question="Urgent")
    assert Issue.objects.get(pk=issue.pk).due_at == datetime(2026, 11, 30, 14, 0, tzinfo=LONDON)


def test_it_saves_the_confirmed_contact_details_with_the_request(issue, staff):
    services.issue_contact_ra(
        user=staff,
        issue=issue,
        question="Please unlock",
        contact_name="Jo Locum",
        contact_phone="+44 113 496 0009",
        smartcard_number="",
        no_card_yet=True,
    )
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.contact_name, issue.contact_phone, issue.no_card_yet) == ("Jo Locum", "+44 113 496 0009", True)
    assert "no card yet" in OutboundEmail.objects.get().body_text


def test_it_validates_the_request_and_saves_nothing(issue, staff):
    with pytest.raises(ValidationError) as raised:
        services.issue_contact_ra(
            user=staff,
            issue=issue,
            question="",
            contact_phone="12",
            smartcard_number="",
            send_via="pigeon",
        )
    assert set(raised.value.message_dict) == {"question", "contact_phone", "smartcard_number", "send_via"}
    issue = Issue.objects.get(pk=issue.pk)
    assert issue.state == State.IN_PHARMACY
    assert not OutboundEmail.objects.exists()
    assert kinds_of_events(issue) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ra": None}, "no Registration Authority"),
        ({"ra_active": False}, "no Registration Authority"),
        ({"ra_email": ""}, "no email address"),
    ],
)
def test_it_needs_an_ra_with_an_email_in_the_directory(issue, staff, change, message):
    ra = issue.pharmacy.ra
    if "ra" in change:
        issue.pharmacy.ra = None
        issue.pharmacy.save()
    if "ra_active" in change:
        ra.active = False
        ra.save()
    if "ra_email" in change:
        ra.email = ""
        ra.save()
    issue = Issue.objects.get(pk=issue.pk)
    with pytest.raises(TransitionNotAllowedNow, match=message):
        services.issue_contact_ra(user=staff, issue=issue, question="Please unlock")
    assert Issue.objects.get(pk=issue.pk).state == State.IN_PHARMACY


def test_it_prepares_the_request_for_the_users_own_mail_client(issue):
    preview = issue_ra_request_preview(issue=issue, question="Please add my email & unlock <now>")
    assert preview.to == issue.pharmacy.ra.email
    assert preview.cc == [f"issues+{issue.tracking_token}@smartcard-route.localhost"]
    assert preview.subject.startswith(f"[{issue.reference}] ")
    for expected in ("Please add my email & unlock <now>", "FA123", "Sam Patel", "0113 496 0002", "1234 5678 9012"):
        assert expected in preview.body_text
    assert "&amp; unlock &lt;now&gt;" in preview.body_html
    assert preview.mailto_url.startswith(f"mailto:{issue.pharmacy.ra.email}?cc=issues%2B")
    assert "%26%20unlock%20%3Cnow%3E" in preview.mailto_url
    assert preview.missing == []


def test_it_says_what_the_directory_lacks_in_the_preview(issue):
    issue.pharmacy.ra = None
    issue.pharmacy.save()
    preview = issue_ra_request_preview(issue=Issue.objects.get(pk=issue.pk))
    assert preview.missing == ["ra"]
    assert preview.to == ""


# The LPC and CPE IT ----------------------------------------------------------------------------


def test_it_starts_the_lpc_window_and_involves_the_lpc(staff, owner, lpc_officer, pharmacy):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    with time_machine.travel(MONDAY_10, tick=False):
        services.issue_cc_lpc(user=owner, issue=issue, note="Please help")
    issue = Issue.objects.get(pk=issue.pk)
    assert issue.lpc_involved_at == MONDAY_10
    assert (issue.due_kind, issue.due_at) == (Deadline.LPC_ACTION, datetime(2026, 12, 2, 10, 0, tzinfo=LONDON))
    forward = OutboundEmail.objects.get(purpose=MailPurpose.LPC_CC)
    assert set(forward.to) == {pharmacy.lpc.email, lpc_officer.email}


def test_it_needs_an_lpc_to_copy_in(staff, owner, pharmacy):
    pharmacy.lpc = None
    pharmacy.save()
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    with pytest.raises(TransitionNotAllowedNow, match="no LPC"):
        services.issue_cc_lpc(user=owner, issue=issue)


def test_it_needs_ra_correspondence_to_escalate(staff, lpc_officer, pharmacy):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    with pytest.raises(TransitionNotAllowedNow, match="RA correspondence"):
        services.issue_escalate_to_cpe(user=lpc_officer, issue=issue, note="Stuck")
    services.issue_log_phone_call(user=lpc_officer, issue=issue, text="The RA will not help", with_ra=True)
    with time_machine.travel(MONDAY_10, tick=False):
        services.issue_escalate_to_cpe(user=lpc_officer, issue=issue, note="Stuck")
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.state, issue.due_kind) == (State.ESCALATED, Deadline.CPE_TRIAGE)
    assert issue.due_at == datetime(2026, 12, 2, 10, 0, tzinfo=LONDON)
    assert "The RA will not help" in OutboundEmail.objects.get(purpose="cpe_escalation").body_text


def test_it_needs_a_note_to_escalate(staff, lpc_officer, pharmacy):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    with pytest.raises(ValidationError) as raised:
        services.issue_escalate_to_cpe(user=lpc_officer, issue=issue, note="  ")
    assert "note" in raised.value.message_dict


# Resolving, withdrawing --------------------------------------------------------------------------


def test_it_clears_the_clock_on_resolve(staff, pharmacy):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    services.issue_contact_ra(user=staff, issue=issue, question="Please unlock")
    services.issue_resolve(user=staff, issue=issue, note="Unlocked", fixed_by_step="ra")
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.due_at, issue.due_kind) == (None, "")
    assert (issue.resolution_note, issue.fixed_by_step, issue.resolved_from_state) == ("Unlocked", "ra", "ra_contacted")
    assert issue.resolved_at is not None
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.CLOCK).latest("pk").text == (
        "No longer waiting for the RA's reply."
    )


def test_it_needs_a_resolution_and_the_step_that_fixed_it(issue, staff):
    with pytest.raises(ValidationError) as raised:
        services.issue_resolve(user=staff, issue=issue, note="", fixed_by_step="magic")
    assert set(raised.value.message_dict) == {"note", "fixed_by_step"}


def test_it_clears_the_clock_on_withdraw(staff, pharmacy):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    services.issue_withdraw(user=staff, issue=issue, reason="Duplicate of SC-000001")
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.state, issue.due_at, issue.withdrawn_reason) == (State.WITHDRAWN, None, "Duplicate of SC-000001")


def test_it_restarts_the_window_of_the_state_it_reopens_to(staff, pharmacy):
    issue = IssueFactory.create(
        pharmacy=pharmacy, reporter=staff, state=State.RESOLVED, resolved_from_state=State.LPC_CC
    )
    with time_machine.travel(MONDAY_10, tick=False):
        services.issue_reopen(user=staff, issue=issue, reason="Locked again")
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.state, issue.due_kind) == (State.LPC_CC, Deadline.LPC_ACTION)


# Notes, calls and the RA's replies ---------------------------------------------------------------


def test_it_stops_the_ra_window_when_the_ra_replies(issue, staff):
    with time_machine.travel(MONDAY_10, tick=False):
        services.issue_contact_ra(user=staff, issue=issue, question="Please unlock")
    with time_machine.travel(datetime(2026, 12, 1, 11, 0, tzinfo=LONDON), tick=False):
        event = services.issue_log_ra_reply(user=staff, issue=issue, text="Added your email; unlock it yourself.")
    assert event.kind == EventKind.RA_REPLY
    assert (issue.due_kind, issue.due_at) == (Deadline.PHARMACY_UPDATE, datetime(2026, 12, 8, 11, 0, tzinfo=LONDON))
    fresh = Issue.objects.get(pk=issue.pk)
    assert (fresh.due_kind, fresh.due_at, fresh.state) == (issue.due_kind, issue.due_at, State.RA_CONTACTED)
    clocks = IssueEvent.objects.filter(issue=issue, kind=EventKind.CLOCK).order_by("pk")
    assert [c.text for c in clocks][-2:] == [
        "No longer waiting for the RA's reply.",
        "Pharmacy update due by Tuesday 8 December 2026, 11:00 (5 working days).",
    ]


def test_it_counts_a_call_with_the_ra_as_its_reply_but_not_other_calls(issue, staff):
    services.issue_contact_ra(user=staff, issue=issue, question="Please unlock")
    services.issue_log_phone_call(user=staff, issue=issue, text="Called our IT", with_ra=False)
    assert Issue.objects.get(pk=issue.pk).due_kind == Deadline.RA_REPLY
    services.issue_log_phone_call(user=staff, issue=issue, text="The RA will call back", with_ra=True)
    assert Issue.objects.get(pk=issue.pk).due_kind == Deadline.PHARMACY_UPDATE


def test_it_leaves_the_lpc_window_alone_when_the_ra_replies(staff, pharmacy):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.LPC_CC)
    due = issue.due_at
    services.issue_log_ra_reply(user=staff, issue=issue, text="Working on it")
    fresh = Issue.objects.get(pk=issue.pk)
    assert (fresh.due_kind, fresh.due_at) == (Deadline.LPC_ACTION, due)


def test_it_adds_notes_for_anyone_in_scope_only(issue, staff, outsider):
    event = services.issue_add_note(user=staff, issue=issue, text="<b>Tried</b> the buddy pharmacy")
    assert (event.kind, event.text, event.actor) == (EventKind.NOTE, "<b>Tried</b> the buddy pharmacy", staff)
    with pytest.raises(IssueActionForbidden):
        services.issue_add_note(user=outsider, issue=issue, text="Hello")
    with pytest.raises(ValidationError):
        services.issue_add_note(user=staff, issue=issue, text="   ")


def test_it_walks_the_route_from_report_to_resolution(staff, owner, lpc_officer, cpe_it, pharmacy):
    issue = report(staff, pharmacy)
    services.issue_try_cis(user=staff, issue=issue, note="Self-unlock failed")
    services.issue_contact_ra(user=staff, issue=issue, question="Please unlock")
    services.issue_cc_lpc(user=owner, issue=issue, note="No reply")
    services.issue_escalate_to_cpe(user=lpc_officer, issue=issue, note="RA silent")
    services.issue_resolve(user=cpe_it, issue=issue, note="NHSE TD", fixed_by_step="cpe_it")
    transitions = IssueEvent.objects.filter(issue=issue, kind=EventKind.TRANSITION).order_by("pk")
    assert [(e.from_state, e.to_state) for e in transitions] == [
        ("in_pharmacy", "cis_self_service"),
        ("cis_self_service", "ra_contacted"),
        ("ra_contacted", "lpc_cc"),
        ("lpc_cc", "escalated"),
        ("escalated", "resolved"),
    ]
    purposes = list(OutboundEmail.objects.filter(issue=issue).order_by("pk").values_list("purpose", flat=True))
    assert purposes == ["ra_request", "lpc_cc", "cpe_escalation"]
    assert mail.outbox == []  # all of them wait for the worker


# Where the route allows an RA reply or a call with the RA (issues.route.RA_ASKED) ----------------


@pytest.mark.parametrize("state", [State.IN_PHARMACY, State.CIS_SELF_SERVICE])
def test_it_logs_no_ra_reply_nor_call_with_the_ra_before_the_ra_was_asked(staff, pharmacy, state):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state)
    with pytest.raises(TransitionNotAllowedNow, match="contact the RA first"):
        services.issue_log_ra_reply(user=staff, issue=issue, text="The RA rang back.")
    with pytest.raises(TransitionNotAllowedNow, match="contact the RA first"):
        services.issue_log_phone_call(user=staff, issue=issue, text="Rang the RA.", with_ra=True)
    assert kinds_of_events(issue) == []
    event = services.issue_log_phone_call(user=staff, issue=issue, text="Rang our IT.", with_ra=False)
    assert (event.kind, event.data) == (EventKind.PHONE_CALL, {"with_ra": False})


@pytest.mark.parametrize("state", [State.RESOLVED, State.WITHDRAWN])
def test_it_logs_no_reply_nor_call_on_a_closed_issue_but_a_note(staff, pharmacy, state):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state)
    label = Issue.objects.get(pk=issue.pk).get_state_display()
    with pytest.raises(TransitionNotAllowedNow, match=f"not possible now: the issue is '{label}'"):
        services.issue_log_ra_reply(user=staff, issue=issue, text="The RA replied after all.")
    for with_ra in (True, False):
        with pytest.raises(TransitionNotAllowedNow, match="not possible now"):
            services.issue_log_phone_call(user=staff, issue=issue, text="Rang them.", with_ra=with_ra)
    assert kinds_of_events(issue) == []
    assert services.issue_add_note(user=staff, issue=issue, text="For the record.").kind == EventKind.NOTE


@pytest.mark.parametrize("state", [State.RA_CONTACTED, State.LPC_CC, State.ESCALATED])
def test_it_logs_the_ras_reply_and_a_call_with_the_ra_once_the_ra_was_asked(staff, pharmacy, state):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=state)
    services.issue_log_ra_reply(user=staff, issue=issue, text="Unlocked.")
    services.issue_log_phone_call(user=staff, issue=issue, text="The RA confirmed.", with_ra=True)
    assert kinds_of_events(issue)[0] == EventKind.RA_REPLY
    assert EventKind.PHONE_CALL in kinds_of_events(issue)


def test_it_checks_the_issue_as_it_is_now_not_as_it_was_loaded(staff, owner, pharmacy):
    """Loaded while the RA was asked; withdrawn by someone else since: the reply is refused."""
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff, state=State.RA_CONTACTED)
    stale = Issue.objects.get(pk=issue.pk)
    services.issue_withdraw(user=owner, issue=issue, reason="Reported twice")
    with pytest.raises(TransitionNotAllowedNow, match="Withdrawn"):
        services.issue_log_ra_reply(user=staff, issue=stale, text="Unlocked.")
    assert not IssueEvent.objects.filter(issue=issue, kind=EventKind.RA_REPLY).exists()


def test_it_needs_to_know_who_was_on_the_call(issue, staff):
    with pytest.raises(ValidationError) as raised:
        services.issue_log_phone_call(user=staff, issue=issue, text="Rang.", with_ra=None)  # type: ignore[arg-type]
    assert raised.value.message_dict == {"with_ra": ["Choose who you spoke to."]}
