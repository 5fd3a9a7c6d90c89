"""The Celery worker killed (SIGKILL, main process and pool alike) in the middle of a send and in
the middle of a nudge sweep, on a private PostgreSQL and Redis: nothing is sent twice, nothing is
lost. After a restart, the outbox's requeue beat task takes back the row left "sending" and the
next sweep does the work the dead one had not committed (issue 10, part 4)."""

from __future__ import annotations

import pytest

from tests.faults.conftest import Stack
from tests.faults.stack import celery_call, sent_message_ids, wait_for
from tests.faults.test_redis import REQUEUE, report

pytestmark = pytest.mark.faults

SWEEP = "issues.tasks.nudge_sweep"


def outbox(stack: Stack) -> dict[str, tuple[str, int]]:
    """Each outbox row's Message-ID -> (status, attempts)."""
    rows = stack.database.rows("SELECT message_id, status, attempts FROM mail_outboundemail")
    return {message_id: (status, attempts) for message_id, status, attempts in rows}


def all_sent(stack: Stack, count: int) -> bool:
    return stack.database.value("SELECT count(*) FROM mail_outboundemail WHERE status = 'sent'") == count


def test_a_worker_killed_during_a_send_sends_it_once_after_a_restart(stack: Stack) -> None:
    seeded = stack.seed()
    web = stack.web()
    hold, entered = stack.tmp / "hold", stack.tmp / "entered"
    hold.touch()
    worker = stack.worker(
        TEST_EMAIL_BACKEND="tests.faults.backends.HeldProviderBackend", FAULT_HOLD=str(hold), FAULT_ENTERED=str(entered)
    )
    reported = web.post("/api/v1/issues/", json=report(str(seeded["ods"]), "Card locked"))
    reference = reported.json()["reference"]
    moved = web.post(
        f"/api/v1/issues/{reference}/transitions/", json={"transition": "contact_ra", "question": "Please unlock."}
    )
    assert moved.status_code == 200, moved.text
    wait_for(entered.exists, timeout=60, what=f"the worker to start sending\n{worker.log()}")

    worker.kill()  # mid-send: the provider has not taken the message
    hold.unlink()
    rows = outbox(stack)
    sending = [message_id for message_id, (status, _) in rows.items() if status == "sending"]
    assert len(sending) == 1 and rows[sending[0]][1] == 1
    assert not sent_message_ids(stack.mail_dir)

    stack.worker(OUTBOX_REQUEUE_SENDING_AFTER_MINUTES="0", OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES="0")
    celery_call(stack.env(), REQUEUE)  # the beat task's next run takes the row back

    wait_for(lambda: all_sent(stack, len(rows)), timeout=60, what="every email to be sent after the restart")
    sent = sent_message_ids(stack.mail_dir)
    assert set(sent) == set(rows) and set(sent.values()) == {1}
    assert outbox(stack)[sending[0]] == ("sent", 2)  # tried twice, sent once


def test_a_worker_killed_during_a_sweep_nudges_each_issue_once_after_a_restart(stack: Stack) -> None:
    seeded = stack.seed("overdue", "12")
    issues = len(seeded["overdue"])
    admin = stack.postgres.connect(stack.database.name)
    admin.autocommit = False
    worker = stack.worker(NUDGE_BATCH_SIZE="4")
    try:
        # Hold the outbox so the sweep stops inside its first batch: claimed, writes waiting.
        with admin.cursor() as cursor:
            cursor.execute("LOCK TABLE mail_outboundemail IN SHARE ROW EXCLUSIVE MODE")
        celery_call(stack.env(), SWEEP)

        def sweep_waiting() -> int | None:
            with admin.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_locks WHERE NOT granted AND relation = 'mail_outboundemail'::regclass "
                    "AND pid <> pg_backend_pid()"
                )
                row = cursor.fetchone()
                return int(row[0]) if row else None

        stuck = wait_for(sweep_waiting, timeout=60, what=f"the sweep to block on the outbox\n{worker.log()}")
        worker.kill()  # mid-sweep
        admin.rollback()  # let go of the outbox

        def session_gone() -> bool:
            with admin.cursor() as cursor:
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [stuck])
                gone = cursor.fetchone() is None
            admin.rollback()
            return gone

        wait_for(session_gone, timeout=60, what="the dead sweep's session to end")
    finally:
        admin.close()

    # The crash lost its whole batch: no claim, no event, no email survives it.
    assert stack.database.value("SELECT count(*) FROM issues_issueevent WHERE kind = 'nudge'") == 0
    assert stack.database.value("SELECT count(*) FROM mail_outboundemail") == 0
    assert stack.database.value("SELECT max(reminders_sent) FROM issues_issue") == 0

    stack.worker(NUDGE_BATCH_SIZE="4")
    celery_call(stack.env(), SWEEP)  # the next beat tick

    wait_for(lambda: all_sent(stack, 2 * issues), timeout=60, what="every nudge to be sent")
    assert stack.database.value("SELECT count(*) FROM issues_issueevent WHERE kind = 'nudge'") == issues
    assert set(stack.database.rows("SELECT reminders_sent FROM issues_issue")) == {(1,)}
    sent = sent_message_ids(stack.mail_dir)
    assert set(sent) == set(outbox(stack)) and set(sent.values()) == {1}
    assert sum(sent.values()) == 2 * issues
