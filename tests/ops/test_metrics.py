"""/metrics (issue 11, part 5): who may scrape it, and each figure it gives, from rows made here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from issues.models import Deadline, State
from smartcard_route import monitoring
from smartcard_route.mail import metrics as mail_metrics
from smartcard_route.mail.models import InboundPost, OutboundEmail
from tests.issues.factories import IssueFactory

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def token(settings: Any) -> str:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []
    return TOKEN


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def outbox_row(status: str, created_at: Any, n: int) -> OutboundEmail:
    return OutboundEmail.objects.create(
        purpose="test",
        from_email="site@example.org",
        to=["ra@example.org"],
        subject=f"Mail {n}",
        body_text="Body",
        message_id=f"<m{n}@example.org>",
        status=status,
        created_at=created_at,
    )


# Who may scrape ---------------------------------------------------------------------------------


def test_it_answers_404_while_neither_a_token_nor_an_allow_list_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []

    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404


def test_it_answers_401_without_the_token_or_with_a_wrong_one(client, token):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert b"smartcard_" not in response.content


def test_it_answers_the_token_without_a_login(client, token):
    samples = scrape(client)

    assert ("smartcard_outbox_oldest_queued_age_seconds", ()) in samples


def test_it_answers_an_allowed_address_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.7"]

    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 404


def test_it_asks_an_address_off_the_list_for_the_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.8", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_it_is_never_cached_and_refuses_post(client, token):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "no-cache" in response["Cache-Control"]
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


# The figures ------------------------------------------------------------------------------------


def test_it_counts_requests_by_view_and_status(client, token):
    key = (
        "django_http_responses_total_by_status_view_method_total",
        (("method", "GET"), ("status", "404"), ("view", "issues:detail")),
    )
    before = scrape(client).get(key, 0.0)
    client.get("/issues/SC-999999/")  # anonymous: sent to the login page, so a 302 of that view
    client.force_login(IssueFactory.create().reporter)
    client.get("/issues/SC-999999/")
    client.get("/issues/SC-999998/")

    assert scrape(client)[key] == before + 2


@time_machine.travel(NOW, tick=False)
def test_it_gives_the_outbox_by_status_and_the_age_of_the_oldest_queued_row(client, token):
    outbox_row("queued", NOW - timedelta(minutes=7), 1)
    outbox_row("queued", NOW - timedelta(minutes=2), 2)
    outbox_row("sending", NOW - timedelta(hours=3), 3)  # older, but not queued
    outbox_row("sent", NOW - timedelta(days=1), 4)
    outbox_row("failed", NOW - timedelta(days=1), 5)
    outbox_row("failed", NOW - timedelta(days=2), 6)

    samples = scrape(client)

    by_status = {dict(lb)["status"]: v for (name, lb), v in samples.items() if name == "smartcard_outbox_emails"}
    assert by_status == {
        "queued": 2,
        "sending": 1,
        "sent": 1,
        "failed": 2,
        "delivered": 0,
        "bounced": 0,
        "complained": 0,
    }
    assert samples[("smartcard_outbox_oldest_queued_age_seconds", ())] == 7 * 60


@time_machine.travel(NOW, tick=False)
def test_it_counts_pending_rows_at_each_scrape_and_finished_ones_every_few_minutes(client, token, settings):
    settings.METRICS_OUTBOX_TOTALS_EVERY_SECONDS = 300
    scrape(client)
    outbox_row("queued", NOW, 1)
    outbox_row("sent", NOW, 2)

    samples = scrape(client)
    assert samples[("smartcard_outbox_emails", (("status", "queued"),))] == 1
    assert samples[("smartcard_outbox_emails", (("status", "sent"),))] == 0  # as counted before it

    with time_machine.travel(NOW + timedelta(seconds=301), tick=False):
        later = scrape(client)
    if later[("smartcard_outbox_emails", (("status", "sent"),))] == 0:
        # The cache's clock is the real one on Redis (its own expiry): drop the totals as it would.
        mail_metrics.caches["monitoring"].delete(mail_metrics.TOTALS_KEY)
        later = scrape(client)
    assert later[("smartcard_outbox_emails", (("status", "sent"),))] == 1


@time_machine.travel(NOW, tick=False)
def test_it_counts_inbound_posts_awaiting_parsing_and_the_oldest_ones_age(client, token):
    for status, minutes in (("received", 12), ("received", 1), ("failed", 60), ("read", 600)):
        post = InboundPost.objects.create(esp="postmark", body=b"{}", status=status)
        InboundPost.objects.filter(pk=post.pk).update(received_at=NOW - timedelta(minutes=minutes))

    samples = scrape(client)

    assert samples[("smartcard_inbound_posts_unread", (("status", "received"),))] == 2
    assert samples[("smartcard_inbound_posts_unread", (("status", "failed"),))] == 1
    assert samples[("smartcard_inbound_oldest_unparsed_age_seconds", ())] == 12 * 60


@time_machine.travel(NOW, tick=False)
def test_it_gives_the_sweeps_lag_behind_the_oldest_due_reminder_it_serves(client, token):
    IssueFactory.create(state=State.RA_CONTACTED, next_nudge_at=NOW - timedelta(minutes=9))
    IssueFactory.create(state=State.LPC_CC, next_nudge_at=NOW - timedelta(minutes=3))
    IssueFactory.create(state=State.ESCALATED, next_nudge_at=NOW + timedelta(hours=1))  # not due yet
    # Not the sweep's: closed, or waiting on nobody it nudges (older cursors, which must not count).
    IssueFactory.create(state=State.RESOLVED, due_kind=Deadline.RA_REPLY, next_nudge_at=NOW - timedelta(days=3))
    IssueFactory.create(state=State.IN_PHARMACY, due_kind=Deadline.NONE, next_nudge_at=NOW - timedelta(days=2))

    samples = scrape(client)

    assert samples[("smartcard_nudge_sweep_lag_seconds", ())] == 9 * 60
    assert samples[("smartcard_nudges_due", ())] == 2


@time_machine.travel(NOW, tick=False)
def test_it_gives_no_lag_when_nothing_is_due(client, token):
    IssueFactory.create(state=State.RA_CONTACTED, next_nudge_at=NOW + timedelta(minutes=1))

    samples = scrape(client)

    assert samples[("smartcard_nudge_sweep_lag_seconds", ())] == 0
    assert samples[("smartcard_nudges_due", ())] == 0


def test_it_gives_task_failures_and_the_workers_last_beat(client, token):
    monitoring.task_failure_count(task_name="issues.tasks.nudge_sweep")
    monitoring.task_failure_count(task_name="issues.tasks.nudge_sweep")
    monitoring.task_failure_count(task_name="smartcard_route.mail.tasks.send_outbound_email")
    monitoring.beat_record(name=monitoring.HEARTBEAT, at=NOW)

    samples = scrape(client)

    assert samples[("smartcard_celery_task_failures_total", (("task", "issues.tasks.nudge_sweep"),))] == 2
    assert (
        samples[("smartcard_celery_task_failures_total", (("task", "smartcard_route.mail.tasks.send_outbound_email"),))]
        == 1
    )
    assert samples[("smartcard_worker_last_beat_timestamp_seconds", ())] == NOW.timestamp()


def test_it_still_answers_when_a_collector_fails_and_says_whose_figures_are_missing(client, token, monkeypatch):
    def broken(now: Any) -> Any:
        raise RuntimeError("database down")

    monkeypatch.setitem(monitoring_collectors(), "mail", broken)

    samples = scrape(client)

    assert samples[("smartcard_metrics_collector_up", (("collector", "mail"),))] == 0
    assert samples[("smartcard_metrics_collector_up", (("collector", "nudges"),))] == 1
    assert ("smartcard_outbox_oldest_queued_age_seconds", ()) not in samples
    assert ("smartcard_nudge_sweep_lag_seconds", ()) in samples


def monitoring_collectors() -> dict[str, Any]:
    from smartcard_route import metrics

    return metrics._collectors


# The indexes that serve the scrape (PostgreSQL's planner, with sequential scans priced out) ---------


def plan(queryset: Any) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partial indexes are planned on PostgreSQL")
def test_each_scrape_query_can_be_read_off_its_partial_index():
    from issues.nudges.context import nudges_due

    queued = OutboundEmail.objects.filter(status="queued").order_by("created_at")
    pending = OutboundEmail.objects.filter(status__in=mail_metrics.PENDING).values("status")
    unread = InboundPost.objects.exclude(status="read").values("status")
    unparsed = InboundPost.objects.filter(status="received").order_by("received_at")
    # The sweep's table at a realistic shape: many open issues waiting, a few of them due.
    template = IssueFactory.create(state=State.RA_CONTACTED, next_nudge_at=NOW - timedelta(minutes=5))
    fields = {f.attname: getattr(template, f.attname) for f in template._meta.concrete_fields if f.attname != "id"}
    later = [{**fields, "tracking_token": f"t{n}", "next_nudge_at": NOW + timedelta(minutes=n)} for n in range(3000)]
    template.__class__.objects.bulk_create([template.__class__(**row) for row in later])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE issues_issue")
    due = nudges_due(now=NOW)

    assert "outbox_pending" in plan(queued)
    assert "outbox_pending" in plan(pending)
    assert "inbound_post_unread" in plan(unread)
    assert "inbound_post_unread" in plan(unparsed)
    assert "issue_next_nudge_waiting" in plan(due.order_by("next_nudge_at")[:1])
    assert "issue_next_nudge_waiting" in plan(due.order_by())
