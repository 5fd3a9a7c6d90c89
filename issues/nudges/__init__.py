"""Nudges: remind whoever must take the next step when a window ends (DESIGN.md, "Nudges").

An issue somebody is waiting on has two times (DESIGN.md, the clock): `due_at`, the deadline
people see, which reminders never move (so an issue stays overdue, in its page, the lists, the
"Only overdue" filter, the counts and the API, until someone acts), and `next_nudge_at`, the
sweep's cursor: the first reminder at `due_at`, then one a window apart. Starting or ending a wait
(issues.services.events start_clock/clear_clock) sets or clears both.

`nudges_sweep` (issues.nudges.sweep) is the beat task's service, every minute. It works in bounded
batches of NUDGE_BATCH_SIZE issues, each its own short transaction (issues.nudges.batch):

1. read the open issues whose `next_nudge_at` has passed, the longest waiting first, through the
   partial index `issue_next_nudge_waiting`, locking them (FOR UPDATE SKIP LOCKED on PostgreSQL,
   so that sweeps running at once share the work instead of queueing behind each other);
2. claim them with one conditional UPDATE on the cursor read (compare-and-set: an issue whose
   `next_nudge_at` changed since, because another sweep or a person got there first, is not
   claimed), moving `next_nudge_at` to the next reminder and counting the reminder;
3. for the claimed issues only, work out who is told and what (issues.nudges.recipients and
   .rules, in Python: the one definition of the rules), and write the NUDGE IssueEvent and, per
   recipient, an outbox row (the mail layer's OutboundEmail, with its IssueOutboundEmail link to
   the issue and the event) or (for people who chose the daily digest) a NudgeDigestItem, each
   kind of row in one set-based statement (issues.nudges.bulk);
4. after commit, enqueue the delivery of the new outbox rows (the mail layer's
   outbound_emails_enqueue_after_commit: one task per batch fans out).

The same code runs on PostgreSQL and SQLite; on PostgreSQL a sweep works on
NUDGE_SWEEP_CONNECTIONS connections at once, so that one lane's Python overlaps another's database
work.

A crash before the commit rolls the claim back with everything else, so the next sweep does the
same work again; after the commit the claim stops any other sweep. Each reminder is therefore
sent exactly once, and each outbox row is sent at most once by the outbox's own claim.

The outbox rows carry their addresses, subject and Message-ID, and the name of their template
with the recipient's role: the bodies are rendered when the row is sent (issues.nudges.mail,
registered with the mail layer in IssuesConfig.ready), from the issue and its NUDGE event, and stored on the row then.

The next reminder comes a further window of the same length after this one (counted from the
sweep, in working time), up to NUDGE_MAX_REMINDERS reminders; after that, once a working day,
through the daily digest for people (a shared mailbox such as CPE IT's still gets an email).
`nudge_digests_send` (issues.nudges.digest; weekdays at DIGEST_TIME) sends each person with
pending reminders one email listing them, settling the items in the same transaction.

Who is told and what (issues.nudges.rules) follows DESIGN.md's table, keyed by what the issue
waits for (`due_kind`): RA reply: the reporter and the owner's members (owners also get the
one-click "cc your LPC"); LPC action: the LPC's officers; CPE IT triage: the CPE IT mailbox and
CPE IT users; pharmacy update (after an RA reply): the reporter ("is it resolved?"); LPC
follow-up (after the LPC logged work): the LPC's officers (resolve, log more work or escalate).
"""

from issues.nudges.context import due_issues
from issues.nudges.digest import DigestResult, notification_preference_set, nudge_digests_send
from issues.nudges.mail import nudge_email_context
from issues.nudges.rules import (
    ACTION_ANCHORS,
    AUDIENCES,
    NUDGED_KINDS,
    SUBJECTS,
    TEMPLATES,
    Links,
    Role,
    batch_size,
    london,
    max_reminders,
    sweep_connections,
)
from issues.nudges.sweep import SweepResult, nudges_sweep

__all__ = [
    "ACTION_ANCHORS",
    "AUDIENCES",
    "NUDGED_KINDS",
    "SUBJECTS",
    "TEMPLATES",
    "DigestResult",
    "Links",
    "Role",
    "SweepResult",
    "batch_size",
    "due_issues",
    "london",
    "max_reminders",
    "notification_preference_set",
    "nudge_digests_send",
    "nudge_email_context",
    "nudges_sweep",
    "sweep_connections",
]
