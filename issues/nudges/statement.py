"""A batch of the sweep on PostgreSQL: one set-based statement claims the batch and writes its
events, outbox rows and digest items; no row goes through Python."""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, connections, models

from directory.models import LPC, Pharmacy, PharmacyOwner, User
from issues.emails import AUTOMATIC_PURPOSES
from issues.models import (
    EventKind,
    Issue,
    IssueEvent,
    IssueOutboundEmail,
    MailPurpose,
    NotificationPreference,
    NudgeDigestItem,
)
from issues.nudges.context import BatchWritten, due_issues
from issues.nudges.rules import AUDIENCES, ROLE_LABELS, SUBJECTS, TEMPLATES, WAITED_FOR, Role, london
from smartcard_route.mail.models import OutboundEmail

if TYPE_CHECKING:
    from issues.nudges.context import Sweep

Delivery = NotificationPreference.Delivery


def nudge_batch(sweep: Sweep, size: int) -> BatchWritten:
    """Claim a batch and write all its rows in one statement (set-based): no row goes through
    Python. It applies the rules of the portable path (issues.nudges.portable and .recipients,
    which the tests hold it to), with the tables of issues.nudges.rules (audiences, wording,
    templates) as JSON parameters; the steps are in `_batch_sql`."""
    if size not in sweep.statements:  # the same for every batch of the sweep
        params = _batch_parameters(sweep)
        due = due_issues(now=sweep.now).values("id", "due_at", "due_kind", "is_emergency", "reminders_sent")[:size]
        due_sql, due_params = due.query.sql_with_params()
        # The ORM's positional placeholders, named like the statement's own ("%%" stays a percent sign).
        names = iter(range(len(due_params)))
        due_sql = re.sub(r"%([%s])", lambda m: "%%" if m.group(1) == "%" else f"%(due_{next(names)})s", due_sql)
        params.update({f"due_{n}": value for n, value in enumerate(due_params)})
        sweep.statements[size] = (_batch_sql(due_sql, params), params)
    sql, params = sweep.statements[size]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        seen, claimed, email_ids, items = cursor.fetchone()
    return BatchWritten(seen, claimed, list(email_ids), items)


def _batch_parameters(sweep: Sweep) -> dict[str, Any]:
    """The batch statement's values: the sweep's moment and cadence, and this module's tables."""
    return {
        "now": sweep.now,
        "max_reminders": sweep.max_reminders,
        "time_zone": settings.TIME_ZONE,
        "cadence": json.dumps(
            {
                _cadence_key(*case): {"at": next_due.isoformat(), "words": london(next_due)}
                for case, next_due in sweep.cadence.items()
            }
        ),
        "audiences": json.dumps(
            [[kind, role, rank] for kind, roles in AUDIENCES.items() for rank, role in enumerate(roles)]
        ),
        "owner_kinds": [kind for kind, roles in AUDIENCES.items() if Role.OWNER in roles],
        "reporter_kinds": [kind for kind, roles in AUDIENCES.items() if Role.REPORTER in roles],
        "lpc_kinds": [kind for kind, roles in AUDIENCES.items() if Role.LPC_OFFICER in roles],
        "cpe_kinds": [kind for kind, roles in AUDIENCES.items() if Role.CPE_IT in roles],
        "labels": json.dumps(ROLE_LABELS),
        "waited_for": json.dumps(WAITED_FOR),
        "mail": json.dumps(
            {f"{kind} {role}": [TEMPLATES[kind, role], SUBJECTS[kind, role]] for kind, role in TEMPLATES}
        ),
        "event_ids": _id_sequence(connection.alias, IssueEvent._meta.db_table, IssueEvent._meta.pk.column),  # type: ignore[union-attr]
        "email_ids": _id_sequence(connection.alias, OutboundEmail._meta.db_table, OutboundEmail._meta.pk.column),  # type: ignore[union-attr]
        "cpe_it_email": settings.CPE_IT_EMAIL,
        "digest": Delivery.DAILY_DIGEST.value,
        "nudge": EventKind.NUDGE.value,
        "purpose": MailPurpose.NUDGE.value,
        "auto_submitted": MailPurpose.NUDGE in AUTOMATIC_PURPOSES,
        "queued": OutboundEmail.Status.QUEUED.value,
        "from_email": settings.DEFAULT_FROM_EMAIL,
        "tracking_prefix": f"{settings.INBOUND_LOCAL_PART}+",
        "tracking_suffix": f"@{settings.INBOUND_DOMAIN}",
        "domain": settings.INBOUND_DOMAIN,
    }


