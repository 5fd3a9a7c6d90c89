"""Benchmark (not a test): one nudge sweep over 100,000 open issues with 10,000 overdue, on PostgreSQL.

    .venv/bin/python bench/sweep_bench.py                  # 100,000 open issues; 10,000 and 20,000 overdue
    .venv/bin/python bench/sweep_bench.py --overdue 10000 --runs 7
    .venv/bin/python bench/sweep_bench.py --lanes 1        # one database connection (NUDGE_SWEEP_CONNECTIONS=1)
    .venv/bin/python bench/sweep_bench.py --parallel 2     # two sweeps at once, as two workers would
    .venv/bin/python bench/sweep_bench.py --sql-floor      # also the bare SQL doing similar writes
    BENCH_DATABASE_URL=postgres://user@host:5432/sr_bench .venv/bin/python bench/sweep_bench.py

For each overdue count it:
1. (re)creates the template database (default postgres://postgres@127.0.0.1:5432/sr_bench), migrates it
   and seeds a directory the size of England's (10,500 pharmacies, 2,000 owner organisations, 50 LPCs,
   40 RAs, a person per pharmacy and per owner, 3 officers per LPC) and the open issues, with COPY;
2. for each run, copies the template into a scratch database (CREATE DATABASE ... TEMPLATE) and runs
   one full sweep (`issues.nudges.nudges_sweep`, as the beat task does, with the settings' batch size
   and connections) in a fresh child process, warmed up as a worker is after its first minute: the
   claims, the NUDGE events, the outbox rows and digest items it writes, and the enqueueing of their
   delivery (on an in-memory broker: nothing is sent);
3. reports the sweep's wall time (median and best), the child's peak RSS (resource.getrusage
   ru_maxrss, before and after the sweep), and in a separate run (tracemalloc slows Python down) the
   peak of Python allocations during the sweep.

The overdue issues wait for the four things DESIGN.md nudges about: 70% the RA's reply (reporter and
owner told), 15% the LPC (three officers), 5% CPE IT triage (the mailbox and two CPE IT people), 10%
a pharmacy update (reporter). One owner person in ten chose the daily digest.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sr_bench"
SEED = 20261130


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcard_route.test_settings")
    # Delivery is not what is measured: enqueue it on an in-memory broker, never on make run's.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_execute(url: str, *statements: str) -> None:
    """Run statements on the server's `postgres` database (CREATE/DROP DATABASE need autocommit)."""
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password, dbname="postgres"
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    conn.close()


# Seeding --------------------------------------------------------------------------------------


