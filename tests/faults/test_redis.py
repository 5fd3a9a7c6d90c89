"""Redis (the broker) stopped while issues are reported and moved on, and an RA replies, under the
running site (gunicorn) and worker: the pages and the API keep working, every email is written to
the outbox and none is lost, the inbound webhook answers 200 (the reply stored, its read task lost
with Redis); once Redis is back (empty: it kept nothing) the outbox's requeue beat task sends each
email, once, and the stale-post beat task reads the reply onto its issue (issue 10, parts 4 and 5)."""

from __future__ import annotations

import json

import pytest

from tests.faults.conftest import Stack
from tests.faults.stack import WEBHOOK_SECRET, celery_call, sent_message_ids, wait_for
from tests.mail.payloads import POSTMARK_INBOUND_URL, Mail, postmark_inbound

pytestmark = pytest.mark.faults

REQUEUE = "smartcard_route.mail.tasks.requeue_stuck_outbound_emails"
STALE_POSTS = "smartcard_route.mail.tasks.process_stale_inbound_posts"


def report(ods: str, summary: str) -> dict[str, object]:
    return {
        "pharmacy": ods,
        "kind": "locked",
        "summary": summary,
        "contact_name": "Sam Patel",
        "contact_phone": "0113 496 0002",
        "smartcard_number": "1234 5678 9012",
    }


def test_pages_keep_working_and_no_mail_is_lost_while_redis_is_down(stack: Stack) -> None:
    seeded = stack.seed()
    web = stack.web()
    stack.worker(OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES="0", INBOUND_STALE_AFTER_MINUTES="0")
    assert web.probe().status_code == 200

    stack.redis.stop()

    references = []
    for n in range(3):
        reported = web.post("/api/v1/issues/", json=report(str(seeded["ods"]), f"Card locked ({n})"))
        assert reported.status_code == 201, reported.text
        reference = reported.json()["reference"]
        moved = web.post(
            f"/api/v1/issues/{reference}/transitions/",
            json={"transition": "contact_ra", "question": "Please unlock my card."},
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["state"] == "ra_contacted"
        references.append(reference)
    assert web.get("/issues/").status_code == 200
    page = web.get(f"/issues/{references[0]}/")
    assert page.status_code == 200 and "Please unlock my card." in page.text
    health = web.probe()
    assert (health.status_code, health.json()["broker"], health.json()["database"]) == (503, "unavailable", "ok")

    # The RA replies to the first issue, through the provider's inbound webhook.
    [(token, ra_email)] = stack.database.rows(
        "SELECT i.tracking_token, ra.email FROM issues_issue i JOIN directory_pharmacy p ON p.id = i.pharmacy_id "
        "JOIN directory_registrationauthority ra ON ra.id = p.ra_id WHERE i.id = %s",
        (int(references[0].split("-")[1]),),
    )
    reply = Mail(from_email=ra_email, to=[f"issues+{token}@smartcard-route.localhost"], subject="Unlocked")
    user, password = WEBHOOK_SECRET.split(":", 1)
    posted = web.post(
        POSTMARK_INBOUND_URL,
        data=json.dumps(postmark_inbound(reply)),
        headers={"Content-Type": "application/json"},
        auth=(user, password),
    )
    assert posted.status_code == 200, posted.text  # stored: the provider has nothing to retry
    assert stack.database.rows("SELECT status FROM mail_inboundpost") == [("received",)]  # its task lost

    rows = stack.database.rows("SELECT message_id, status FROM mail_outboundemail")
    assert len(rows) >= 3  # the request to each RA at least
    assert {status for _, status in rows} == {"queued"}  # written, waiting for the broker

    stack.redis.start()  # back, and empty: every task published before is gone
    celery_call(stack.env(), REQUEUE)  # the beat task's next run

    wait_for(
        lambda: stack.database.value("SELECT count(*) FROM mail_outboundemail WHERE status = 'sent'") == len(rows),
        timeout=60,
        what="every queued email to be sent once Redis is back",
    )
    sent = sent_message_ids(stack.mail_dir)
    assert set(sent) == {message_id for message_id, _ in rows}
    assert set(sent.values()) == {1}

    celery_call(stack.env(), STALE_POSTS)  # the stale-post beat task's next run
    wait_for(
        lambda: stack.database.value("SELECT count(*) FROM issues_inboundemailmatch") == 1,
        timeout=60,
        what="the RA's reply, stored while Redis was down, to be read onto its issue",
    )
    assert stack.database.rows("SELECT status FROM mail_inboundpost") == [("read",)]