@functools.cache
def _id_sequence(alias: str, table: str, column: str) -> str:
    """The name of the sequence that numbers a table's rows."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        (name,) = cursor.fetchone()
    return str(name)


def _batch_sql(due_sql: str, params: dict[str, Any]) -> str:
    """The batch statement. Each step reads the one before; none joins two of them (their row
    counts are unknown to the planner, which would loop over one for each row of the other):

    - `due`: the sweep's query (`due_issues`: the partial index, FOR UPDATE SKIP LOCKED);
    - `claimed`: moves each issue's deadline, still conditional on the one read, to the next one
      from the sweep's cadence (by wait, emergency, past NUDGE_MAX_REMINDERS), counts the
      reminder, and numbers its NUDGE event;
    - `candidate`: everyone who could be told, by role: the owner organisation's active members
      with an address (else its own address), the LPC's officers (else its address), the
      reporter, CPE IT's mailbox and people;
    - `chosen`: the candidates of each issue's audience (AUDIENCES), and for every issue CPE IT's
      mailbox as the last resort ("nobody else"), one per address: the first by the audience's
      order, then by membership (as `RecipientDirectory.for_issue`);
    - `told`: the last resort only where nobody else is left;
    - `nudge`, `email`, `link`, `item`: the NUDGE event (its text as the portable path's
      `_event_text`), an outbox row per recipient by email (numbered in `told`) with its link to
      the issue and event (IssueOutboundEmail), a digest item per person by daily digest.

    `_insert_select` adds the defaults of the columns it does not set to `params`."""
    table = _table
    members, officers = PharmacyOwner.members.through, LPC.officers.through
    issue = (
        "c.id AS issue_id, c.event_id, c.due_kind, c.state, c.due_at, c.reminder, c.next_at, c.next_words, c.reply_to"
    )
    person = "coalesce(nullif(u.full_name, ''), u.email)"
    wants_digest = "coalesce(np.nudge_delivery = %(digest)s, false)"
    active = "u.is_active AND u.email <> ''"
    events = _insert_select(
        IssueEvent,
        {
            "id": "t.event_id",
            "issue_id": "t.issue_id",
            "kind": "%(nudge)s",
            "from_state": "t.state",
            "to_state": "t.state",
            "text": (
                "'Reminder ' || t.reminder || ': ' || (%(waited_for)s::jsonb ->> t.due_kind) || ' by ' "
                "|| to_char(t.due_at AT TIME ZONE %(time_zone)s, 'FMDay FMDD FMMonth YYYY, HH24:MI') "
                "|| '. Reminded: ' || string_agg(t.name || ' (' || (%(labels)s::jsonb ->> t.role) "
                "|| CASE WHEN t.by_digest THEN ', in the daily digest' ELSE '' END || ')', ', ' "
                "ORDER BY t.rank, t.position) || '. Next reminder ' || t.next_words || '.'"
            ),
            "data": (
                "jsonb_build_object('due_kind', t.due_kind, 'deadline', "
                # as Python's datetime.isoformat() of the UTC deadline, which the portable path writes
                "to_char(t.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
                "|| CASE WHEN mod(date_part('microseconds', t.due_at)::int, 1000000) <> 0 "
                "THEN to_char(t.due_at AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00', "
                "'reminder', t.reminder, 'next_due', t.next_at)"
            ),
            "created_at": "%(now)s",
        },
        # One group per issue: the issue's columns are the same on each of its rows.
        "told AS t GROUP BY t.event_id, t.issue_id, t.due_kind, t.state, t.due_at, t.reminder, t.next_at, t.next_words",
        params,
    )
    emails = _insert_select(
        OutboundEmail,
        {
            "id": "t.email_id",
            "purpose": "%(purpose)s",
            "auto_submitted": "%(auto_submitted)s",
            "from_email": "%(from_email)s",
            "to": "jsonb_build_array(t.email)",
            "reply_to": "t.reply_to",
            "subject": "t.subject",
            "template": "t.template",
            "context": "jsonb_build_object('role', t.role)",
            "message_id": (  # as smartcard_route.mail.services.new_message_id
                "'<' || to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint) || '.' "
                "|| replace(gen_random_uuid()::text, '-', '') || '@' || %(domain)s || '>'"
            ),
            "status": "%(queued)s",
            "created_at": "%(now)s",
            "status_changed_at": "%(now)s",
        },
        "told AS t WHERE NOT t.by_digest",
        params,
    )
    links = _insert_select(
        IssueOutboundEmail,
        {"email_id": "t.email_id", "issue_id": "t.issue_id", "event_id": "t.event_id"},
        "told AS t WHERE NOT t.by_digest",
        params,
    )
    items = _insert_select(
        NudgeDigestItem,
        {
            "user_id": "t.user_id",
            "issue_id": "t.issue_id",
            "event_id": "t.event_id",
            "role": "t.role",
            "due_kind": "t.due_kind",
            "created_at": "%(now)s",
        },
        "told AS t WHERE t.by_digest",
        params,
    )
    # Names come from the models; values are parameters.
    return f"""
