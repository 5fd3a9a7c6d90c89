"""The nudge sweep and the daily digest (issues.nudges): who is reminded, when, and what they read.

These run on SQLite and on PostgreSQL; tests/issues/test_exactly_once.py covers concurrency, worker
crashes and broker outages against PostgreSQL and a real worker on Redis.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from issues import nudges, services
from issues.filters import IssueFilter
from issues.models import (
    Deadline,
    EventKind,
    Issue,
    IssueEvent,
    IssueOutboundEmail,
    MailPurpose,
    NotificationPreference,
    NudgeDigestItem,
    State,
)
from issues.nudges import batch, rules
from smartcard_route.celery import app
from smartcard_route.mail import tasks as mail_tasks
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import SendOutcome, outbound_email_bodies, outbound_email_send, outbox
from tests.issues.factories import IssueFactory, LPCFactory, PharmacyFactory, PharmacyOwnerFactory, UserFactory

LONDON = ZoneInfo("Europe/London")


def london(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def make_issue(**fields: Any) -> Issue:
    return cast(Issue, IssueFactory(**fields))


def sweep_at(moment: datetime) -> nudges.SweepResult:
    with time_machine.travel(moment, tick=False):
        return nudges.nudges_sweep()


def nudge_events(issue: Issue) -> list[IssueEvent]:
    return list(IssueEvent.objects.filter(issue=issue, kind=EventKind.NUDGE).order_by("created_at", "pk"))


def nudge_emails(issue: Issue) -> dict[str, OutboundEmail]:
    rows = OutboundEmail.objects.filter(issue=issue, purpose=MailPurpose.NUDGE).order_by("pk")
    return {row.to[0]: row for row in rows}


def text_of(email: OutboundEmail) -> str:
    """The text part as it will be sent (the sweep queues a template; the sender renders it)."""
    return outbound_email_bodies(email)[0]


def html_of(email: OutboundEmail) -> str:
    return outbound_email_bodies(email)[1]


@pytest.fixture
def reported(staff, owner, pharmacy):
    """Reported by `staff` on Thursday 24 December 2026 (Christmas week: 25 and 28 December and
    1 January are bank holidays)."""
    with time_machine.travel(london(2026, 12, 24, 9, 30), tick=False):
        return services.issue_report(
            user=staff,
            pharmacy=pharmacy,
            kind="locked",
            summary="Card locked after three tries",
            contact_name="Sam Patel",
            contact_phone="0113 496 0002",
            smartcard_number="1234 5678 9012",
        )


@pytest.fixture
def ra_contacted(reported, staff):
    """The RA asked at 10:00 on Thursday 24 December: its two working days end at 10:00 on
    Wednesday 30 December (Friday 25 and Monday 28 December are bank holidays)."""
    with time_machine.travel(london(2026, 12, 24, 10, 0), tick=False):
        services.issue_contact_ra(user=staff, issue=reported, question="Please unlock it")
    reported.refresh_from_db()
    assert reported.due_at == london(2026, 12, 30, 10, 0)
    return reported


def test_it_nudges_the_reporter_and_owner_when_the_ra_window_ends_across_christmas(ra_contacted, staff, owner):
    issue = ra_contacted
    assert sweep_at(london(2026, 12, 30, 9, 59)).nudged == 0
    assert nudge_events(issue) == []

    result = sweep_at(london(2026, 12, 30, 10, 0))

    assert (result.nudged, result.emails) == (1, 2)
    [event] = nudge_events(issue)
    assert event.data["due_kind"] == Deadline.RA_REPLY
    assert event.data["reminder"] == 1
    assert event.data["deadline"] == london(2026, 12, 30, 10, 0).isoformat()
    assert event.text == (
        "Reminder 1: no reply from the RA by Wednesday 30 December 2026, 10:00. "
        "Reminded: Olu Owner (owner), Sam Patel (reporter). Next reminder Monday 4 January 2027, 10:00."
    )
    issue.refresh_from_db()
    assert issue.reminders_sent == 1
    # The next reminder: two more working days, skipping New Year's Day and the weekend. The
    # deadline stays where it was: the issue is overdue since then.
    assert issue.next_nudge_at == london(2027, 1, 4, 10, 0)
    assert issue.due_at == london(2026, 12, 30, 10, 0)
    assert event.data["next_due"] == london(2027, 1, 4, 10, 0).isoformat()

    emails = nudge_emails(issue)
    assert set(emails) == {staff.email, owner.email}
    for email in emails.values():
        assert email.subject.startswith(f"[{issue.reference}] No reply from the RA yet")
        assert (email.issue_link.issue_id, email.issue_link.event_id) == (issue.pk, event.pk)
        assert email.status == OutboundEmail.Status.QUEUED
        assert email.reply_to == f"{settings.INBOUND_LOCAL_PART}+{issue.tracking_token}@{settings.INBOUND_DOMAIN}"
        assert email.message_id.startswith("<") and email.message_id.endswith(f"@{settings.INBOUND_DOMAIN}>")
        text, html = outbound_email_bodies(email)
        assert f"{settings.SITE_URL}/issues/{issue.reference}/" in text
        assert f'href="{settings.SITE_URL}/issues/{issue.reference}/"' in html
        assert "Riverside Pharmacy (ODS code FA123)" in text
        assert "0113 496 0000" in text  # the RA's phone number, to chase them
        assert "Reply was due by: Wednesday 30 December 2026, 10:00" in text
        assert "the next one comes on Monday 4 January 2027, 10:00" in text
    assert len({email.message_id for email in emails.values()}) == 2
    owner_email, staff_email = emails[owner.email], emails[staff.email]
    assert (owner_email.template, owner_email.context) == ("nudge_ra_reply_owner", {"role": "owner"})
    assert owner_email.subject.endswith("chase them or cc your LPC")
    assert f"{settings.SITE_URL}/issues/{issue.reference}/#action-cc_lpc" in text_of(owner_email)
    assert f'href="{settings.SITE_URL}/issues/{issue.reference}/#action-cc_lpc"' in html_of(owner_email)
    assert "#action-cc_lpc" not in text_of(staff_email)


def test_it_renders_a_reminder_when_sending_it_with_both_parts_and_its_headers(ra_contacted, owner):
    """The sweep queues each reminder with its template; the outbox renders it as it sends it, and
    keeps the bodies sent. Reminders are marked as automatic mail (Auto-Submitted, RFC 3834), so
    out-of-office replies leave them alone."""
    sweep_at(london(2026, 12, 30, 10, 0))
    email = nudge_emails(ra_contacted)[owner.email]
    assert (email.body_text, email.body_html) == ("", "")

    with time_machine.travel(london(2026, 12, 30, 10, 1), tick=False):
        assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.SENT

    [message] = mail.outbox
    assert message.to == [owner.email]
    assert message.subject == f"[{ra_contacted.reference}] No reply from the RA yet: chase them or cc your LPC"
    assert message.extra_headers["Message-ID"] == email.message_id
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert message.reply_to == [email.reply_to]
    assert f"{settings.SITE_URL}/issues/{ra_contacted.reference}/#action-cc_lpc" in message.body
    [(html, mimetype)] = message.alternatives  # type: ignore[attr-defined]
    assert mimetype == "text/html"
    assert f'href="{settings.SITE_URL}/issues/{ra_contacted.reference}/"' in html
    email.refresh_from_db()
    assert (email.status, email.body_text, email.body_html) == (OutboundEmail.Status.SENT, message.body, html)


def test_it_sends_nothing_again_for_the_same_deadline(ra_contacted):
    sweep_at(london(2026, 12, 30, 10, 0))
    assert sweep_at(london(2026, 12, 30, 10, 1)).nudged == 0
    assert sweep_at(london(2027, 1, 4, 9, 59)).nudged == 0
    assert len(nudge_events(ra_contacted)) == 1
    assert OutboundEmail.objects.filter(purpose=MailPurpose.NUDGE).count() == 2


def test_it_repeats_a_window_apart_then_daily_through_the_digest(ra_contacted, staff, owner, settings):
    settings.NUDGE_MAX_REMINDERS = 2
    issue = ra_contacted
    sweep_at(london(2026, 12, 30, 10, 0))  # reminder 1; next: two working days later
    assert sweep_at(london(2027, 1, 4, 9, 59)).nudged == 0
    assert sweep_at(london(2027, 1, 4, 10, 0)).nudged == 1  # reminder 2, the last a window apart
    issue.refresh_from_db()
    assert issue.next_nudge_at == london(2027, 1, 5, 10, 0)  # then one working day
    assert sweep_at(london(2027, 1, 5, 9, 59)).nudged == 0

    result = sweep_at(london(2027, 1, 5, 10, 0))  # reminder 3: past the maximum, into the digest

    assert (result.nudged, result.emails, result.digest_items) == (1, 0, 2)
    issue.refresh_from_db()
    assert (issue.reminders_sent, issue.next_nudge_at) == (3, london(2027, 1, 6, 10, 0))
    # Every reminder is about the one deadline, which none of them moved.
    assert issue.due_at == london(2026, 12, 30, 10, 0)
    events = nudge_events(issue)
    assert [e.data["reminder"] for e in events] == [1, 2, 3]
    assert {e.data["deadline"] for e in events} == {london(2026, 12, 30, 10, 0).isoformat()}
    assert events[1].text.startswith("Reminder 2: no reply from the RA by Wednesday 30 December 2026, 10:00. ")
    assert events[1].text.endswith("Next reminder Tuesday 5 January 2027, 10:00.")
    assert set(NudgeDigestItem.objects.values_list("user_id", flat=True)) == {staff.pk, owner.pk}
    assert OutboundEmail.objects.filter(purpose=MailPurpose.NUDGE).count() == 4


def test_it_chases_an_emergency_after_half_a_working_day(reported, staff):
    Issue.objects.filter(pk=reported.pk).update(is_emergency=True)
    reported.refresh_from_db()
    with time_machine.travel(london(2026, 12, 24, 14, 0), tick=False):  # Thursday afternoon
        services.issue_contact_ra(user=staff, issue=reported, question="Urgent")
    reported.refresh_from_db()
    # Three hours on Thursday, then one more after the bank holiday, the weekend and the substitute day.
    assert reported.due_at == london(2026, 12, 29, 10, 0)
    assert sweep_at(london(2026, 12, 29, 9, 59)).nudged == 0
    assert sweep_at(london(2026, 12, 29, 10, 0)).nudged == 1
    email = nudge_emails(reported)[staff.email]
    assert "This is an emergency, so phone them now on 0113 496 0000" in text_of(email)


def test_it_nudges_the_lpc_officers_when_the_lpc_window_ends(ra_contacted, owner, lpc_officer, staff):
    with time_machine.travel(london(2027, 1, 8, 16, 0), tick=False):  # Friday afternoon
        services.issue_cc_lpc(user=owner, issue=ra_contacted, note="Please help")
    issue = ra_contacted
    issue.refresh_from_db()
    assert (issue.state, issue.due_kind) == (State.LPC_CC, Deadline.LPC_ACTION)
    assert issue.due_at == london(2027, 1, 12, 16, 0)  # one hour Friday, eight Monday, seven Tuesday
    assert sweep_at(london(2027, 1, 12, 15, 59)).nudged == 0

    result = sweep_at(london(2027, 1, 12, 16, 0))

    assert (result.nudged, result.emails) == (1, 1)
    email = nudge_emails(issue)[lpc_officer.email]
    assert email.subject == f"[{issue.reference}] Waiting for the LPC: work with the RA or escalate to CPE IT"
    assert "work with the RA or the NHS England regional team" in text_of(email)
    assert "escalate it to the CPE IT team" in text_of(email)
    assert staff.email not in nudge_emails(issue)


def test_it_nudges_the_lpc_officers_when_the_follow_up_of_their_work_ends(ra_contacted, owner, lpc_officer, staff):
    with time_machine.travel(london(2027, 1, 8, 16, 0), tick=False):  # Friday afternoon
        services.issue_cc_lpc(user=owner, issue=ra_contacted, note="Please help")
    issue = ra_contacted
    with time_machine.travel(london(2027, 1, 11, 10, 0), tick=False):  # Monday
        services.issue_log_lpc_work(user=lpc_officer, issue=issue, with_whom="ra", how="call", text="Chased them.")
    issue.refresh_from_db()
    assert (issue.due_kind, issue.due_at) == (Deadline.LPC_FOLLOW_UP, london(2027, 1, 18, 10, 0))
    assert sweep_at(london(2027, 1, 12, 16, 0)).nudged == 0  # the LPC action window would have ended here
    assert sweep_at(london(2027, 1, 18, 9, 59)).nudged == 0

    result = sweep_at(london(2027, 1, 18, 10, 0))

    assert (result.nudged, result.emails) == (1, 1)
    email = nudge_emails(issue)[lpc_officer.email]
    assert email.subject == (
        f"[{issue.reference}] Follow up the LPC's work: resolve, log more work or escalate to CPE IT"
    )
    text, html = text_of(email), html_of(email)
    assert "within 5 working days" in text
    assert f"{issue.reference}/#action-resolve" in text
    assert f"{issue.reference}/#action-lpc_work" in text
    assert f"{issue.reference}/#action-escalate_to_cpe" in text
    assert "log what you have done</a>" in html
    [event] = nudge_events(issue)
    assert event.text.startswith(
        "Reminder 1: no update from the LPC since its last work on the issue by Monday 18 January 2027, 10:00."
    )
    assert staff.email not in nudge_emails(issue) and owner.email not in nudge_emails(issue)


def test_it_falls_back_to_the_lpc_mailbox_then_cpe_it_when_the_lpc_has_no_officers(pharmacy):
    issue = make_issue(pharmacy=pharmacy, state=State.LPC_CC, due_at=timezone.now())
    sweep_at(timezone.now())
    assert set(nudge_emails(issue)) == {pharmacy.lpc.email}

    other = make_issue(state=State.LPC_CC, due_at=timezone.now(), pharmacy__lpc__email="")
    sweep_at(timezone.now())
    assert set(nudge_emails(other)) == {settings.CPE_IT_EMAIL}


def test_it_nudges_cpe_it_when_the_triage_window_ends_after_a_bank_holiday_weekend(
    ra_contacted, owner, lpc_officer, cpe_it
):
    retired = UserFactory(is_cpe_it=True, is_active=False)
    issue = ra_contacted
    with time_machine.travel(london(2027, 5, 27, 10, 0), tick=False):
        services.issue_cc_lpc(user=owner, issue=issue, note="Please help")
    with time_machine.travel(london(2027, 5, 28, 14, 0), tick=False):
        services.issue_log_phone_call(user=lpc_officer, issue=issue, text="The RA has a backlog", with_ra=True)
    with time_machine.travel(london(2027, 5, 28, 15, 0), tick=False):  # Friday before the Spring bank holiday
        services.issue_escalate_to_cpe(user=lpc_officer, issue=issue, note="No progress locally")
    issue.refresh_from_db()
    # Two hours on Friday, none on the bank holiday Monday, eight on Tuesday, six on Wednesday.
    assert issue.due_at == london(2027, 6, 2, 15, 0)
    assert sweep_at(london(2027, 6, 2, 14, 59)).nudged == 0

    sweep_at(london(2027, 6, 2, 15, 0))

    emails = nudge_emails(issue)
    assert set(emails) == {settings.CPE_IT_EMAIL, cpe_it.email}
    assert retired.email not in emails
    assert emails[cpe_it.email].subject == f"[{issue.reference}] Escalation waiting for CPE IT triage"
    assert "triage the escalation" in text_of(emails[cpe_it.email])


def test_it_asks_the_reporter_whether_it_is_resolved_after_the_ra_replied(ra_contacted, staff, owner):
    with time_machine.travel(london(2026, 12, 29, 11, 0), tick=False):
        services.issue_log_ra_reply(user=staff, issue=ra_contacted, text="The RA unlocked the card")
    issue = ra_contacted
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE
    assert issue.due_at == london(2027, 1, 6, 11, 0)  # five working days, New Year's Day skipped
    assert sweep_at(london(2026, 12, 30, 10, 0)).nudged == 0  # the RA window was stopped

    sweep_at(london(2027, 1, 6, 11, 0))

    emails = nudge_emails(issue)
    assert set(emails) == {staff.email}
    assert emails[staff.email].subject.startswith(f"[{issue.reference}] Is it resolved?")
    assert f"{settings.SITE_URL}/issues/{issue.reference}/#action-resolve" in text_of(emails[staff.email])


def test_it_leaves_closed_and_not_yet_due_issues_alone(pharmacy):
    now = timezone.now()
    later = make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=now + timedelta(minutes=1))
    closed = make_issue(pharmacy=pharmacy, state=State.RESOLVED, due_at=now, due_kind=Deadline.RA_REPLY)
    waiting_for_nobody = make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=None)
    assert sweep_at(now).nudged == 0
    for issue in (later, closed, waiting_for_nobody):
        assert nudge_events(issue) == []


def test_it_skips_people_who_left_and_sends_one_email_to_someone_in_two_roles(pharmacy, owner):
    leaver = UserFactory(is_active=False)
    pharmacy.owner.members.add(leaver)
    issue = make_issue(pharmacy=pharmacy, reporter=owner, state=State.RA_CONTACTED, due_at=timezone.now())
    sweep_at(timezone.now())
    emails = nudge_emails(issue)
    assert list(emails) == [owner.email]
    assert "#action-cc_lpc" in text_of(emails[owner.email])  # the owner's version


def test_it_claims_nothing_when_the_cursor_changed_after_it_was_read(pharmacy):
    """The compare-and-set of the claim: a sweep that read a next reminder someone else has since
    moved wins nothing, and a claim moves the cursor only, never the deadline. (On PostgreSQL the
    read also locks the rows, so sweeps at once skip each other's: tests/issues/test_exactly_once.py.)"""
    now = timezone.now().replace(microsecond=123456)
    deadline = now - timedelta(minutes=5)
    issue = make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=deadline)
    rows: list[dict[str, Any]] = [dict(row) for row in nudges.due_issues(now=now).values("id", "next_nudge_at")]
    Issue.objects.filter(pk=issue.pk).update(next_nudge_at=now + timedelta(days=2))  # another sweep won
    for row in rows:
        row["next_due"] = now + timedelta(days=1)

    assert batch.claim(rows, now=now) == set()
    issue.refresh_from_db()
    assert (issue.next_nudge_at, issue.reminders_sent, issue.due_at) == (now + timedelta(days=2), 0, deadline)

    rows[0]["next_nudge_at"] = issue.next_nudge_at
    assert batch.claim(rows, now=now) == {issue.pk}
    issue.refresh_from_db()
    assert (issue.next_nudge_at, issue.reminders_sent, issue.due_at) == (now + timedelta(days=1), 1, deadline)
    assert issue.updated_at == now


