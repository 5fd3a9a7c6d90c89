"""A national data set (not a test): England's directory and 1,000,000 issues over three years, on PostgreSQL.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sr_bench_1m .venv/bin/python bench/dataset.py
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sr_bench_100k \
        .venv/bin/python bench/dataset.py --issues 100000
    .venv/bin/python bench/dataset.py --issues 100000 --keep     # refuse to rebuild a database that has issues

It (re)creates the database BENCH_DATABASE_URL names (default sr_bench_1m on 127.0.0.1), migrates it
with the project's migrations (`manage.py migrate`, to the newest migration of this checkout) and
fills it with set-based SQL (`INSERT ... SELECT ... generate_series`, one statement per table, the
foreign-key triggers off for the session: the rows are consistent by construction), then VACUUM
ANALYZE. About 4 minutes for 1,000,000 issues and 7,500,000 events on the 2-CPU machine.

What it holds (fictional; ids are fixed, so a benchmark can name its people):
- 40 RAs, 50 LPCs, 2,000 owner organisations (10 chains of 200 pharmacies, the rest 1 to 5 each),
  10,500 pharmacies (pharmacy p: LPC p % 50, RA p % 40);
- people: 3 staff per pharmacy (31,500: user ids 1 to 31,500, pharmacy p's staff are 3p-2 to 3p),
  one member per owner organisation, 3 officers per LPC, 3 CPE IT, 1 directory manager;
- the issues, one pharmacy each at random (about 95 per pharmacy at 1,000,000), created at an even
  rate over three years up to now (ids in the order of creation, as the site makes them); the last
  30 days 60% open, then 5% up to six months, then 1% (about 3% open in all). Open: 15% in the
  pharmacy, 10% CIS, 45% RA contacted, 20% LPC involved, 10% escalated, each wait with its
  deadline (a third overdue); closed: 90% resolved (fixed in the pharmacy 30%, CIS 15%, RA 40%,
  LPC 10%, CPE IT 5%), 10% withdrawn. The LPC is involved (`lpc_involved_at`) in every issue that
  reached step 4 (about 15%); half the escalations are triaged to a CPE IT owner; 3% emergencies;
- 5 to 10 events per issue (about 7.5 on average: reported, transitions, notes, mail out and in,
  reminders, calls, replies), spread between the report and its resolution (or now), inserted in
  the order of their time, as the site writes them. An issue that reached the RA's step (open at
  step 3 or later, or fixed there or later) has its request as its first TRANSITION event, with
  the data issues.services.transitions writes (transition contact_ra, the RA's id, name and
  address), so the figures' RA tables are real; every other call is with the RA (a reply, as the
  RA_REPLY events are). bench/fix_ra_events.py brings a data set built before that up to date.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sr_bench_1m"

PHARMACIES = 10_500
LPCS = 50
RAS = 40
OWNERS = 2_000
CHAINS = 10  # owners 1..10 own 200 pharmacies each (pharmacies 1..2,000)
STAFF_PER_PHARMACY = 3
OFFICERS_PER_LPC = 3
CPE_IT = 3

# User ids, fixed so that the page benchmark can name its people.
STAFF_IDS = (1, PHARMACIES * STAFF_PER_PHARMACY)
OWNER_MEMBER_FIRST = STAFF_IDS[1] + 1
OFFICER_FIRST = OWNER_MEMBER_FIRST + OWNERS
CPE_IT_FIRST = OFFICER_FIRST + LPCS * OFFICERS_PER_LPC
DIRECTORY_MANAGER = CPE_IT_FIRST + CPE_IT


def connect(url: str, dbname: str | None = None):  # type: ignore[no-untyped-def]
    import psycopg2

    parts = urlsplit(url)
    return psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=dbname or parts.path.lstrip("/"),
    )


def issue_count(url: str) -> int | None:
    """Issues in the database, or None when it does not exist or is not migrated."""
    import psycopg2

    try:
        conn = connect(url)
    except psycopg2.OperationalError:
        return None
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass('issues_issue') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return None
            cursor.execute("SELECT count(*) FROM issues_issue")
            return int(cursor.fetchone()[0])
    finally:
        conn.close()


def recreate(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = connect(url, "postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def migrate(url: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "smartcard_route.test_settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True)


DIRECTORY_SQL = f"""
INSERT INTO directory_registrationauthority (id, name, kind, email, phone, postal_address, website,
  areas_covered, active, source, needs_checking, updated_at)
