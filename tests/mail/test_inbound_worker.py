"""The inbound webhook's posts read by the Celery worker, for real (issue 10: the request only
stores the post and enqueues its read).

Against PostgreSQL, as tests/issues/test_exactly_once.py does: a real worker (`celery -A
smartcard_route worker` as a subprocess) on Redis reads what the webhook stored, once even when its
task comes twice; and readers that claim the same post at the same moment (threads, each on its
own connection, let go together) read it once.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections

from issues.models import Deadline, EventKind, Issue, IssueEvent, MailPurpose
from smartcard_route.celery import app
from smartcard_route.mail import services, webhooks
from smartcard_route.mail.models import InboundEmail, InboundPost, OutboundEmail
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import GENERIC_ADDRESS, RA_EMAIL, routed, tracking_address
from tests.issues.test_exactly_once import (  # noqa: F401 (the module's fixtures)
    admin_connection,
    clean_queue,
    needs_postgresql,
    needs_redis_broker,
    wait_for,
    worker_factory,
)
from tests.mail import payloads
from tests.mail.payloads import Mail
from tests.mail.worker_double import InboundReads

pytestmark = [needs_postgresql]


def email_events(issue: Issue) -> list[IssueEvent]:
    return list(IssueEvent.objects.filter(issue=issue, kind=EventKind.EMAIL_IN))


def read(post: InboundPost) -> bool:
    """The post is read and its email handed over (the post is marked read first)."""
    return InboundEmail.objects.filter(
        post=post, post__status=InboundPost.Status.READ, handed_over_at__isnull=False
    ).exists()


@pytest.mark.celery_worker  # the webhook's task goes to the broker, for the worker
@pytest.mark.usefixtures("clean_queue")
@needs_redis_broker
def test_a_real_worker_reads_what_the_webhook_stored_once_even_when_its_task_comes_twice(
    transactional_db: None,
    client: Any,
    issue: Issue,
    worker_factory: Any,  # noqa: F811
) -> None:
    worker = worker_factory()
    worker.start()

    mail = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked", text="Card unlocked.")
    response = payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(mail))

    assert response.status_code == 200
    post = InboundPost.objects.get()
    wait_for(lambda: read(post), timeout=90, what=f"the worker to read the post\n{worker.log()}")
    email = post.emails.get()
    assert routed(email) == ("matched", issue.pk, "token", "ra")
    issue.refresh_from_db()
    assert issue.due_kind == Deadline.PHARMACY_UPDATE  # the RA's reply stopped its window

    # Its task again (a redelivery), then another post: the worker runs them in order (one
    # process, one task at a time), so once the second post is read the repeat has run.
    app.send_task(services.READ_TASK, args=(post.pk,))
    stray = Mail(from_email="someone@elsewhere.example", to=[GENERIC_ADDRESS], subject="Hello")
    payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(stray))
    second = InboundPost.objects.exclude(pk=post.pk).get()
    wait_for(lambda: read(second), timeout=90, what=f"the worker to read the second post\n{worker.log()}")

    assert routed(second.emails.get())[0] == "unmatched"  # CPE IT's queue
    assert len(email_events(issue)) == 1
    assert OutboundEmail.objects.filter(purpose=MailPurpose.NOTIFICATION).count() == 1


def test_readers_that_claim_the_same_post_at_once_read_it_once(
    transactional_db: None, client: Any, issue: Issue, inbound_reads: InboundReads
) -> None:
    inbound_reads.run_after_requests = False  # the readers below take its task's place
    mail = Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], subject="Unlocked")
    assert (
        payloads.post_postmark(client, payloads.POSTMARK_INBOUND_URL, payloads.postmark_inbound(mail)).status_code
        == 200
    )
    post = InboundPost.objects.get()
    readers = 4
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            outcomes.append(services.inbound_post_read(post_id=post.pk, readers=webhooks.readers()).value)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    admin = admin_connection()
    try:
        with admin.cursor() as cursor:  # hold the row, so that every reader's claim waits for it
            cursor.execute("SELECT id FROM mail_inboundpost WHERE id = %s FOR UPDATE", [post.pk])
            threads = [threading.Thread(target=reader) for _ in range(readers)]
            for thread in threads:
                thread.start()
            wait_for(lambda: waiting_for_a_lock(admin) == readers, timeout=60, what="every reader to wait")
        admin.commit()  # let go: the claims run one after the other
        for thread in threads:
            thread.join(timeout=60)
    finally:
        admin.close()

    assert errors == []
    assert sorted(outcomes) == ["read"] + ["skipped"] * (readers - 1)
    assert len(email_events(issue)) == 1
    assert OutboundEmail.objects.filter(purpose=MailPurpose.NOTIFICATION).count() == 1


def waiting_for_a_lock(admin: Any) -> int:
    """How many other sessions wait for a lock (pg_stat_activity, read afresh)."""
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return int(cursor.fetchone()[0])