def test_it_sweeps_in_bounded_batches(pharmacy, owner):
    overdue = [
        make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=timezone.now() - timedelta(hours=h))
        for h in range(1, 6)
    ]
    result = nudges.nudges_sweep(limit=2)
    assert (result.nudged, result.batches) == (5, 3)
    assert all(len(nudge_events(issue)) == 1 for issue in overdue)


def test_it_uses_a_constant_number_of_queries_per_batch(pharmacy, django_assert_num_queries):
    """A batch is its savepoint, the read, the claim, the events, the outbox rows, their links to
    the issue and event, the digest items and its release, however many issues it takes; the
    directory's people are fetched once per sweep (here the owner organisation's members and who
    they are: two queries)."""
    owners = [UserFactory.create() for _ in range(3)]
    pharmacy.owner.members.add(*owners)
    nudges.notification_preference_set(user=owners[0], nudge_delivery=NotificationPreference.Delivery.DAILY_DIGEST)
    now = timezone.now()
    for _ in range(40):
        make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=now)
    with django_assert_num_queries(2 + 8 * 4 + 3):  # four full batches of ten, then one that finds none
        result = nudges.nudges_sweep(now=now, limit=10)
    assert (result.nudged, result.emails, result.digest_items, result.batches) == (40, 40 * 3, 40, 5)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN output and partial indexes are PostgreSQL's")