SELECT r, 'Bench RA ' || r, 'icb', 'ra' || r || '@nhs.example', '0113 496 0000', '', '', 'Area ' || r, true,
  'bench', false, now()
FROM generate_series(1, {RAS}) r;

INSERT INTO directory_lpc (id, name, code, email, phone, website, area, active, updated_at)
SELECT l, 'Bench LPC ' || l, 'L' || l, 'lpc' || l || '@lpc.example', '0161 496 0000', '', 'Area ' || l, true, now()
FROM generate_series(1, {LPCS}) l;

INSERT INTO directory_pharmacyowner (id, name, email, phone, active)
SELECT o, 'Bench Owner ' || o || CASE WHEN o <= {CHAINS} THEN ' Chain plc' ELSE ' Ltd' END,
  'owner' || o || '@owner.example', '0117 496 0000', true
FROM generate_series(1, {OWNERS}) o;

INSERT INTO directory_pharmacy (id, ods_code, name, address, postcode, email, phone, icb_code, icb_name,
  ra_is_exception, active, updated_at, lpc_id, owner_id, ra_id)
SELECT p, 'F' || lpad(upper(to_hex(p)), 4, '0'), 'Bench Pharmacy ' || p, p || ' High Street, Bench Town',
  'LS1 ' || (p % 10) || 'AB', 'pharmacy' || p || '@nhs.example', '0113 496 0001',
  'Q' || lpad((1 + p % {RAS})::text, 2, '0'), 'Bench ICB ' || (1 + p % {RAS}), false, true, now(),
  1 + p % {LPCS},
  CASE WHEN p <= {CHAINS * 200} THEN 1 + (p - 1) / 200 ELSE {CHAINS + 1} + (p - 1) % {OWNERS - CHAINS} END,
  1 + p % {RAS}
FROM generate_series(1, {PHARMACIES}) p;

INSERT INTO directory_user (id, password, is_superuser, email, full_name, phone, is_active, is_staff,
  is_cpe_it, is_directory_manager, date_joined)
SELECT u, '!', false,
  CASE
    WHEN u <= {STAFF_IDS[1]} THEN 'staff' || u || '@pharmacy.example'
    WHEN u < {OFFICER_FIRST} THEN 'owner' || (u - {OWNER_MEMBER_FIRST - 1}) || '@member.example'
    WHEN u < {CPE_IT_FIRST} THEN 'officer' || (u - {OFFICER_FIRST - 1}) || '@lpc.example'
    WHEN u < {DIRECTORY_MANAGER} THEN 'it' || (u - {CPE_IT_FIRST - 1}) || '@cpe.example'
    ELSE 'directory@cpe.example'
  END,
  'Bench Person ' || u, '', true, false,
  u >= {CPE_IT_FIRST} AND u < {DIRECTORY_MANAGER}, u = {DIRECTORY_MANAGER}, now() - interval '4 years'
FROM generate_series(1, {DIRECTORY_MANAGER}) u;

INSERT INTO directory_pharmacy_staff (pharmacy_id, user_id)
SELECT 1 + (u - 1) / {STAFF_PER_PHARMACY}, u FROM generate_series(1, {STAFF_IDS[1]}) u;

INSERT INTO directory_pharmacyowner_members (pharmacyowner_id, user_id)
SELECT o, {OWNER_MEMBER_FIRST - 1} + o FROM generate_series(1, {OWNERS}) o;

