"""Every nudge sent exactly once, whatever happens (issue 4, part 3).

Against PostgreSQL, with a real Celery worker (`celery -A smartcard_route worker` as a subprocess) on
Redis: two sweeps at once; the worker killed in the middle of a sweep (its pool process, then the
whole worker) and restarted; a Redis outage while issues are created and nudged (a redis-server of
our own, stopped and started again); a provider error. What the worker sends is written by Django's
file email backend (TEST_EMAIL_BACKEND), so the tests count the messages that really went out.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any, cast

import psycopg2
import pytest
from anymail.exceptions import AnymailAPIError
from django.conf import settings
from django.core.mail.backends.filebased import EmailBackend as FileEmailBackend
from django.db import connection, connections
from django.utils import timezone
from kombu import Connection
from kombu import pools as kombu_pools

from issues import nudges, services
from issues.models import EventKind, Issue, IssueEvent, MailPurpose, State
from issues.tasks import nudge_sweep
from smartcard_route.celery import app
from smartcard_route.mail.models import OutboundEmail
from smartcard_route.mail.tasks import requeue_stuck_outbound_emails
from tests.faults.stack import Redis as RedisServer
from tests.faults.stack import pool_process_of, wait_for
from tests.issues.factories import IssueFactory

ROOT = Path(__file__).resolve().parents[2]
POSTGRESQL = connection.vendor == "postgresql"
REDIS_BROKER = settings.CELERY_BROKER_URL.startswith("redis://")

needs_postgresql = pytest.mark.skipif(
    not POSTGRESQL,
    reason=(
        "needs PostgreSQL (CI always has it): the worker subprocess must reach the test database, and "
        "pytest-django's SQLite test database lives in this process's memory"
    ),
)
needs_redis_broker = pytest.mark.skipif(
    not REDIS_BROKER, reason="needs CELERY_BROKER_URL=redis://... (CI's configuration): the worker runs on Redis"
)
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs the redis-server program to run a Redis of its own"
)

pytestmark = [pytest.mark.celery_worker, needs_postgresql]

Status = OutboundEmail.Status
OUTBOX_TABLE = OutboundEmail._meta.db_table


def make_issue(**fields: Any) -> Issue:
    return cast(Issue, IssueFactory(**fields))


def overdue_issues(pharmacy: Any, count: int) -> list[Issue]:
    """Issues waiting for the RA's reply since before now: each nudge goes to its reporter and the
    pharmacy's owner, so two emails per issue."""
    past = timezone.now() - timedelta(minutes=5)
    return [make_issue(pharmacy=pharmacy, state=State.RA_CONTACTED, due_at=past) for _ in range(count)]


def sent_message_ids(mail_dir: Path) -> Counter[str]:
    """Message-IDs of everything the file backend wrote, with how many times each went out."""
    found: Counter[str] = Counter()
    if mail_dir.exists():
        for path in mail_dir.iterdir():
            # The file backend writes each message followed by a line of 79 dashes.
            for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if raw.strip():
                    found[" ".join(str(message_from_bytes(raw)["Message-ID"]).split())] += 1
    return found


def nudge_email_ids() -> set[str]:
    return set(OutboundEmail.objects.filter(purpose=MailPurpose.NUDGE).values_list("message_id", flat=True))


def assert_each_issue_nudged_once(issues: list[Issue], *, emails_per_issue: int) -> None:
    for issue in issues:
        deadline = issue.due_at
        assert deadline is not None
        assert IssueEvent.objects.filter(issue=issue, kind=EventKind.NUDGE).count() == 1, issue.reference
        issue.refresh_from_db()
        assert issue.reminders_sent == 1
        assert issue.due_at == deadline  # a reminder moves the cursor, never the deadline
        assert issue.next_nudge_at is not None and issue.next_nudge_at > deadline
    assert OutboundEmail.objects.filter(purpose=MailPurpose.NUDGE).count() == emails_per_issue * len(issues)


def database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def admin_connection() -> Any:
    """A connection of the test's own, outside Django, to hold locks and look at pg_stat_activity."""
    db = connection.settings_dict
    return psycopg2.connect(
        dbname=db["NAME"], user=db["USER"], password=db.get("PASSWORD") or None, host=db["HOST"], port=db["PORT"]
    )