def test_it_finds_due_reminders_through_the_partial_index(db):
    # Many open issues, few awaited ones: with the table's statistics, the index of the awaited
    # (issue_next_nudge_waiting) is the narrow one, not that of the open issues (issue_open_created_kind).
    pharmacy = PharmacyFactory.create()
    IssueFactory.create_batch(150, pharmacy=pharmacy, state=State.IN_PHARMACY)
    for issue in IssueFactory.create_batch(3, pharmacy=pharmacy, state=State.RA_CONTACTED):
        Issue.objects.filter(pk=issue.pk).update(
            due_at=timezone.now() - timedelta(hours=1), due_kind="ra_reply", next_nudge_at=timezone.now()
        )
    queryset = nudges.due_issues(now=timezone.now()).values("id")[:1000]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Issue._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned whole anyway
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "issue_next_nudge_waiting" in plan


def test_it_puts_reminders_in_the_digest_for_people_who_chose_it(ra_contacted, staff, owner):
    nudges.notification_preference_set(user=owner, nudge_delivery=NotificationPreference.Delivery.DAILY_DIGEST)
    result = sweep_at(london(2026, 12, 30, 10, 0))
    assert (result.emails, result.digest_items) == (1, 1)
    assert set(nudge_emails(ra_contacted)) == {staff.email}
    [event] = nudge_events(ra_contacted)
    assert "Olu Owner (owner, in the daily digest)" in event.text
    [pending] = NudgeDigestItem.objects.all()
    assert (pending.user_id, pending.event_id, pending.role) == (owner.pk, event.pk, "owner")

    with time_machine.travel(london(2026, 12, 31, 8, 0), tick=False):
        sent = nudges.nudge_digests_send()
        again = nudges.nudge_digests_send()

    assert (sent.emails, sent.items) == (1, 1)
    assert (again.emails, again.items) == (0, 0)
    [digest] = OutboundEmail.objects.filter(purpose=MailPurpose.DIGEST)
    assert digest.to == [owner.email]
    assert f"[{ra_contacted.reference}]" in digest.subject
    assert f"[{ra_contacted.reference}] Riverside Pharmacy (FA123)" in digest.body_text
    assert f"{settings.SITE_URL}/issues/{ra_contacted.reference}/#action-cc_lpc" in digest.body_text
    assert f'href="{settings.SITE_URL}/issues/{ra_contacted.reference}/"' in digest.body_html
    item = NudgeDigestItem.objects.get()
    assert (item.settled_at, item.digest_email_id) == (london(2026, 12, 31, 8, 0), digest.pk)