WITH due AS ({due_sql}),
claimed AS (
    UPDATE {table(Issue)} AS issue
    SET due_at = (s.next ->> 'at')::timestamptz, reminders_sent = issue.reminders_sent + 1, updated_at = %(now)s
    FROM (
        SELECT id, due_at, reminders_sent + 1 AS reminder, reminders_sent + 1 > %(max_reminders)s AS past_max,
            %(cadence)s::jsonb
            -> concat_ws(' ', due_kind, is_emergency::int, (reminders_sent + 1 >= %(max_reminders)s)::int) AS next
        FROM due
    ) AS s
    WHERE issue.id = s.id AND issue.due_at = s.due_at
    RETURNING issue.id, nextval(%(event_ids)s::regclass) AS event_id, s.due_at, s.reminder, s.past_max,
        s.next ->> 'at' AS next_at, s.next ->> 'words' AS next_words, issue.due_kind, issue.state,
        issue.reporter_id, issue.pharmacy_id,
        %(tracking_prefix)s || issue.tracking_token || %(tracking_suffix)s AS reply_to,
        -- "SC-000123", as issues.models.format_reference
        'SC-' || CASE WHEN issue.id < 1000000 THEN lpad(issue.id::text, 6, '0') ELSE issue.id::text END AS reference
),
cpe_it AS MATERIALIZED (
    SELECT 0 AS position, NULL::bigint AS user_id, %(cpe_it_email)s AS email, 'CPE IT team' AS name,
        false AS wants_digest
    WHERE %(cpe_it_email)s <> ''
    UNION ALL
    SELECT u.id, u.id, u.email, {person}, {wants_digest}
    FROM {table(User)} AS u LEFT JOIN {table(NotificationPreference)} AS np ON np.user_id = u.id
    WHERE u.is_cpe_it AND {active}
),
candidate AS (
    -- The owner organisation's active members, or its own address when it has none.
    SELECT {issue}, c.reference, 'owner' AS role, coalesce(m.id, 0) AS position, u.id AS user_id,
        coalesce(u.email, o.email) AS email, coalesce({person}, 'Pharmacy owner') AS name,
        u.id IS NOT NULL AND (c.past_max OR {wants_digest}) AS by_digest
    FROM claimed AS c
    JOIN {table(Pharmacy)} AS p ON p.id = c.pharmacy_id
    JOIN {table(PharmacyOwner)} AS o ON o.id = p.owner_id
    LEFT JOIN ({table(members)} AS m JOIN {table(User)} AS u ON u.id = m.user_id AND {active}
        LEFT JOIN {table(NotificationPreference)} AS np ON np.user_id = u.id) ON m.pharmacyowner_id = p.owner_id
    WHERE c.due_kind = ANY(%(owner_kinds)s) AND (u.id IS NOT NULL OR o.email <> '')
    UNION ALL
    -- The LPC's active officers, or its own address when it has none.
    SELECT {issue}, c.reference, 'lpc_officer', coalesce(m.id, 0), u.id, coalesce(u.email, l.email),
        coalesce({person}, nullif(l.name, ''), 'LPC'), u.id IS NOT NULL AND (c.past_max OR {wants_digest})
    FROM claimed AS c
    JOIN {table(Pharmacy)} AS p ON p.id = c.pharmacy_id
    JOIN {table(LPC)} AS l ON l.id = p.lpc_id
    LEFT JOIN ({table(officers)} AS m JOIN {table(User)} AS u ON u.id = m.user_id AND {active}
        LEFT JOIN {table(NotificationPreference)} AS np ON np.user_id = u.id) ON m.lpc_id = p.lpc_id
    WHERE c.due_kind = ANY(%(lpc_kinds)s) AND (u.id IS NOT NULL OR l.email <> '')
    UNION ALL
    SELECT {issue}, c.reference, 'reporter', 0, u.id, u.email, {person}, c.past_max OR {wants_digest}
    FROM claimed AS c
    JOIN {table(User)} AS u ON u.id = c.reporter_id AND {active}
    LEFT JOIN {table(NotificationPreference)} AS np ON np.user_id = u.id
    WHERE c.due_kind = ANY(%(reporter_kinds)s)
    UNION ALL
    -- CPE IT's mailbox and people.
    SELECT {issue}, c.reference, 'cpe_it', u.position, u.user_id, u.email, u.name,
        u.user_id IS NOT NULL AND (c.past_max OR u.wants_digest)
    FROM claimed AS c CROSS JOIN cpe_it AS u
    WHERE c.due_kind = ANY(%(cpe_kinds)s)
),
chosen AS (
    SELECT DISTINCT ON (k.issue_id, lower(k.email)) k.*
    FROM (
        SELECT k.*, (a ->> 2)::int AS rank
        FROM candidate AS k
        JOIN jsonb_array_elements(%(audiences)s::jsonb) AS a ON a ->> 0 = k.due_kind AND a ->> 1 = k.role
        UNION ALL
        -- The last resort, for every issue; kept below only where nobody else is left.
        SELECT {issue}, c.reference, 'nobody_else', 0, NULL, %(cpe_it_email)s, 'CPE IT team', false, 99
        FROM claimed AS c
    ) AS k
    ORDER BY k.issue_id, lower(k.email), k.rank, k.position
),
told AS (
    SELECT t.*, '[' || t.reference || '] ' || (t.mail ->> 1) AS subject, t.mail ->> 0 AS template,
        CASE WHEN NOT t.by_digest THEN nextval(%(email_ids)s::regclass) END AS email_id
    FROM (
        SELECT chosen.*, count(*) OVER (PARTITION BY chosen.issue_id) AS recipients,
            %(mail)s::jsonb -> (chosen.due_kind || ' ' || chosen.role) AS mail
        FROM chosen
    ) AS t
    WHERE t.role <> 'nobody_else' OR t.recipients = 1
),
nudge AS ({events} RETURNING id),
email AS ({emails} RETURNING id),
link AS ({links}),
item AS ({items} RETURNING id)
SELECT (SELECT count(*) FROM due), (SELECT count(*) FROM claimed), ARRAY(SELECT id FROM email ORDER BY id),
    (SELECT count(*) FROM item)