class Worker:
    """`celery -A smartcard_route worker` in its own process group, on the test database."""

    def __init__(self, tmp: Path, *, broker_url: str, extra_env: dict[str, str] | None = None) -> None:
        self.tmp = tmp
        self.broker_url = broker_url
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def mail_dir(self) -> Path:
        return self.tmp / "mail"

    def start(self) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "smartcard_route.test_settings",
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "VAR_DIR": str(self.tmp),  # the file backend writes under VAR_DIR/mail
            "TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "PYTEST_XDIST_WORKER": os.environ.get("PYTEST_XDIST_WORKER", "main"),
            **self.extra_env,
        }
        log = (self.tmp / f"worker-{self.starts}.log").open("wb")
        command = [sys.executable, "-m", "celery", "-A", "smartcard_route", "worker", "--pool=prefork"]
        command += ["--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
        command += ["-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "-n", f"exactly-once-{os.getpid()}-{self.starts}@%h"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def pool_process(self) -> int:
        """The pid of the worker's (single) pool process, which runs the tasks."""
        assert self.process is not None
        return pool_process_of(self.process.pid)

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool): a crash, nothing cleaned up."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def log(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in sorted(self.tmp.glob("worker-*.log")))


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def make(*, broker_url: str = settings.CELERY_BROKER_URL, **extra_env: str) -> Worker:
        worker = Worker(tmp_path, broker_url=broker_url, extra_env=extra_env)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.kill()
    # The worker's connections are gone with it; the flush after the test must not wait for them.
    connections.close_all()


@pytest.fixture
def clean_queue() -> None:
    """Messages other tests left in this process's queue must not run in these tests' workers."""
    app.control.purge()


def other_backend_waiting_on(admin: Any, table: str) -> int | None:
    """The pid of another session waiting for a lock on `table` (pg_locks is never cached)."""
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE NOT granted AND relation = %s::regclass AND pid <> pg_backend_pid()",
            [table],
        )
        row = cursor.fetchone()
        return row[0] if row else None


def backend_alive(admin: Any, pid: int) -> bool:
    """Whether a server process still runs; asked outside a transaction, as pg_stat_activity is
    read once per transaction."""
    with admin.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


# Two sweeps at once ---------------------------------------------------------------------------