def copy_rows(model: Any, rows: list[dict[str, Any]]) -> None:
    """COPY rows into a model's table; columns the rows leave out take the field's default."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key or (rows and f.attname in rows[0])]
    columns = [f.column for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}

    def text(value: Any) -> str:
        if value is None:
            return r"\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, (dict, list)):
            return json.dumps(value).replace("\\", "\\\\")
        return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(text(row.get(f.attname, defaults[f.attname])) for f in fields))
        buffer.write("\n")
    buffer.seek(0)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(f"COPY {model._meta.db_table} ({quoted}) FROM STDIN", buffer)


def seed(*, issues: int, overdue: int) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection, transaction

    from directory.models import LPC, Pharmacy, PharmacyOwner, RegistrationAuthority, User
    from issues.models import Deadline, Issue, NotificationPreference, State

    rng = random.Random(SEED)
    call_command("migrate", verbosity=0)
    now = datetime.now(UTC)
    with transaction.atomic():
        ras = RegistrationAuthority.objects.bulk_create(
            RegistrationAuthority(name=f"RA {n}", email=f"ra{n}@nhs.example", phone="0113 496 0000") for n in range(40)
        )
        lpcs = LPC.objects.bulk_create(LPC(name=f"LPC {n}", email=f"lpc{n}@lpc.example") for n in range(50))
        owners = PharmacyOwner.objects.bulk_create(
            PharmacyOwner(name=f"Owner {n}", email=f"owner{n}@owner.example") for n in range(2000)
        )
        users = User.objects.bulk_create(
            [User(email=f"staff{n}@pharmacy.example", full_name=f"Staff {n}", password="!") for n in range(10_500)]
            + [User(email=f"owner{n}@member.example", full_name=f"Owner {n}", password="!") for n in range(2000)]
            + [User(email=f"officer{n}@lpc.example", full_name=f"Officer {n}", password="!") for n in range(150)]
            + [
                User(email=f"it{n}@cpe.example", full_name=f"CPE IT {n}", password="!", is_cpe_it=True)
                for n in range(2)
            ]
        )
        staff, owner_people, officers = users[:10_500], users[10_500:12_500], users[12_500:12_650]
        pharmacies = Pharmacy.objects.bulk_create(
            Pharmacy(
                ods_code=f"F{n:04X}",
                name=f"Pharmacy {n}",
                owner=owners[n % len(owners)],
                ra=ras[n % len(ras)],
                lpc=lpcs[n % len(lpcs)],
            )
            for n in range(10_500)
        )
        Pharmacy.staff.through.objects.bulk_create(
            Pharmacy.staff.through(pharmacy_id=p.pk, user_id=staff[n].pk) for n, p in enumerate(pharmacies)
        )
        PharmacyOwner.members.through.objects.bulk_create(
            PharmacyOwner.members.through(pharmacyowner_id=o.pk, user_id=owner_people[n].pk)
            for n, o in enumerate(owners)
        )
        LPC.officers.through.objects.bulk_create(
            LPC.officers.through(lpc_id=lpcs[n // 3].pk, user_id=officer.pk) for n, officer in enumerate(officers)
        )
        NotificationPreference.objects.bulk_create(
            NotificationPreference(user=person, nudge_delivery=NotificationPreference.Delivery.DAILY_DIGEST)
            for person in owner_people[::10]
        )

        waits = [
            (State.RA_CONTACTED, Deadline.RA_REPLY, 0.70),
            (State.LPC_CC, Deadline.LPC_ACTION, 0.15),
            (State.ESCALATED, Deadline.CPE_TRIAGE, 0.05),
            (State.RA_CONTACTED, Deadline.PHARMACY_UPDATE, 0.10),
        ]
        rows = []
        for n in range(issues):
            index = n % len(pharmacies)
            pharmacy = pharmacies[index]
            row: dict[str, Any] = {
                "pharmacy_id": pharmacy.pk,
                "reporter_id": staff[index].pk,
                "kind": "locked",
                "summary": f"Card locked after three wrong passcodes ({n})",
                "details": "The card locked this morning.",
                "smartcard_number": f"{n:012d}",
                "contact_name": "Sam Patel",
                "contact_phone": "0113 496 0002",
                "tracking_token": f"{n:016x}",
                "created_at": now - timedelta(days=rng.randint(3, 30)),
                "updated_at": now,
            }
            if n < overdue:
                state, due_kind = rng.choices([w[:2] for w in waits], weights=[w[2] for w in waits])[0]
                due_at = now - timedelta(minutes=rng.randint(1, 60 * 24 * 3))
            elif n % 2:  # half of the rest wait for someone, not yet overdue
                state, due_kind = State.RA_CONTACTED, Deadline.RA_REPLY
                due_at = now + timedelta(minutes=rng.randint(60, 60 * 24 * 4))  # none due during the runs
            else:  # the other half are still being tried in the pharmacy: no deadline
                state, due_kind, due_at = rng.choice([State.IN_PHARMACY, State.CIS_SELF_SERVICE]), Deadline.NONE, None
            # As start_clock leaves them: the first reminder at the deadline.
            row.update(state=state, due_kind=due_kind, due_at=due_at, next_nudge_at=due_at)
            if state in (State.LPC_CC, State.ESCALATED):
                row["lpc_involved_at"] = now - timedelta(days=2)
            rows.append(row)
        copy_rows(Issue, rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"issues": Issue.objects.count(), "overdue": Issue.objects.filter(next_nudge_at__lte=now).count()}


# The measured sweep (child process) -----------------------------------------------------------


def child(mode: str) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    import issues.tasks  # noqa: F401  (a worker has its task modules loaded)
    import smartcard_route.mail.tasks  # noqa: F401
    from issues import nudges
    from issues.clock import add_working_days
    from issues.models import IssueEvent, NudgeDigestItem
    from smartcard_route.mail.models import OutboundEmail

    # A worker runs a sweep every minute, so it is warm: connected, URLconf loaded, England's bank
    # holidays read by the working-time clock.
    connection.ensure_connection()
    nudges.Links()
    add_working_days(timezone.now(), 1)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
    start_at = float(os.environ.get("BENCH_START_AT", "0"))  # sweeps run in parallel start together
    while time.time() < start_at:
        time.sleep(0.001)
    started, wall_start = time.perf_counter(), time.time()
    result = nudges.nudges_sweep()
    elapsed = time.perf_counter() - started
    report: dict[str, Any] = {"seconds": elapsed, "wall_start": wall_start, "wall_end": wall_start + elapsed}
    if mode == "tracemalloc":
        import tracemalloc

        report["python_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    report.update(
        nudged=result.nudged,
        emails=result.emails,
        digest_items=result.digest_items,
        batches=result.batches,
        lanes=nudges.sweep_connections(),
        batch_size=nudges.batch_size(),
        rss_before_mib=rss_before / 1024,
        rss_peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        events_written=IssueEvent.objects.filter(kind="nudge").count(),
        outbox_rows=OutboundEmail.objects.count(),
        digest_rows=NudgeDigestItem.objects.count(),
    )
    return report


def explain() -> str:
    from django.db import connection, transaction
    from django.utils import timezone

    from issues import nudges

    with transaction.atomic(), connection.cursor() as cursor:
        sql, params = nudges.due_issues(now=timezone.now()).values("id")[: nudges.batch_size()].query.sql_with_params()
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def run_child(url: str, mode: str, env: dict[str, str], parallel: int = 1) -> dict[str, Any]:
    """One sweep in a child process, or `parallel` sweeps in as many processes started together
    (like several Celery workers sweeping at once): then the time is from the common start to the
    last one's end, and the counts are the sum of what each claimed."""
    if parallel == 1:
        return dict(json.loads(child_process(url, mode, env=env)))
    env = {**os.environ, **env, "BENCH_CHILD_URL": url, "BENCH_START_AT": str(time.time() + 8)}
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", mode],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(parallel)
    ]
    reports = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{err}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    merged = dict(reports[0])
    merged["seconds"] = max(r["wall_end"] for r in reports) - min(r["wall_start"] for r in reports)
    for key in ("nudged", "emails", "digest_items", "batches"):
        merged[key] = sum(r[key] for r in reports)
    for key in ("events_written", "outbox_rows", "digest_rows", "rss_peak_mib"):
        merged[key] = max(r[key] for r in reports)
    return merged