def test_it_drops_digest_items_for_issues_that_moved_on(ra_contacted, staff, owner):
    nudges.notification_preference_set(user=owner, nudge_delivery=NotificationPreference.Delivery.DAILY_DIGEST)
    sweep_at(london(2026, 12, 30, 10, 0))
    with time_machine.travel(london(2026, 12, 30, 15, 0), tick=False):
        services.issue_resolve(user=staff, issue=ra_contacted, note="Fixed", fixed_by_step="ra")

    with time_machine.travel(london(2026, 12, 31, 8, 0), tick=False):
        result = nudges.nudge_digests_send()

    assert (result.emails, result.items, result.dropped) == (0, 1, 1)
    assert not OutboundEmail.objects.filter(purpose=MailPurpose.DIGEST).exists()
    assert NudgeDigestItem.objects.filter(settled_at__isnull=True).count() == 0


def test_it_refuses_an_unknown_delivery_choice(owner):
    with pytest.raises(ValidationError):
        nudges.notification_preference_set(user=owner, nudge_delivery="hourly")
    assert not NotificationPreference.objects.filter(user=owner).exists()


def test_it_enqueues_delivery_once_per_batch_after_commit(ra_contacted, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sweep_at(london(2026, 12, 30, 10, 0))
    assert len(callbacks) == 1


def test_the_beat_schedule_sweeps_every_minute_and_digests_on_weekday_mornings():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["nudge-sweep"]["task"] == "issues.tasks.nudge_sweep"
    assert schedule["nudge-sweep"]["schedule"] == 60.0
    digest = schedule["nudge-daily-digest"]
    assert digest["task"] == "issues.tasks.send_nudge_digests"
    assert digest["schedule"] == crontab(hour=8, minute=0, day_of_week="mon-fri")
    assert settings.CELERY_TIMEZONE == "Europe/London"
    # A sweep is only acknowledged once it has run, and goes back to the queue if its worker dies.
    assert (settings.CELERY_TASK_ACKS_LATE, settings.CELERY_TASK_REJECT_ON_WORKER_LOST) == (True, True)


def test_it_keeps_every_character_of_what_people_typed(pharmacy, owner):
    summary = 'Card "locked", C:\\path\\ \t tab, 50% <script>alert(1)</script> & Ö\nsecond line'
    issue = make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=timezone.now(), summary=summary)
    sweep_at(timezone.now())
    email = nudge_emails(issue)[owner.email]
    text, html = outbound_email_bodies(email)
    assert f"Locked: {summary}" not in text  # the kind's label, not its value
    assert f"Card locked or passcode forgotten: {summary}" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Ö" in html
    assert "<script>" not in html
    assert "&#34;locked&#34;" in html