INSERT INTO directory_lpc_officers (lpc_id, user_id)
SELECT 1 + (u - {OFFICER_FIRST}) / {OFFICERS_PER_LPC}, u
FROM generate_series({OFFICER_FIRST}, {CPE_IT_FIRST - 1}) u;
"""

# One row per issue: its random draws first (base), then what they decide (shaped).
ISSUES_SQL = f"""
SELECT setseed(0.20261201);
INSERT INTO issues_issue (id, kind, summary, details, tried_in_pharmacy, smartcard_number, no_card_yet,
  contact_name, contact_phone, is_emergency, state, due_at, due_kind, reminders_sent, resolved_from_state,
  resolution_note, fixed_by_step, resolved_at, withdrawn_reason, lpc_involved_at, tracking_token, created_at,
  updated_at, pharmacy_id, reporter_id, next_nudge_at, cpe_owner_id, triage_outcome, triaged_at)
WITH base AS (
  SELECT i, 1 + floor(random() * {PHARMACIES})::int AS pharmacy,
    now() - interval '1095 days' * ((%(issues)s - i + random()) / %(issues)s) AS created,
    random() AS r_open, random() AS r_state, random() AS r_step, random() AS r_kind, random() AS r_due,
    random() AS r_misc
  FROM generate_series(1, %(issues)s) i
), drawn AS (
  SELECT *, r_open < CASE WHEN created > now() - interval '30 days' THEN 0.6
                          WHEN created > now() - interval '180 days' THEN 0.05 ELSE 0.01 END AS is_open
  FROM base
), shaped AS (
  SELECT *,
    CASE WHEN is_open THEN
      CASE WHEN r_state < 0.15 THEN 'in_pharmacy' WHEN r_state < 0.25 THEN 'cis_self_service'
           WHEN r_state < 0.70 THEN 'ra_contacted' WHEN r_state < 0.90 THEN 'lpc_cc' ELSE 'escalated' END
    ELSE CASE WHEN r_state < 0.90 THEN 'resolved' ELSE 'withdrawn' END END AS state,
    CASE WHEN r_step < 0.30 THEN 'in_pharmacy' WHEN r_step < 0.45 THEN 'cis_self_service'
         WHEN r_step < 0.85 THEN 'ra_contacted' WHEN r_step < 0.95 THEN 'lpc_cc' ELSE 'escalated' END AS reached,
    (ARRAY['locked', 'locked', 'locked', 'certificates_expiring', 'certificates_expiring', 'lost_stolen_damaged',
           'old_card_series', 'roles_positions', 'roles_positions', 'premises_ods', 'multi_site',
           'reader_software', 'cis_not_running', 'new_card', 'contact_details', 'other'])[1 + floor(r_kind * 16)::int]
      AS kind,
    least(now(), created + interval '1 hour' + interval '12 days' * r_misc) AS closed_at
  FROM drawn
), final AS (
  SELECT *,
    CASE WHEN state IN ('resolved', 'withdrawn') THEN reached ELSE state END AS step,
    CASE state WHEN 'ra_contacted' THEN 'ra_reply' WHEN 'lpc_cc' THEN 'lpc_action'
               WHEN 'escalated' THEN 'cpe_triage' ELSE '' END AS due_kind
  FROM shaped
)
SELECT i, kind,
  CASE kind WHEN 'locked' THEN 'Card locked after three wrong passcodes'
            WHEN 'certificates_expiring' THEN 'Certificates on the card expire this week'
            ELSE 'Smartcard problem: ' || replace(kind, '_', ' ') END || ' (' || i || ')',
  'Reported from the bench data set; the card stopped working at the start of the shift.',
  CASE WHEN kind IN ('lost_stolen_damaged', 'old_card_series', 'premises_ods', 'multi_site') THEN ''
       ELSE 'Restarted the Identity Agent and tried another reader.' END,
  lpad(((i::bigint * 7919) %% 1000000000000)::text, 12, '0'), false,
  'Sam Patel', '0113 496 0002', r_misc < 0.03, state,
  CASE WHEN due_kind <> '' THEN now() + interval '1 day' * (r_due * 6 - 2) END, due_kind, 0,
  CASE WHEN state = 'resolved' THEN step ELSE '' END,
  CASE WHEN state = 'resolved' THEN 'Fixed.' ELSE '' END,
  CASE WHEN state = 'resolved' THEN
    CASE step WHEN 'in_pharmacy' THEN 'in_pharmacy' WHEN 'cis_self_service' THEN 'cis_self_service'
              WHEN 'ra_contacted' THEN 'ra' WHEN 'lpc_cc' THEN 'lpc' ELSE 'cpe_it' END
  ELSE '' END,
  CASE WHEN state = 'resolved' THEN closed_at END,
  CASE WHEN state = 'withdrawn' THEN 'Sorted out another way.' ELSE '' END,
  CASE WHEN step IN ('lpc_cc', 'escalated') THEN least(now(), created + interval '3 days') END,
  substr(md5('bench' || i), 1, 16), created,
  CASE WHEN state IN ('resolved', 'withdrawn') THEN closed_at ELSE least(now(), created + interval '1 day') END,
  pharmacy, {STAFF_PER_PHARMACY} * (pharmacy - 1) + 1 + i %% {STAFF_PER_PHARMACY},
  CASE WHEN due_kind <> '' THEN now() + interval '1 day' * (r_due * 6 - 2) END,
  CASE WHEN state = 'escalated' AND r_due < 0.5 THEN {CPE_IT_FIRST} + i %% {CPE_IT} END,
  CASE WHEN state = 'escalated' AND r_due < 0.5 THEN 'handled' ELSE '' END,
  CASE WHEN state = 'escalated' AND r_due < 0.5 THEN least(now(), created + interval '5 days') END
