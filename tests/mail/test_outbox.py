"""The outbox: rows claimed once, sent once, retried on provider errors, re-enqueued when stuck;
the news of an issue's mail on its timeline; and a real Celery worker delivering them."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from issues import services
from issues.correspondence.outbound import queue_outbound_email, tracking_address
from issues.models import EventKind, IssueEvent, MailPurpose
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.services import (
    SendOutcome,
    outbound_email_requeue,
    outbound_email_send,
    outbound_emails_requeue_stuck,
    outbox_retry_delay,
)
from smartcard_route.mail.tasks import send_outbound_email
from tests.issues.factories import IssueFactory, outbound_email_about

Status = OutboundEmail.Status


def contact_ra(issue, user, **fields):
    return services.issue_contact_ra(user=user, issue=issue, question="Please add an email to my profile.", **fields)


def test_it_sends_a_row_once_with_its_headers(issue, staff, flaky_esp):
    contact_ra(issue, staff)
    email = OutboundEmail.objects.get()

    result = outbound_email_send(email_id=email.pk)

    assert result.outcome is SendOutcome.SENT
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.extra_headers["Message-ID"] == email.message_id
    assert message.reply_to == [tracking_address(issue)]
    assert message.subject == email.subject
    assert message.alternatives[0][1] == "text/html"  # type: ignore[attr-defined]
    assert "Auto-Submitted" not in message.extra_headers  # written on the pharmacy's behalf: replies welcome
    email.refresh_from_db()
    assert (email.status, email.attempts, email.esp_message_id) == (Status.SENT, 1, "esp-0")
    assert email.sent_at is not None
    sent_event = IssueEvent.objects.get(issue=issue, kind=EventKind.EMAIL_OUT)
    assert sent_event.data["message_id"] == email.message_id

    again = outbound_email_send(email_id=email.pk)
    assert again.outcome is SendOutcome.NOT_CLAIMED
    assert len(mail.outbox) == 1


def test_it_marks_the_apps_own_notices_as_automatic_mail(issue, flaky_esp):
    """Notices, reminders and digests carry Auto-Submitted: auto-generated (RFC 3834), so that
    out-of-office replies do not answer them."""
    notice = queue_outbound_email(
        purpose=MailPurpose.NOTIFICATION,
        issue=issue,
        to=["pharmacist@riverside.example"],
        subject=f"[{issue.reference}] New email from the RA",
        body_text="The RA replied.",
        body_html="<p>The RA replied.</p>",
    )
    assert outbound_email_send(email_id=notice.pk).outcome is SendOutcome.SENT
    [message] = mail.outbox
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert message.reply_to == [tracking_address(issue)]


def test_it_retries_a_row_it_cannot_render_and_never_sends_it_blank(issue, flaky_esp, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    row = outbound_email_about(
        issue,
        purpose=MailPurpose.NUDGE,
        from_email="noreply@example.org",
        to=["pharmacist@riverside.example"],
        subject=f"[{issue.reference}] Reminder",
        template="nudge_ra_reply_reporter",  # but no NUDGE event to say which deadline passed
        message_id="<no-event@example.org>",
    )
    first = outbound_email_send(email_id=row.pk)
    assert first.outcome is SendOutcome.RETRY
    assert "without its issue or its NUDGE event" in first.error
    assert outbound_email_send(email_id=row.pk).outcome is SendOutcome.FAILED
    row.refresh_from_db()
    assert (row.status, row.body_text) == (Status.FAILED, "")
    assert mail.outbox == []
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.DELIVERY).exists()


def test_it_refuses_a_row_with_neither_bodies_nor_a_template(issue):
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundEmail.objects.create(
            purpose=MailPurpose.NOTIFICATION,
            from_email="noreply@example.org",
            to=["pharmacist@riverside.example"],
            subject="Nothing to say",
            message_id="<empty@example.org>",
        )


def test_it_retries_a_provider_error_then_sends_once(issue, staff, flaky_esp):
    flaky_esp.reset(failures=2)
    contact_ra(issue, staff)
    email = OutboundEmail.objects.get()

    first = outbound_email_send(email_id=email.pk)
    assert first.outcome is SendOutcome.RETRY
    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.QUEUED, 1)
    assert "503" in email.last_error
    assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.RETRY
    assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.SENT
    assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.NOT_CLAIMED

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.SENT, 3, "")
    assert len(mail.outbox) == 1
    assert flaky_esp.calls == 3


def test_it_gives_up_after_the_last_attempt(issue, staff, flaky_esp, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    flaky_esp.reset(failures=5)
    contact_ra(issue, staff)
    email = OutboundEmail.objects.get()
    assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.RETRY
    assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.FAILED
    email.refresh_from_db()
    assert email.status == Status.FAILED
    failed = IssueEvent.objects.get(issue=issue, kind=EventKind.DELIVERY)
    assert "could not be sent" in failed.text
    assert mail.outbox == []

    # The admin's "try again" puts it back in the queue with fresh attempts.
    flaky_esp.reset()
    assert outbound_email_requeue(email_id=email.pk)
    assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.SENT
    assert len(mail.outbox) == 1


def test_it_does_not_retry_refused_recipients(issue, staff, flaky_esp):
    flaky_esp.reset(refuse_recipients=True)
    contact_ra(issue, staff)
    email = OutboundEmail.objects.get()
    assert outbound_email_send(email_id=email.pk).outcome is SendOutcome.FAILED


def test_it_backs_off_exponentially(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    settings.OUTBOX_RETRY_MAX_SECONDS = 3600
    assert [outbox_retry_delay(n) for n in (1, 2, 3, 4, 10)] == [30, 60, 120, 240, 3600]


def test_it_requeues_rows_whose_task_was_lost_or_whose_worker_died(
    issue, staff, django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES = 10
    settings.OUTBOX_REQUEUE_SENDING_AFTER_MINUTES = 30
    now = timezone.now()

    def row(status, **fields):
        return outbound_email_about(
            issue,
            purpose="ra_request",
            from_email="a@example.org",
            to=["ra@nhs.example"],
            subject="[SC-1] x",
            body_text="x",
            message_id=f"<{status}-{len(fields)}-{OutboundEmail.objects.count()}@example.org>",
            status=status,
            **fields,
        )

    lost = row(Status.QUEUED, status_changed_at=now - timedelta(minutes=11))
    fresh = row(Status.QUEUED, status_changed_at=now - timedelta(minutes=1))
    died = row(Status.SENDING, claimed_at=now - timedelta(minutes=31))
    busy = row(Status.SENDING, claimed_at=now - timedelta(minutes=5))
    done = row(Status.SENT, status_changed_at=now - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ids = outbound_emails_requeue_stuck(now=now)

    assert ids == sorted([lost.pk, died.pk])
    assert len(callbacks) == 2
    died.refresh_from_db()
    assert died.status == Status.QUEUED
    for untouched, status in ((fresh, Status.QUEUED), (busy, Status.SENDING), (done, Status.SENT)):
        untouched.refresh_from_db()
        assert untouched.status == status
    # A second sweep straight after does not enqueue them again.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert outbound_emails_requeue_stuck(now=now + timedelta(minutes=1)) == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locking under concurrency: PostgreSQL")
def test_it_sends_exactly_once_when_two_workers_claim_the_same_row_at_once(pharmacy, staff, flaky_esp):
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)
    contact_ra(issue, staff)
    email = OutboundEmail.objects.get()
    for _ in range(20):
        OutboundEmail.objects.filter(pk=email.pk).update(status=Status.QUEUED)
        mail.outbox.clear()
        barrier = threading.Barrier(2)
        outcomes: list[SendOutcome] = []

        def worker(barrier: threading.Barrier = barrier, outcomes: list[SendOutcome] = outcomes) -> None:
            try:
                barrier.wait(timeout=10)
                outcomes.append(outbound_email_send(email_id=email.pk).outcome)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(o.value for o in outcomes) == ["not_claimed", "sent"]
        assert len(mail.outbox) == 1


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.celery_worker
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a worker thread on SQLite's in-memory test database meets 'table is locked' (shared cache): PostgreSQL",
)
def test_it_is_delivered_once_by_a_real_worker_despite_errors_and_duplicate_tasks(
    celery_worker_thread, pharmacy, staff, flaky_esp, settings
):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0.05
    settings.OUTBOX_RETRY_MAX_SECONDS = 0.2
    flaky_esp.reset(failures=2)
    issue = IssueFactory.create(pharmacy=pharmacy, reporter=staff)

    contact_ra(issue, staff)  # committed: the on_commit hook enqueues the task
    email = OutboundEmail.objects.get()
    send_outbound_email.delay(email.pk)  # a duplicate task, as after a broker redelivery

    assert wait_for(lambda: OutboundEmail.objects.get(pk=email.pk).status == Status.SENT)
    email.refresh_from_db()
    assert email.attempts == 3
    assert email.esp_message_id
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == email.message_id
    assert IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_OUT).count() == 1