def test_it_keeps_every_character_of_the_names_it_writes_in_the_sweep(pharmacy, owner):
    """Names and addresses travel to PostgreSQL as JSON in the sweep's one write: quotes,
    backslashes, line breaks and non-ASCII letters arrive as they were."""
    owner.full_name = 'Zoë "Z" O\'Brien \\ Ltd\nSecond line'
    owner.save(update_fields=["full_name"])
    issue = make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=timezone.now())
    sweep_at(timezone.now())
    [event] = nudge_events(issue)
    assert f"Reminded: {owner.full_name} (owner), " in event.text
    email = nudge_emails(issue)[owner.email]
    assert (email.to, email.context) == ([owner.email], {"role": "owner"})


def test_the_links_in_a_reminder_lead_to_the_step_on_the_issue_page(ra_contacted, owner, client):
    sweep_at(london(2026, 12, 30, 10, 0))
    link = next(
        line for line in text_of(nudge_emails(ra_contacted)[owner.email]).splitlines() if "#action-cc_lpc" in line
    )
    url = link.rpartition(" ")[2]
    path, _, anchor = url.removeprefix(settings.SITE_URL).partition("#")
    with time_machine.travel(london(2026, 12, 30, 10, 5), tick=False):
        client.force_login(owner)
        page = client.get(path)
    assert page.status_code == 200
    assert f'id="{anchor}"' in page.content.decode()