def sql_floor(url: str) -> float:
    """Similar writes as bare SQL in one transaction on one connection, for comparison on the same
    machine: the claim, one event per issue and two outbox rows per issue, of the sweep's sizes, but
    with fixed recipients and wording (no audience rules, no digest) and no Python at all."""
    import psycopg2

    parts = urlsplit(url)
    conn = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/"),
    )
    started = time.perf_counter()
    with conn, conn.cursor() as cursor:
        cursor.execute(SQL_FLOOR)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


SQL_FLOOR = """
CREATE TEMP TABLE claimed ON COMMIT DROP AS
WITH due AS (
  SELECT id, next_nudge_at FROM issues_issue WHERE next_nudge_at <= now() ORDER BY next_nudge_at
  FOR UPDATE SKIP LOCKED
), won AS (
  UPDATE issues_issue i SET next_nudge_at = now() + interval '2 days', reminders_sent = i.reminders_sent + 1,
    updated_at = now()
  FROM due WHERE i.id = due.id AND i.next_nudge_at = due.next_nudge_at RETURNING i.id, i.state, i.tracking_token
) SELECT * FROM won;
CREATE TEMP TABLE events ON COMMIT DROP AS
WITH e AS (
  INSERT INTO issues_issueevent (issue_id, kind, from_state, to_state, text, data, created_at)
  SELECT id, 'nudge', state, state, 'Reminder 1: no reply from the RA by Wednesday 30 December 2026, 10:00. '
    || 'Reminded: Owner 1 (owner), Staff 1 (reporter). Next reminder Monday 4 January 2027, 10:00.',
    '{"due_kind": "ra_reply", "deadline": "2026-12-30T10:00:00+00:00", "reminder": 1,
      "next_due": "2027-01-04T10:00:00+00:00"}',
    now()
  FROM claimed RETURNING id, issue_id
) SELECT * FROM e;
CREATE TEMP TABLE mails ON COMMIT DROP AS
SELECT nextval(pg_get_serial_sequence('mail_outboundemail', 'id')) AS id, e.issue_id, e.id AS event_id
FROM events e CROSS JOIN generate_series(1, 2);
INSERT INTO mail_outboundemail (id, purpose, auto_submitted, from_email, "to", cc, reply_to, subject,
  body_text, body_html, template, context, message_id, in_reply_to, "references", status, attempts,
  last_error, esp_message_id, created_at, status_changed_at)
SELECT m.id, 'nudge', true, 'Smartcard Route <noreply@smartcard-route.localhost>',
  jsonb_build_array('staff' || m.issue_id || '@pharmacy.example'), '[]',
  'issues+' || m.issue_id || '@smartcard-route.localhost',
  '[SC-' || lpad(m.issue_id::text, 6, '0') || '] No reply from the RA yet: please chase them', '', '',
  'nudge_ra_reply_reporter', '{"role": "reporter"}',
  '<' || to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::bigint) || '.'
    || replace(gen_random_uuid()::text, '-', '') || '@smartcard-route.localhost>',
  '', '', 'queued', 0, '', '', now(), now()
FROM mails m;
INSERT INTO issues_issueoutboundemail (email_id, issue_id, event_id) SELECT id, issue_id, event_id FROM mails;
"""


