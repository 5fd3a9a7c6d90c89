"""The nudge sweep and the daily digest (issues.nudges): who is reminded, when, and what they read.

These run on SQLite and on PostgreSQL; tests/issues/test_exactly_once.py covers concurrency, worker
crashes and broker outages against PostgreSQL and a real worker on Redis.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from issues import nudges, services
from issues.models import (
    Deadline,
    EventKind,
    Issue,
    IssueEvent,
    MailPurpose,
    NotificationPreference,
    NudgeDigestItem,
    State,
)
from issues.nudges import portable, statement
from issues.nudges.context import Sweep
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import SendOutcome, outbound_email_bodies, outbound_email_send
from tests.issues.factories import IssueFactory, UserFactory

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
    # The next reminder: two more working days, skipping New Year's Day and the weekend.
    assert issue.due_at == london(2027, 1, 4, 10, 0)
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
    assert sweep_at(london(2027, 1, 4, 10, 0)).nudged == 1  # reminder 2, the last a window apart
    issue.refresh_from_db()
    assert issue.due_at == london(2027, 1, 5, 10, 0)  # then one working day
    assert sweep_at(london(2027, 1, 5, 9, 59)).nudged == 0

    result = sweep_at(london(2027, 1, 5, 10, 0))  # reminder 3: past the maximum, into the digest

    assert (result.nudged, result.emails, result.digest_items) == (1, 0, 2)
    issue.refresh_from_db()
    assert (issue.reminders_sent, issue.due_at) == (3, london(2027, 1, 6, 10, 0))
    assert [e.data["reminder"] for e in nudge_events(issue)] == [1, 2, 3]
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


def test_it_claims_nothing_when_the_deadline_changed_after_it_was_read(pharmacy):
    """The compare-and-set of the portable path (SQLite reads, then claims): a sweep that read a
    deadline someone else has since moved wins nothing. (On PostgreSQL one statement locks, reads
    and claims: tests/issues/test_exactly_once.py.)"""
    now = timezone.now()
    issue = make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=now - timedelta(minutes=5))
    rows = list(nudges.due_issues(now=now).values("id", "due_at"))
    Issue.objects.filter(pk=issue.pk).update(due_at=now + timedelta(days=2))  # another sweep won
    for row in rows:
        row["next_due"] = now + timedelta(days=1)

    assert portable.claim(rows, now=now) == set()
    issue.refresh_from_db()
    assert (issue.due_at, issue.reminders_sent) == (now + timedelta(days=2), 0)

    rows[0]["due_at"] = issue.due_at
    assert portable.claim(rows, now=now) == {issue.pk}


def test_it_sweeps_in_bounded_batches(pharmacy, owner):
    overdue = [
        make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=timezone.now() - timedelta(hours=h))
        for h in range(1, 6)
    ]
    result = nudges.nudges_sweep(limit=2)
    assert (result.nudged, result.batches) == (5, 3)
    assert all(len(nudge_events(issue)) == 1 for issue in overdue)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite claims row by row (one UPDATE per issue)")
def test_it_uses_a_constant_number_of_queries_per_batch(pharmacy, django_assert_num_queries):
    """On PostgreSQL a batch is one statement (claim, recipients, events, outbox rows, digest
    items) between its savepoint and its release, however many issues it takes."""
    owners = [UserFactory() for _ in range(3)]
    pharmacy.owner.members.add(*owners)
    now = timezone.now()
    for _ in range(40):
        make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=now)
    nudges.nudges_sweep(now=now - timedelta(days=1))  # nothing due yet; looks up the event ids' sequence
    with django_assert_num_queries(3 * 5):  # four full batches of ten, then one that finds none
        result = nudges.nudges_sweep(now=now, limit=10)
    assert (result.nudged, result.emails, result.batches) == (40, 40 * 4, 5)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN output and partial indexes are PostgreSQL's")
def test_it_finds_due_issues_through_the_partial_index(db):
    queryset = nudges.due_issues(now=timezone.now()).values("id")[:1000]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned whole anyway
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "issue_due_at_waiting" in plan


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
    from tests.issues.factories import LPCFactory, PharmacyFactory, PharmacyOwnerFactory

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
        {"pharmacy": pharmacy, "reporter": staff, "state": State.ESCALATED},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.ESCALATED, "reminders_sent": 2},
        {"pharmacy": bare, "reporter": UserFactory(is_active=False), "state": State.RA_CONTACTED},
        {"pharmacy": bare, "reporter": staff, "state": State.LPC_CC},
        {"pharmacy": lost, "reporter": UserFactory(is_active=False), "state": State.RA_CONTACTED},
        {"pharmacy": lost, "reporter": staff, "state": State.LPC_CC},
        {"pharmacy": pharmacy, "reporter": staff, "state": State.RA_CONTACTED, "pk": 1_234_567},  # SC-1234567
    ]
    return [make_issue(due_at=due[n], **case) for n, case in enumerate(cases)]


def written_rows() -> dict[str, list[tuple[Any, ...]]]:
    """What a sweep wrote, without the ids and Message-IDs that differ from run to run; each
    email and digest item named by the issue of its event."""

    def comparable(row: dict[str, Any], *, leave_out: tuple[str, ...] = ()) -> tuple[Any, ...]:
        return tuple(
            (key, json.dumps(value, sort_keys=True, default=str))
            for key, value in sorted(row.items())
            if key not in leave_out
        )

    issue_of_event = dict(IssueEvent.objects.filter(kind=EventKind.NUDGE).values_list("pk", "issue_id"))
    events = cast(
        list[dict[str, Any]],
        list(
            IssueEvent.objects.filter(kind=EventKind.NUDGE).values(
                "issue_id", "kind", "actor_id", "from_state", "to_state", "text", "data", "created_at"
            )
        ),
    )
    # Each outbox row with the event of its link row (IssueOutboundEmail).
    emails = cast(
        list[dict[str, Any]],
        list(
            OutboundEmail.objects.values(
                *(field.attname for field in OutboundEmail._meta.concrete_fields), event_id=F("issue_link__event_id")
            )
        ),
    )
    items = cast(list[dict[str, Any]], list(NudgeDigestItem.objects.values()))
    return {
        "issues": sorted(Issue.objects.values_list("pk", "due_at", "reminders_sent", "updated_at")),
        "events": sorted(comparable(row) for row in events),
        "emails": sorted(
            (issue_of_event[row["event_id"]], *comparable(row, leave_out=("id", "event_id", "message_id")))
            for row in emails
        ),
        "digest_items": sorted(
            (issue_of_event[row["event_id"]], *comparable(row, leave_out=("id", "event_id"))) for row in items
        ),
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the set-based statement is PostgreSQL's")
def test_the_set_based_statement_writes_what_the_portable_path_writes(every_case):
    """On PostgreSQL a batch is one SQL statement; elsewhere Python composes it. Both must write
    the same events, outbox rows, digest items and deadlines, whatever the case."""
    now = timezone.now()
    counts, rows = [], []
    for batch in (statement.nudge_batch, portable.nudge_batch):
        with transaction.atomic():
            savepoint = transaction.savepoint()
            written = batch(Sweep(now=now), 100)
            counts.append((written.seen, written.claimed, len(written.email_ids), written.digest_items))
            rows.append(written_rows())
            message_ids = list(OutboundEmail.objects.values_list("message_id", flat=True))
            transaction.savepoint_rollback(savepoint)
        assert len(set(message_ids)) == len(message_ids) > 0
        assert all(
            re.fullmatch(rf"<[0-9a-f]+\.[0-9a-f]{{32}}@{re.escape(settings.INBOUND_DOMAIN)}>", m) for m in message_ids
        )
    # (issues read, claimed, emails, digest items)
    assert counts[0] == counts[1] == (len(every_case), len(every_case), 14, 9)
    assert rows[0] == rows[1]
    texts = " ".join(json.loads(dict(row)["text"]) for row in rows[0]["events"])
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
    subjects = {dict(row[1:])["subject"] for row in rows[0]["emails"]}
    assert '"[SC-1234567] No reply from the RA yet: please chase them"' in subjects