@pytest.fixture
def every_case(pharmacy, staff, owner, lpc_officer, cpe_it, settings):
    """Overdue issues covering the audience rules: each kind of wait, an emergency, reminders
    within and past NUDGE_MAX_REMINDERS, an owner who reported, a leaver, people who chose the
    digest, an owner organisation and an LPC reached only through their own address, an LPC
    with no address either (CPE IT told that nobody could be), names with quotes, a reference
    past six digits."""
    settings.NUDGE_MAX_REMINDERS = 2
    nudges.notification_preference_set(user=owner, nudge_delivery=NotificationPreference.Delivery.DAILY_DIGEST)
    UserFactory(is_cpe_it=True, full_name="", email="second.it@cpe.example")
    pharmacy.owner.members.add(UserFactory(is_active=False))
    quoted = UserFactory(full_name='Zoë "Z" O\'Brien')
    bare = PharmacyFactory(
        owner=PharmacyOwnerFactory(email="Office@Bare.example"), lpc=LPCFactory(name="", email="lpc@bare.example")
    )
    lost = PharmacyFactory(owner=PharmacyOwnerFactory(email=""), lpc=LPCFactory(email=""))
    now = timezone.now()
    due = [now - timedelta(minutes=m, microseconds=m * 7) for m in range(1, 40)]
    cases = [
        {"pharmacy": pharmacy, "reporter": staff, "state": State.RA_CONTACTED},
        {"pharmacy": pharmacy, "reporter": owner, "state": State.RA_CONTACTED},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.RA_CONTACTED, "is_emergency": True},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.RA_CONTACTED, "reminders_sent": 1},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.RA_CONTACTED, "reminders_sent": 4},
        {"pharmacy": pharmacy, "reporter": quoted, "state": State.RA_CONTACTED, "due_kind": Deadline.PHARMACY_UPDATE},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.LPC_CC},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.LPC_CC, "due_kind": Deadline.LPC_FOLLOW_UP},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.ESCALATED},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.ESCALATED, "reminders_sent": 2},
        {"pharmacy": bare, "reporter": UserFactory(is_active=False), "state": State.RA_CONTACTED},
        {"pharmacy": bare, "reporter": staff, "state": State.LPC_CC},
        {"pharmacy": lost, "reporter": UserFactory(is_active=False), "state": State.RA_CONTACTED},
        {"pharmacy": lost, "reporter": staff, "state": State.LPC_CC},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.RA_CONTACTED, "pk": 1_234_567},  # SC-1234567
    ]
    return [make_issue(due_at=due[n], **case) for n, case in enumerate(cases)]