FROM final;
"""

# The RA was asked (contact_ra) in every issue that reached step 3: open at step 3 or later, or fixed
# there or later. Its request is the issue's first TRANSITION event (the second event), with the data
# issues.services.transitions.issue_contact_ra writes (the RA asked, by id, so the figures name it).
RA_ASKED = "(i.state IN ('ra_contacted', 'lpc_cc', 'escalated') OR i.fixed_by_step IN ('ra', 'lpc', 'cpe_it'))"
RA_REQUEST_DATA = (
    "jsonb_build_object('transition', 'contact_ra', 'send_via', 'app', 'cc_lpc', false, 'ra_id', p.ra_id, "
    "'ra_name', ra.name, 'ra_email', ra.email)"
)
# Calls (issues.services.timeline.issue_log_phone_call): every other one with the RA, which counts
# as its reply (issues.selectors.figures.RA_REPLY_EVENTS), as RA_REPLY events do.
CALL_DATA = "jsonb_build_object('with_ra', i.id % 2 = 0)"

# 5 to 10 events per issue between its report and its end (or now), written in the order of their time.
EVENTS_SQL = f"""
INSERT INTO issues_issueevent (kind, from_state, to_state, text, data, created_at, actor_id, issue_id)
SELECT e.kind,
  CASE WHEN e.kind = 'transition' THEN 'in_pharmacy' ELSE '' END,
  CASE WHEN e.kind = 'transition' AND e.k = 2 AND {RA_ASKED} THEN 'ra_contacted'
       WHEN e.kind = 'transition' THEN i.state ELSE '' END,
  CASE e.kind WHEN 'reported' THEN 'Reported.' WHEN 'note' THEN 'Called the RA desk, waiting for a callback.'
              WHEN 'email_out' THEN 'Request sent to the RA.' WHEN 'email_in' THEN 'Reply from the RA.'
              WHEN 'nudge' THEN 'Reminder 1: no reply from the RA yet.' WHEN 'clock' THEN 'RA reply due.'
              WHEN 'ra_reply' THEN 'The RA unlocked the card.' WHEN 'phone_call' THEN 'Phoned the RA.'
              ELSE 'Status changed.' END,
  CASE WHEN e.kind = 'transition' AND e.k = 2 AND {RA_ASKED} THEN {RA_REQUEST_DATA}
       WHEN e.kind = 'phone_call' THEN {CALL_DATA}
       ELSE '{{}}'::jsonb END,
  i.created_at + (e.k - 1) * (coalesce(i.resolved_at, now()) - i.created_at) / e.n,
  CASE WHEN e.kind IN ('reported', 'note', 'phone_call', 'transition', 'ra_reply') THEN i.reporter_id END,
  i.id