def machine(url: str) -> str:
    import psycopg2

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    parts = urlsplit(url)
    conn = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password, dbname="postgres"
    )
    with conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
        settings = []
        for name in ("shared_buffers", "synchronous_commit", "fsync", "max_wal_size"):
            cursor.execute(f"SHOW {name}")
            settings.append(f"{name} {cursor.fetchone()[0]}")
    conn.close()
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}, "
        f"PostgreSQL {version.split()[0]} ({', '.join(settings)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--overdue", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument(
        "--runs", type=int, default=3, help="timed sweeps per overdue count, at least 1 (median reported)"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="NUDGE_BATCH_SIZE (default: the setting)")
    parser.add_argument("--lanes", type=int, default=None, help="NUDGE_SWEEP_CONNECTIONS (default: the setting)")
    parser.add_argument("--parallel", type=int, default=1, help="sweeps started together, as by several workers")
    parser.add_argument("--sql-floor", action="store_true", help="also time similar writes as bare SQL")
    parser.add_argument("--child", choices=["timing", "tracemalloc", "seed", "explain"], help=argparse.SUPPRESS)
    parser.add_argument("--seed-overdue", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.runs = max(1, args.runs)

    if args.child:
        setup_django(os.environ["BENCH_CHILD_URL"])
        if args.child == "seed":
            print(json.dumps(seed(issues=args.issues, overdue=args.seed_overdue)))
        elif args.child == "explain":
            print(json.dumps(explain()))
        else:
            print(json.dumps(child(args.child)))
        return

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    template = urlsplit(url).path.lstrip("/")
    scratch = f"{template}_run"
    env = {}
    if args.batch_size:
        env["NUDGE_BATCH_SIZE"] = str(args.batch_size)
    if args.lanes:
        env["NUDGE_SWEEP_CONNECTIONS"] = str(args.lanes)
    print(f"Machine: {machine(url)}")
    print(f"Load average before: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"Sweeps in parallel: {args.parallel}")
    results = []
    for overdue in args.overdue:
        admin_execute(url, f'DROP DATABASE IF EXISTS "{scratch}"', f'DROP DATABASE IF EXISTS "{template}"')
        admin_execute(url, f'CREATE DATABASE "{template}"')
        started = time.perf_counter()
        seeded = run_seed(url, args.issues, overdue)
        print(
            f"\nSeeded {seeded['issues']:,} open issues, {seeded['overdue']:,} overdue, in "
            f"{time.perf_counter() - started:.1f} s"
        )
        runs = []
        for n in range(args.runs + 1):
            admin_execute(
                url, f'DROP DATABASE IF EXISTS "{scratch}"', f'CREATE DATABASE "{scratch}" TEMPLATE "{template}"'
            )
            if n == 0:
                print("Query plan of one batch's read:\n" + indent(run_explain(with_database(url, scratch))))
                report = run_child(with_database(url, scratch), "tracemalloc", env)
                traced = report
            else:
                report = run_child(with_database(url, scratch), "timing", env, args.parallel)
                runs.append(report)
            print(
                f"  {'tracemalloc' if n == 0 else f'run {n}'}: {report['seconds']:.3f} s, "
                f"{report['nudged']:,} nudged, {report['events_written']:,} events, {report['outbox_rows']:,} "
                f"outbox rows, {report['digest_rows']:,} digest items, {report['batches']} batches of up to "
                f"{report['batch_size']:,} on {report['lanes']} connection(s), "
                f"RSS {report['rss_before_mib']:.0f} -> {report['rss_peak_mib']:.0f} MiB"
            )
            assert report["nudged"] == overdue == report["events_written"]
        floor = None
        if args.sql_floor:
            admin_execute(
                url, f'DROP DATABASE IF EXISTS "{scratch}"', f'CREATE DATABASE "{scratch}" TEMPLATE "{template}"'
            )
            floor = sql_floor(with_database(url, scratch))
            print(f"  similar writes as bare SQL, one transaction, one connection: {floor:.3f} s")
        results.append(
            {
                "overdue": overdue,
                "median_seconds": statistics.median(r["seconds"] for r in runs),
                "best_seconds": min(r["seconds"] for r in runs),
                "lanes": runs[0]["lanes"],
                "rss_growth_mib": max(r["rss_peak_mib"] - r["rss_before_mib"] for r in runs),
                "rss_peak_mib": max(r["rss_peak_mib"] for r in runs),
                "python_peak_mib": traced["python_peak_mib"],
                "emails": runs[0]["outbox_rows"],
                "digest_items": runs[0]["digest_rows"],
                "floor": floor,
            }
        )
    admin_execute(url, f'DROP DATABASE IF EXISTS "{scratch}"')
    print(f"\nLoad average after: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(
        f"\n| open issues | overdue | connections | sweep (median of {args.runs}) | best | outbox rows | digest items "
        "| peak RSS (growth) | Python peak (tracemalloc) |" + (" bare SQL |" if args.sql_floor else "")
    )
    print("|---|---|---|---|---|---|---|---|---|" + ("---|" if args.sql_floor else ""))
    for r in results:
        print(
            f"| {args.issues:,} | {r['overdue']:,} | {r['lanes']} | {r['median_seconds']:.2f} s "
            f"| {r['best_seconds']:.2f} s | {r['emails']:,} | {r['digest_items']:,} "
            f"| {r['rss_peak_mib']:.0f} MiB (+{r['rss_growth_mib']:.0f}) | {r['python_peak_mib']:.1f} MiB |"
            + (f" {r['floor']:.2f} s |" if r["floor"] is not None else "")
        )


def run_seed(url: str, issues: int, overdue: int) -> dict[str, Any]:
    """Seed in a child process so the parent stays small and Django is set up per database."""
    return json.loads(child_process(url, "seed", "--issues", str(issues), "--seed-overdue", str(overdue)))


def run_explain(url: str) -> str:
    return str(json.loads(child_process(url, "explain")))


def child_process(url: str, mode: str, *arguments: str, env: dict[str, str] | None = None) -> str:
    """Run this script as a child (`--child mode`) on database `url`; its last line of output."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, *arguments],
        env={**os.environ, **(env or {}), "BENCH_CHILD_URL": url},
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


if __name__ == "__main__":
    main()