def test_it_nudges_each_issue_once_when_sweeps_run_at_the_same_time(transactional_db, pharmacy, owner):
    issues = overdue_issues(pharmacy, 40)
    sweeps = 4
    start = threading.Barrier(sweeps)
    results: list[nudges.SweepResult] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait(timeout=30)
            results.append(nudges.nudges_sweep(limit=3))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(sweeps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(result.nudged for result in results) == len(issues)
    assert sum(result.emails for result in results) == 2 * len(issues)
    assert_each_issue_nudged_once(issues, emails_per_issue=2)
    assert nudges.nudges_sweep().nudged == 0


def test_it_skips_an_issue_another_sweep_holds_and_leaves_it_to_that_sweep(transactional_db, pharmacy, owner):
    """Another sweep has claimed an issue and not yet committed (here a connection of the test's
    own, holding the claimed row): this sweep neither waits for it nor nudges it; once the other
    commits, the next reminder has moved on and no sweep nudges it again."""
    held, *others = overdue_issues(pharmacy, 3)
    admin = admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute(
                "UPDATE issues_issue SET next_nudge_at = next_nudge_at + interval '2 days', "
                "reminders_sent = reminders_sent + 1 WHERE id = %s",
                [held.pk],
            )
        assert nudges.nudges_sweep().nudged == len(others)
        admin.commit()
    finally:
        admin.close()

    assert nudges.nudges_sweep().nudged == 0
    held.refresh_from_db()
    assert held.reminders_sent == 1
    assert not IssueEvent.objects.filter(issue=held, kind=EventKind.NUDGE).exists()
    assert_each_issue_nudged_once(others, emails_per_issue=2)


def test_it_nudges_an_issue_whose_other_sweep_crashed_before_committing(transactional_db, pharmacy, owner):
    [issue] = overdue_issues(pharmacy, 1)
    admin = admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute("UPDATE issues_issue SET reminders_sent = reminders_sent + 1 WHERE id = %s", [issue.pk])
        assert nudges.nudges_sweep().nudged == 0  # held: skipped
        admin.rollback()  # the other sweep died: its claim is undone
    finally:
        admin.close()

    assert nudges.nudges_sweep().nudged == 1
    assert_each_issue_nudged_once([issue], emails_per_issue=2)


# A worker killed in the middle of a sweep -----------------------------------------------------


@needs_redis_broker
def test_it_sends_each_nudge_once_when_the_pool_process_dies_mid_sweep(
    transactional_db, pharmacy, owner, worker_factory, clean_queue
):
    """acks_late + reject_on_worker_lost: the sweep the dead process was running goes back to the
    queue and runs again; the dead process's transaction is rolled back, so nothing is doubled."""
    issues = overdue_issues(pharmacy, 30)
    admin = admin_connection()
    worker = worker_factory(NUDGE_BATCH_SIZE="10")
    try:
        # Hold the outbox so the sweep stops inside its first batch: claimed, its writes waiting,
        # nothing committed.
        with admin.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {OUTBOX_TABLE} IN SHARE ROW EXCLUSIVE MODE")
        worker.start()
        nudge_sweep.delay()
        stuck = wait_for(lambda: other_backend_waiting_on(admin, OUTBOX_TABLE), what="the sweep to block")

        os.kill(worker.pool_process(), signal.SIGKILL)  # the process running the sweep dies mid-batch
        admin.rollback()  # let go of the outbox

        wait_for(lambda: not backend_alive(admin, stuck), what="the dead sweep's session to end")
        # The re-delivered sweep commits nudges with nothing sent again by us.
        wait_for(lambda: IssueEvent.objects.filter(kind=EventKind.NUDGE).exists(), what="the re-run sweep")
        nudge_sweep.delay()  # the next beat tick takes whatever the dead session still held
        wait_for(
            lambda: OutboundEmail.objects.filter(purpose="nudge", status=Status.SENT).count() == 2 * len(issues),
            what="every nudge email to be sent",
        )
    finally:
        admin.close()

    assert_each_issue_nudged_once(issues, emails_per_issue=2)
    sent = sent_message_ids(worker.mail_dir)
    assert set(sent) >= nudge_email_ids()
    assert all(sent[message_id] == 1 for message_id in nudge_email_ids()), worker.log()


@needs_redis_broker
def test_it_sends_each_nudge_once_when_the_whole_worker_is_killed_mid_sweep_and_restarted(
    transactional_db, pharmacy, owner, worker_factory, clean_queue
):
    issues = overdue_issues(pharmacy, 30)
    admin = admin_connection()
    worker = worker_factory(NUDGE_BATCH_SIZE="10")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {OUTBOX_TABLE} IN SHARE ROW EXCLUSIVE MODE")
        worker.start()
        nudge_sweep.delay()
        stuck = wait_for(lambda: other_backend_waiting_on(admin, OUTBOX_TABLE), what="the sweep to block")

        worker.kill()  # SIGKILL to the main process and the pool alike
        admin.rollback()
        wait_for(lambda: not backend_alive(admin, stuck), what="the dead sweep's session to end")
    finally:
        admin.close()

    # The crash lost the whole batch: no claim, no event, no email survives it.
    assert not IssueEvent.objects.filter(kind=EventKind.NUDGE).exists()
    assert not OutboundEmail.objects.exists()
    assert set(Issue.objects.values_list("reminders_sent", flat=True)) == {0}

    worker.start()
    nudge_sweep.delay()  # the next beat tick
    wait_for(
        lambda: OutboundEmail.objects.filter(purpose="nudge", status=Status.SENT).count() == 2 * len(issues),
        what="every nudge email to be sent",
    )
    assert_each_issue_nudged_once(issues, emails_per_issue=2)
    sent = sent_message_ids(worker.mail_dir)
    assert all(sent[message_id] == 1 for message_id in nudge_email_ids()), worker.log()
    assert sum(sent.values()) == 2 * len(issues)


# A Redis outage -------------------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A Redis of our own, and this process's Celery app publishing to it for the test."""
    server = RedisServer(tmp_path)
    server.start()
    previous = app.conf.broker_url
    publish_to(server.url, monkeypatch)
    yield server
    publish_to(previous, monkeypatch)
    server.stop()


def publish_to(broker_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point this process's Celery app at another broker, forgetting its pooled connections (as
    Celery itself does after a fork). Celery reads CELERY_BROKER_URL from the environment first."""
    kombu_pools.reset()
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    app.conf["broker_url"] = broker_url
    cast(Any, app)._after_fork()
    assert app.connection_for_write().as_uri() == Connection(broker_url).as_uri()


@needs_redis_server
def test_it_loses_no_email_through_a_redis_outage(
    transactional_db, pharmacy, owner, staff, private_redis, worker_factory, caplog
):
    worker = worker_factory(broker_url=private_redis.url, OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES="0")
    worker.start()
    private_redis.stop()  # Redis goes down

    # While it is down: a problem is reported and the RA asked from the app, and a sweep nudges.
    issue = services.issue_report(
        user=staff,
        pharmacy=pharmacy,
        kind="locked",
        summary="Card locked",
        contact_name="Sam Patel",
        contact_phone="0113 496 0002",
        smartcard_number="1234 5678 9012",
    )
    services.issue_contact_ra(user=staff, issue=issue, question="Please unlock my card")
    overdue = overdue_issues(pharmacy, 5)
    assert nudges.nudges_sweep().nudged == 5

    rows = OutboundEmail.objects.all()
    assert rows.count() == 1 + 2 * 5
    assert set(rows.values_list("status", flat=True)) == {Status.QUEUED}  # written, waiting for the broker
    failed = sorted(
        record.getMessage() for record in caplog.records if record.getMessage().startswith("Could not enqueue")
    )
    request = OutboundEmail.objects.get(purpose=MailPurpose.RA_REQUEST)
    # the request to the RA and the nudges (one batch of ten) alike
    assert [message.split(";")[0] for message in failed] == [
        "Could not enqueue 10 outbound emails",
        f"Could not enqueue outbound email {request.pk}",
    ]

    private_redis.start()  # Redis is back, empty: every message published before is gone
    requeue_stuck_outbound_emails.delay()  # the beat task's next run
    wait_for(
        lambda: OutboundEmail.objects.filter(status=Status.SENT).count() == rows.count(),
        timeout=90,
        what="every queued email to be sent once Redis is back",
    )

    sent = sent_message_ids(worker.mail_dir)
    assert set(sent) == set(rows.values_list("message_id", flat=True)), worker.log()
    assert set(sent.values()) == {1}
    assert_each_issue_nudged_once(overdue, emails_per_issue=2)


# A provider error -----------------------------------------------------------------------------


class ProviderFailsOnceBackend(FileEmailBackend):
    """The file backend behind an email provider that refuses each message the first time
    (an HTTP 503 from its API), remembering refusals in PROVIDER_STATE_DIR."""

    def send_messages(self, email_messages: Any) -> int:
        state = Path(os.environ["PROVIDER_STATE_DIR"])
        state.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            marker = state / re.sub(r"[^A-Za-z0-9.@-]", "_", str(message.extra_headers["Message-ID"]))
            if not marker.exists():
                marker.touch()
                raise AnymailAPIError("Service Unavailable (503): try again later")
        return int(super().send_messages(email_messages))


@needs_redis_broker
def test_it_retries_after_a_provider_error_and_sends_once(
    transactional_db, pharmacy, owner, worker_factory, clean_queue, tmp_path
):
    worker = worker_factory(
        TEST_EMAIL_BACKEND=f"{__name__}.ProviderFailsOnceBackend",
        PROVIDER_STATE_DIR=str(tmp_path / "provider"),
        OUTBOX_RETRY_BASE_SECONDS="0.1",
    )
    worker.start()
    issues = overdue_issues(pharmacy, 3)

    assert nudges.nudges_sweep().emails == 6

    wait_for(
        lambda: OutboundEmail.objects.filter(status=Status.SENT).count() == 6,
        timeout=90,
        what="every email to be sent after its retry",
    )
    assert set(OutboundEmail.objects.values_list("attempts", flat=True)) == {2}  # refused once, then sent
    assert len(list((tmp_path / "provider").iterdir())) == 6
    sent = sent_message_ids(worker.mail_dir)
    assert set(sent) == nudge_email_ids()
    assert set(sent.values()) == {1}, worker.log()
    assert_each_issue_nudged_once(issues, emails_per_issue=2)