"""  # noqa: S608


def _insert_select(model: type[models.Model], values: dict[str, str], source: str, params: dict[str, Any]) -> str:
    """`INSERT INTO <table> (<every column>) SELECT <values> FROM <source>`, the values given as SQL
    by attname; the other columns take their field's default, added to `params`."""
    quote = connection.ops.quote_name
    meta = model._meta
    unknown = set(values) - {f.attname for f in meta.concrete_fields}
    if unknown:
        raise ValueError(f"{meta.label} has no column(s) {sorted(unknown)}")
    columns, expressions = [], []
    for model_field in meta.concrete_fields:
        if model_field.primary_key and model_field.attname not in values:
            continue  # numbered by its sequence
        columns.append(quote(str(model_field.column)))
        if model_field.attname in values:
            expressions.append(values[model_field.attname])
        else:
            name = f"default_{meta.model_name}_{model_field.attname}"
            params[name] = model_field.get_db_prep_save(model_field.get_default(), connection)
            expressions.append(f"CAST(%({name})s AS {model_field.db_type(connection)})")
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(expressions)} FROM {source}"
    )


def _table(model: type[models.Model]) -> str:
    """A model's quoted table name, for hand-written SQL."""
    return connection.ops.quote_name(model._meta.db_table)


def _cadence_key(due_kind: str, is_emergency: bool, later: bool) -> str:
    """As the claim's SQL spells a case of the cadence: 'ra_reply 0 1'."""
    return f"{due_kind} {int(is_emergency)} {int(later)}"