FROM issues_issue i
JOIN directory_pharmacy p ON p.id = i.pharmacy_id
JOIN directory_registrationauthority ra ON ra.id = p.ra_id
CROSS JOIN LATERAL (
  SELECT k, n,
    CASE WHEN k = 1 THEN 'reported' WHEN k = n THEN 'transition'
         ELSE (ARRAY['transition', 'clock', 'email_out', 'note', 'nudge', 'email_in', 'ra_reply', 'phone_call',
                     'note'])[k - 1] END AS kind
  FROM (SELECT 5 + i.id % 6 AS n) counted, generate_series(1, counted.n) k
) e
ORDER BY 6;
"""

# When each issue entered its state (Issue.state_changed_at), as the transitions keep it: its last
# TRANSITION event's time (the migration that added the column fills it the same way).
STATE_CHANGED_SQL = """
UPDATE issues_issue AS i SET state_changed_at = last.at
FROM (SELECT issue_id, max(created_at) AS at FROM issues_issueevent WHERE kind = 'transition' GROUP BY issue_id) last
WHERE last.issue_id = i.id;
"""

FINISH_SQL = "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"

SEQUENCED = [
    "directory_registrationauthority",
    "directory_lpc",
    "directory_pharmacyowner",
    "directory_pharmacy",
    "directory_user",
    "issues_issue",
    "issues_issueevent",
]


def fill(url: str, issues: int) -> None:
    conn = connect(url)
    conn.autocommit = False
    with conn.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no FK triggers: consistent by construction
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        steps = (
            ("directory", DIRECTORY_SQL),
            ("issues", ISSUES_SQL),
            ("events", EVENTS_SQL),
            ("states entered", STATE_CHANGED_SQL),
        )
        for label, sql in steps:
            started = time.perf_counter()
            cursor.execute(sql, {"issues": issues} if "%(issues)s" in sql else None)
            conn.commit()
            print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
        for table in SEQUENCED:
            cursor.execute(FINISH_SQL.format(table=table))
        conn.commit()
    conn.autocommit = True
    with conn.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE")
        print(f"  vacuum analyze: {time.perf_counter() - started:.1f} s", flush=True)
        cursor.execute(
            "SELECT (SELECT count(*) FROM issues_issue), (SELECT count(*) FROM issues_issueevent), "
            "(SELECT count(*) FROM issues_issue WHERE state NOT IN ('resolved', 'withdrawn')), "
            "(SELECT count(*) FROM issues_issue WHERE lpc_involved_at IS NOT NULL), "
            "pg_size_pretty(pg_database_size(current_database()))"
        )
        n_issues, n_events, n_open, n_lpc, size = cursor.fetchone()
    conn.close()
    print(
        f"Issues {n_issues:,} ({n_open:,} open, {n_lpc:,} with the LPC involved), events {n_events:,}; database {size}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="do nothing if the database already holds issues")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    existing = issue_count(url)
    if args.keep and existing:
        print(f"{urlsplit(url).path.lstrip('/')} already holds {existing:,} issues: kept.")
        return
    started = time.perf_counter()
    recreate(url)
    migrate(url)
    print(f"Created and migrated {urlsplit(url).path.lstrip('/')} in {time.perf_counter() - started:.1f} s", flush=True)
    fill(url, args.issues)
    print(f"Done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