@pytest.mark.parametrize("limit", [100, 4])
def test_it_applies_every_audience_rule(every_case, limit):
    """One batch, or several, over every case of the audience rules: who is told, how (email or
    the daily digest), the last resort, and the wording of events and subjects."""
    now = timezone.now()
    deadlines = {issue.pk: issue.due_at for issue in every_case}

    result = nudges.nudges_sweep(now=now, limit=limit)

    assert (result.nudged, result.emails, result.digest_items, result.lost_claims) == (len(every_case), 15, 9, 0)
    events = list(IssueEvent.objects.filter(kind=EventKind.NUDGE))
    assert sorted(e.issue_id for e in events) == sorted(deadlines)
    texts = " ".join(e.text for e in events)
    for expected in (
        "Olu Owner (owner, in the daily digest)",
        "Pharmacy owner (owner)",
        "Lee Officer (LPC)",
        "LPC (LPC)",
        "CPE IT team (CPE IT, as nobody else could be reminded)",
        "second.it@cpe.example (CPE IT, in the daily digest)",
        'Zoë "Z" O\'Brien (reporter)',
    ):
        assert expected in texts
    for event in events:
        assert (event.from_state, event.to_state) == (event.issue.state, event.issue.state)
        assert event.data["deadline"] == deadlines[event.issue_id].isoformat()
        assert event.created_at == now
    outbox = list(OutboundEmail.objects.all())
    issue_of_event = {event.pk: event.issue_id for event in events}
    assert "[SC-1234567] No reply from the RA yet: please chase them" in {m.subject for m in outbox}
    follow_up = "Follow up the LPC's work: resolve, log more work or escalate to CPE IT"
    assert {m.template for m in outbox if m.subject.endswith(follow_up)} == {"nudge_lpc_follow_up"}
    assert "no update from the LPC since its last work on the issue" in texts
    # Each outbox row's link names its issue and that issue's NUDGE event.
    links = {
        email_id: (issue_id, event_id)
        for email_id, issue_id, event_id in IssueOutboundEmail.objects.values_list("email_id", "issue_id", "event_id")
    }
    assert sorted(links) == sorted(m.pk for m in outbox)
    assert all(event_id is not None and issue_of_event[event_id] == issue_id for issue_id, event_id in links.values())
    assert {m.auto_submitted for m in outbox} == {True}
    assert {m.status for m in outbox} == {OutboundEmail.Status.QUEUED}
    message_ids = [m.message_id for m in outbox]
    assert len(set(message_ids)) == len(message_ids)
    assert all(
        re.fullmatch(rf"<[0-9a-f]+\.[0-9a-f]{{32}}@{re.escape(settings.INBOUND_DOMAIN)}>", m) for m in message_ids
    )
    assert all(issue_of_event[item.event_id] == item.issue_id for item in NudgeDigestItem.objects.all())
    for issue in Issue.objects.filter(pk__in=deadlines):
        assert issue.due_at == deadlines[issue.pk]  # the deadline stays
        assert issue.next_nudge_at is not None and issue.next_nudge_at > now  # the cursor moved on
        assert issue.reminders_sent >= 1


# One place for each rule: change it there and the sweep follows, on whichever database runs it.


def test_it_follows_the_order_of_precedence_of_the_audience_rules(pharmacy, owner, monkeypatch):
    """An owner who reported the issue is told once, in the role the audience puts first."""
    issue = make_issue(pharmacy=pharmacy, reporter=owner, state=State.RA_CONTACTED, due_at=timezone.now())
    monkeypatch.setitem(rules.AUDIENCES, Deadline.RA_REPLY, (rules.Role.REPORTER, rules.Role.OWNER))

    sweep_at(timezone.now())

    [email] = nudge_emails(issue).values()
    assert (email.to, email.template, email.context) == ([owner.email], "nudge_ra_reply_reporter", {"role": "reporter"})
    assert "#action-cc_lpc" not in text_of(email)


def test_it_tells_whoever_the_audience_rules_name_for_a_wait(pharmacy, owner, lpc_officer, monkeypatch):
    """A role added to a wait's audience (with its template and subject) is told, and one taken
    out is not."""
    lpc_wait = make_issue(pharmacy=pharmacy, state=State.LPC_CC, due_at=timezone.now())
    ra_wait = make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=timezone.now())
    key = (Deadline.LPC_ACTION, rules.Role.OWNER)
    monkeypatch.setitem(rules.AUDIENCES, Deadline.LPC_ACTION, (rules.Role.LPC_OFFICER, rules.Role.OWNER))
    monkeypatch.setitem(rules.TEMPLATES, key, "nudge_ra_reply_owner")
    monkeypatch.setitem(rules.SUBJECTS, key, "The LPC has not acted yet")
    monkeypatch.setitem(rules.AUDIENCES, Deadline.RA_REPLY, (rules.Role.REPORTER,))

    sweep_at(timezone.now())

    assert set(nudge_emails(lpc_wait)) == {lpc_officer.email, owner.email}
    assert nudge_emails(lpc_wait)[owner.email].subject == f"[{lpc_wait.reference}] The LPC has not acted yet"
    assert set(nudge_emails(ra_wait)) == {ra_wait.reporter.email}
    [event] = nudge_events(lpc_wait)
    assert "Lee Officer (LPC), Olu Owner (owner)" in event.text


# Deadlines that stay true: reminders move the cursor, never the deadline.


@pytest.fixture
def reminded_twice(ra_contacted):
    """The RA never replied: reminders on Wednesday 30 December and Monday 4 January."""
    assert sweep_at(london(2026, 12, 30, 10, 0)).nudged == 1
    assert sweep_at(london(2027, 1, 4, 10, 0)).nudged == 1
    ra_contacted.refresh_from_db()
    assert ra_contacted.reminders_sent == 2
    return ra_contacted


def test_an_issue_reminded_twice_is_still_overdue_since_its_deadline(reminded_twice, staff):
    issue = reminded_twice
    assert issue.due_at == london(2026, 12, 30, 10, 0)
    assert issue.next_nudge_at == london(2027, 1, 6, 10, 0)
    with time_machine.travel(london(2027, 1, 4, 11, 0), tick=False):
        assert issue.is_overdue
        request = SimpleNamespace(user=staff)
        assert list(IssueFilter({"overdue": "true"}, request=request).qs) == [issue]
        assert list(IssueFilter({"overdue": "false"}, request=request).qs) == []


def test_the_only_overdue_filter_lists_an_issue_reminded_twice(reminded_twice, staff, client):
    with time_machine.travel(london(2027, 1, 4, 11, 0), tick=False):
        client.force_login(staff)
        page = client.get(reverse("issues:list"), {"state": "open", "overdue": "on"}).content.decode()
    assert reminded_twice.reference in page
    assert "Overdue" in page


def test_the_api_lists_an_issue_reminded_twice_as_overdue(reminded_twice, staff):
    api = APIClient()
    with time_machine.travel(london(2027, 1, 4, 11, 0), tick=False):
        api.force_login(staff)
        listed = api.get("/api/v1/issues/", {"overdue": "true"}).json()["results"]
        detail = api.get(f"/api/v1/issues/{reminded_twice.reference}/").json()
    assert [row["reference"] for row in listed] == [reminded_twice.reference]
    assert detail["is_overdue"] is True
    assert datetime.fromisoformat(detail["due_at"]) == london(2026, 12, 30, 10, 0)


def test_starting_and_ending_a_wait_sets_and_clears_the_cursor_with_the_deadline(reminded_twice, staff):
    issue = reminded_twice
    with time_machine.travel(london(2027, 1, 4, 12, 0), tick=False):
        services.issue_log_ra_reply(user=staff, issue=issue, text="The RA unlocked the card")
    issue.refresh_from_db()
    # A new wait: the pharmacy's update, five working days, its first reminder at its deadline.
    assert issue.due_kind == Deadline.PHARMACY_UPDATE
    assert issue.due_at == issue.next_nudge_at == london(2027, 1, 11, 12, 0)
    assert issue.reminders_sent == 0
    with time_machine.travel(london(2027, 1, 5, 9, 0), tick=False):
        services.issue_resolve(user=staff, issue=issue, note="Fixed", fixed_by_step="ra")
    issue.refresh_from_db()
    assert (issue.due_at, issue.next_nudge_at, issue.due_kind) == (None, None, Deadline.NONE)
    assert sweep_at(london(2027, 2, 1, 10, 0)).nudged == 0


# Imports one way: the services enqueue the mail layer's tasks by name.


def test_the_services_enqueue_tasks_registered_under_the_names_they_use(
    ra_contacted, monkeypatch, django_capture_on_commit_callbacks
):
    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **options: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        sweep_at(london(2026, 12, 30, 10, 0))
    [(name, (email_ids,))] = sent
    assert sorted(email_ids) == sorted(nudge_emails(ra_contacted)[e].pk for e in nudge_emails(ra_contacted))
    assert app.tasks[name].name == mail_tasks.enqueue_outbound_emails.name == outbox.ENQUEUE_TASK

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.enqueue_after_commit(email_ids[0])
    assert sent == [(outbox.SEND_TASK, (email_ids[0],))]
    assert app.tasks[outbox.SEND_TASK].name == mail_tasks.send_outbound_email.name
