"""Load benchmark (not a test): the users' real mix against gunicorn, beside a bare view, at national scale.

    createdb -h 127.0.0.1 -U postgres -T sr_bench_1m sr_load_1m     # once: a copy (nobody connected to it)
    .venv/bin/python bench/load.py                                    # 50 people for 90 s, then the webhook alone
    .venv/bin/python bench/load.py --users 50 --time 120 --webhook-time 30 --webhook-users 8
    .venv/bin/python bench/load.py --database sr_load_100k --template sr_bench_100k   # the 100,000 one
    .venv/bin/python bench/load.py --time 0 --webhook-time 20         # the webhook phase only

What it does:
1. Refuses to touch the benchmark data sets themselves (sr_bench_1m, sr_bench_100k): it writes (sessions,
   reports, notes, inbound mail), so it runs on a copy, which it makes with `createdb -T --template`
   when the database does not exist yet (PostgreSQL refuses while anyone is connected to the template).
2. The production settings (smartcard_route.settings, DEBUG off, a random SECRET_KEY, ALLOWED_HOSTS
   127.0.0.1, behind a TLS proxy as in docker-compose.yml, HTTPS settings on), the webhook secret, the
   Redis broker (--broker, default db 4 of the machine's Redis) and BENCH_BARE_VIEW=True, which
   mounts the bare view /bench/bare/.
3. Static files by their plain names (STATIC_MANIFEST=False, the one setting not production's): no
   request fetches one, and collecting the manifest's 12,000 files takes minutes on a busy machine.
4. The plan (bench/locustfile.py reads it): people of the data set (bench/dataset.py's fixed ids) with
   a session each, written as Django's login would (no password: the data set's are unusable), their
   issues, and the issues an RA's reply is posted to (open, waiting on the RA).
5. gunicorn with docker-compose.yml's web command (2 workers; the bind address changed, and an access
   log format that records each request's page and the time the worker spent on it, %(D)s), and
   the Celery worker with docker-compose.yml's worker command (--no-worker: none), which reads the
   inbound posts the webhook stored (and sends mail, through Django's dummy backend here), after
   purging what earlier runs left in the broker. Its database connections are named (PGAPPNAME),
   so the web's backends are counted without them (Celery closes its connection after each task, so
   its own backends, one a task, are not counted: its processes' CPU is).
6. Phase "mix": --users people (pharmacy staff, owners, LPC officers, CPE IT, bench/locustfile.py),
   with the ESP posting inbound mail and the bare view beside them, for --time seconds.
   Phase "webhook": the ESP alone (--webhook-users posting as fast as they can) beside the bare view,
   for --webhook-time seconds: the messages a second the site takes (--time 0: this phase only).
   Then it waits (up to --read-wait seconds) for the worker to read the posts of the phase, and
   reports how many were stored, read, failed and left unread, how fast the worker read them,
   and the worker's CPU a post.
7. The report, per page: requests, throughput, errors, median and 95th percentile (as locust saw
   them: queueing included), the worker's mean time (the access log's %(D)s: what the page costs),
   and its throughput as a ratio to the bare view's: the bare view's mean worker time over the page's
   (how many of this page the two workers serve in the time of one bare view; 1.0 = as cheap as
   the floor). Also the load average while it ran. Written to --out (Markdown and JSON).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dataset import (  # noqa: E402
    CPE_IT,
    CPE_IT_FIRST,
    OFFICER_FIRST,
    OFFICERS_PER_LPC,
    OWNER_MEMBER_FIRST,
    PHARMACIES,
    STAFF_PER_PHARMACY,
)

PROTECTED = {"sr_bench_1m", "sr_bench_100k"}
# The Celery worker's database connections carry this application_name (libpq's PGAPPNAME).
WORKER_APPLICATION = "sr-bench-worker"
VENV_BIN = Path(sys.executable).parent
# The access log: the page (X-Bench-Page), the status and the worker's time in microseconds.
ACCESS_FORMAT = "BENCH %({x-bench-page}i)s|%(s)s|%(D)s"
ACCESS_LINE = re.compile(r"BENCH (?P<page>[^|]*)\|(?P<status>\d+)\|(?P<micros>\d+)")


def database_exists(server: str, name: str) -> bool:
    import psycopg2

    conn = psycopg2.connect(f"{server}/postgres")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        conn.close()


def ensure_copy(server: str, name: str, template: str) -> None:
    if name in PROTECTED:
        raise SystemExit(f"{name} is a benchmark data set: the load benchmark writes, so it runs on a copy")
    if database_exists(server, name):
        return
    parts = urlsplit(server)
    print(f"Copying {template} into {name} (createdb -T) ...", flush=True)
    started = time.perf_counter()
    host, port, user = parts.hostname or "127.0.0.1", str(parts.port or 5432), parts.username or "postgres"
    subprocess.run(["createdb", "-h", host, "-p", port, "-U", user, "-T", template, name], check=True)
    print(f"  copied in {time.perf_counter() - started:.0f} s", flush=True)


def production_environment(args: argparse.Namespace, var_dir: Path, webhook_secret: str) -> dict[str, str]:
    return {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(var_dir),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "smartcard_route.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": "https://127.0.0.1",
        "BEHIND_TLS_PROXY": "True",
        "TRUSTED_PROXY_COUNT": "1",
        "DB_CONN_MAX_AGE": "60",
        "DATABASE_URL": f"{args.server}/{args.database}",
        "CELERY_BROKER_URL": args.broker,
        "REDIS_URL": args.broker,
        "ANYMAIL_WEBHOOK_SECRET": webhook_secret,
        "VAR_DIR": str(var_dir),
        "BENCH_BARE_VIEW": "True",
        # Static files by their plain names, not collected: locust fetches none, and collecting them
        # (12,000 files compressed twice) takes minutes on the shared machine.
        "STATIC_MANIFEST": "False",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def make_plan(environment: dict[str, str], args: argparse.Namespace, host: str, webhook_secret: str) -> dict[str, Any]:
    """People with sessions, their issues, and the issues the ESP posts replies to (in this process,
    with the production settings)."""
    os.environ.update(environment)
    import random

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    from directory.models import User
    from issues.models import Issue
    from issues.services.suggestions import case_suggestions_refresh

    # The suggested groups as the worker keeps them (no beat runs here, and a copy older than three
    # refreshes is ignored): fresh for a run's few minutes.
    case_suggestions_refresh()
    rng = random.Random(20261201)

    def session_for(user_id: int) -> str:
        user = User.objects.get(pk=user_id)
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return str(store.session_key)

    def newest(sql: str, params: list[Any], limit: int = 20) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} ORDER BY i.id DESC LIMIT {int(limit)}", params)
            return [f"SC-{row[0]:06d}" for row in cursor.fetchall()]

    staff, owners, officers, cpe_it = [], [], [], []
    for pharmacy in rng.sample(range(1, PHARMACIES + 1), args.staff_people):
        issues = newest("SELECT i.id FROM issues_issue i WHERE i.pharmacy_id = %s", [pharmacy])
        if issues:
            staff.append({"session": session_for(STAFF_PER_PHARMACY * (pharmacy - 1) + 1), "issues": issues})
    for owner in (1, 2, 11, 500, 1500):  # two chains of 200 pharmacies, three small owners
        issues = newest(
            "SELECT i.id FROM issues_issue i JOIN directory_pharmacy p ON p.id = i.pharmacy_id WHERE p.owner_id = %s",
            [owner],
        )
        owners.append({"session": session_for(OWNER_MEMBER_FIRST + owner - 1), "issues": issues})
    for lpc in range(1, 11):
        issues = newest(
            "SELECT i.id FROM issues_issue i JOIN directory_pharmacy p ON p.id = i.pharmacy_id "
            "WHERE p.lpc_id = %s AND i.lpc_involved_at IS NOT NULL",
            [lpc],
        )
        officers.append({"session": session_for(OFFICER_FIRST + OFFICERS_PER_LPC * (lpc - 1)), "issues": issues})
    for person in range(CPE_IT):
        issues = newest("SELECT i.id FROM issues_issue i WHERE i.id %% 97 = %s", [person], limit=50)
        cpe_it.append({"session": session_for(CPE_IT_FIRST + person), "issues": issues})

    targets = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.id, i.tracking_token, ra.email FROM issues_issue i "
            "JOIN directory_pharmacy p ON p.id = i.pharmacy_id "
            "JOIN directory_registrationauthority ra ON ra.id = p.ra_id "
            "WHERE i.state = 'ra_contacted' ORDER BY i.id DESC LIMIT 2000"
        )
        for issue_id, token, ra_email in cursor.fetchall():
            targets.append(
                {
                    "reference": f"SC-{issue_id:06d}",
                    "address": f"{settings.INBOUND_LOCAL_PART}+{token}@{settings.INBOUND_DOMAIN}",
                    "ra_email": ra_email,
                }
            )
    rng.shuffle(targets)
    counts = {
        "issues": Issue.objects.count(),
        "open": Issue.objects.exclude(state__in=["resolved", "withdrawn"]).count(),
    }
    connection.close()
    alphabet = string.ascii_letters + string.digits
    return {
        "host": host,
        "csrf": "".join(secrets.choice(alphabet) for _ in range(32)),  # a CSRF secret, as the cookie holds it
        "webhook_secret": webhook_secret,
        "staff": staff,
        "owners": owners,
        "officers": officers,
        "cpe_it": cpe_it,
        "webhook_targets": targets,
        "counts": counts,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_command(port: int) -> list[str]:
    """docker-compose.yml's web command, bound to the loopback, with the benchmark's access log format."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    command = [word.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for word in command]
    return [*command, "--access-logformat", ACCESS_FORMAT]


class LoadSampler(threading.Thread):
    """The 1-minute load average and the machine's CPU use, every few seconds, while a phase runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.busy: list[float] = []
        self.stopping = threading.Event()

    @staticmethod
    def _cpu() -> tuple[int, int]:
        fields = [int(part) for part in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def run(self) -> None:
        previous = self._cpu()
        while not self.stopping.wait(5):
            self.samples.append(os.getloadavg()[0])
            now = self._cpu()
            total = now[1] - previous[1]
            self.busy.append(100 * (now[0] - previous[0]) / total if total else 0)
            previous = now

    def summary(self) -> dict[str, float]:
        samples = self.samples or [os.getloadavg()[0]]
        return {
            "load_min": min(samples),
            "load_max": max(samples),
            "load_mean": statistics.fmean(samples),
            "cpu_busy_percent": statistics.fmean(self.busy) if self.busy else 0.0,
        }


WARM_UP = {
    "staff": ["/issues/", "/issues/{issue}/", "/issues/report/kind/"],
    "owners": ["/issues/", "/issues/{issue}/", "/api/v1/issues/"],
    "officers": ["/dashboard/lpc/", "/issues/", "/issues/{issue}/"],
    # (not CPE IT's dashboard and figures: tens of seconds each on the 1,000,000 data set, busy machine)
    "cpe_it": ["/issues/", "/issues/{issue}/", "/issues/unmatched-mail/", "/cases/"],
}


def warm_up(host: str, plan: dict[str, Any]) -> None:
    """Each page once or twice as one person of each role, so that both workers have loaded their
    templates and the database its pages before the clock starts (not counted)."""
    print("Warming up ...", flush=True)
    for role, paths in WARM_UP.items():
        person = plan[role][0]
        for path in paths * 2:
            request = urllib.request.Request(
                f"http://{host}{path.format(issue=person['issues'][0])}",
                headers={"Cookie": f"sessionid={person['session']}", "X-Forwarded-Proto": "https"},
            )
            with urllib.request.urlopen(request, timeout=120) as response:
                response.read()


def process_cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User and system CPU time of each of these processes still running (/proc/<pid>/stat), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited (a worker restarted, a connection closed)
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def server_pids(master: int, server: str, database: str) -> tuple[list[int], list[int]]:
    """The gunicorn workers (children of the master) and the PostgreSQL backends on the database
    (but the Celery worker's)."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                workers.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return workers, backend_pids(server, database, worker=False)


def worker_pids(group: int, server: str, database: str) -> tuple[list[int], list[int]]:
    """The Celery worker's processes (its process group: the main process and its pool) and its
    PostgreSQL backends."""
    processes = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == group:
                processes.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return processes, backend_pids(server, database, worker=True)


def backend_pids(server: str, database: str, *, worker: bool) -> list[int]:
    import psycopg2

    conn = psycopg2.connect(f"{server}/postgres")
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND (application_name = %s) = %s",
                [database, WORKER_APPLICATION, worker],
            )
            return [row[0] for row in cursor.fetchall()]
    finally:
        conn.close()


def worker_command() -> list[str]:
    """docker-compose.yml's worker command."""
    return list(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["worker"]["command"])


def posts_query(server: str, database: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    import psycopg2

    conn = psycopg2.connect(f"{server}/{database}")
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        conn.close()


def last_post_id(args: argparse.Namespace) -> int:
    [(last,)] = posts_query(args.server, args.database, "SELECT coalesce(max(id), 0) FROM mail_inboundpost", [])
    return int(last)


def wait_for_reads(args: argparse.Namespace, after: int, since: float) -> dict[str, float]:
    """Wait (up to --read-wait seconds) until the worker has read every post stored after post
    `after`; how many there are by status, and how fast they were read (posts read a second, from
    `since`, the phase's start, to the last read)."""
    deadline = time.monotonic() + args.read_wait
    while True:
        counts = dict(
            posts_query(
                args.server,
                args.database,
                "SELECT status, count(*) FROM mail_inboundpost WHERE id > %s GROUP BY status",
                [after],
            )
        )
        if not counts.get("received") or time.monotonic() > deadline:
            break
        time.sleep(2)
    [(last_read,)] = posts_query(
        args.server,
        args.database,
        "SELECT extract(epoch FROM max(read_at)) FROM mail_inboundpost WHERE id > %s AND status = 'read'",
        [after],
    )
    read = counts.get("read", 0)
    seconds = float(last_read) - since if last_read is not None else 0.0
    return {
        "posts_stored": sum(counts.values()),
        "posts_read": read,
        "posts_failed": counts.get("failed", 0),
        "posts_unread": counts.get("received", 0),
        "posts_read_per_second": read / seconds if seconds > 0 else 0.0,
    }


def run_phase(
    name: str,
    args: argparse.Namespace,
    plan_path: Path,
    host: str,
    out: Path,
    extra: dict[str, str],
    users: int,
    seconds: int,
) -> tuple[list[dict[str, str]], dict[str, float]]:
    environment = {
        **os.environ,
        "BENCH_LOAD_PLAN": str(plan_path),
        "BENCH_THINK_SECONDS": args.think,
        "BENCH_SKIP": args.skip,
        **extra,
    }
    command = [
        str(VENV_BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
        "--host", f"http://{host}", "-u", str(users), "-r", str(args.spawn_rate), "-t", f"{seconds}s",
        "--csv", str(out / name), "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING",
    ]  # fmt: skip
    print(f"Phase {name}: {shlex.join(command[1:])}", flush=True)
    sampler = LoadSampler()
    sampler.start()
    with (out / f"{name}-locust.log").open("w") as log:
        subprocess.run(command, env=environment, stdout=log, stderr=subprocess.STDOUT, check=False)
    sampler.stopping.set()
    sampler.join()
    with (out / f"{name}_stats.csv").open() as stats:
        rows = list(csv.DictReader(stats))
    return rows, sampler.summary()


def cpu_used(
    master: int, args: argparse.Namespace, before: list[dict[int, float]], rows: list[dict[str, str]]
) -> dict[str, float]:
    """CPU seconds the workers and the database backends spent in a phase, and per request: what the
    requests cost, however many other processes share the CPUs. A process that ended during the
    phase (a worker restarted, a connection closed) is not counted; one that began counts from zero."""
    after = [process_cpu_seconds(group) for group in server_pids(master, args.server, args.database)]
    workers, backends = cpu_since(before, after)
    requests = sum(int(row["Request Count"]) for row in rows if row["Name"] != "Aggregated") or 1
    return {
        "workers_cpu_s": workers,
        "database_cpu_s": backends,
        "cpu_ms_per_request": 1000 * (workers + backends) / requests,
        "workers_cpu_ms_per_request": 1000 * workers / requests,
    }


def cpu_since(before: list[dict[int, float]], after: list[dict[int, float]]) -> tuple[float, float]:
    """CPU seconds of (processes, backends) between two readings of process_cpu_seconds."""
    processes, backends = (
        sum(seconds - earlier.get(pid, 0.0) for pid, seconds in now.items())
        for now, earlier in zip(after, before, strict=True)
    )
    return processes, backends


def worker_cpu(
    worker: subprocess.Popen[bytes], args: argparse.Namespace, before: list[dict[int, float]], posts: int
) -> dict[str, float]:
    """CPU seconds the Celery worker and its database backends spent since `before`, and per post read
    (backends that ended meanwhile, such as the one of each task, are not counted)."""
    after = [process_cpu_seconds(group) for group in worker_pids(worker.pid, args.server, args.database)]
    processes, backends = cpu_since(before, after)
    return {
        "celery_worker_cpu_s": processes,
        "celery_database_cpu_s": backends,
        "celery_cpu_ms_per_post": 1000 * (processes + backends) / posts if posts else float("nan"),
    }


def worker_times(access_log: Path, since: int) -> dict[str, list[float]]:
    """Per page, the worker's time of each request (ms), from the access log's lines after `since` bytes."""
    times: dict[str, list[float]] = defaultdict(list)
    with access_log.open() as log:
        log.seek(since)
        for line in log:
            match = ACCESS_LINE.search(line)
            if match and match["page"] != "-":
                times[match["page"]].append(int(match["micros"]) / 1000)
    return times


def _number(text: str) -> float:
    return float("nan") if text in ("", "N/A") else float(text)


def worker_reading(
    worker: subprocess.Popen[bytes] | None, args: argparse.Namespace
) -> tuple[int, list[dict[int, float]], float]:
    """Before a phase: the last inbound post, the worker's CPU so far, the time."""
    if worker is None:
        return 0, [], time.time()
    cpu = [process_cpu_seconds(group) for group in worker_pids(worker.pid, args.server, args.database)]
    return last_post_id(args), cpu, time.time()


def posts_read(
    worker: subprocess.Popen[bytes], args: argparse.Namespace, after: int, cpu: list[dict[int, float]], since: float
) -> dict[str, float]:
    """After a phase: wait for the worker to read the phase's posts; what it read, how fast, at what CPU."""
    print("  waiting for the worker to read the phase's inbound posts ...", flush=True)
    reading = wait_for_reads(args, after, since)
    return {**reading, **worker_cpu(worker, args, cpu, int(reading["posts_read"]))}


def drain(host: str, limit: float = 180) -> None:
    """Wait until the bare view answers within a second: requests a phase left queued in the
    listen backlog (their clients gone) are still served, and would count in the next phase."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.monotonic()
        request = urllib.request.Request(f"http://{host}/bench/bare/", headers={"X-Forwarded-Proto": "https"})
        try:
            with urllib.request.urlopen(request, timeout=limit) as response:
                response.read()
        except OSError:
            pass
        if time.monotonic() - started < 1:
            return
    print("  the server was still busy after the drain", flush=True)


def report(name: str, rows: list[dict[str, str]], times: dict[str, list[float]], seconds: int) -> list[dict[str, Any]]:
    bare = times.get("bare view") or [float("nan")]
    bare_mean = statistics.fmean(bare)
    results = []
    for row in rows:
        page = row["Name"]
        # A download's whole file is the same requests as its page (bench/locustfile.py, download).
        served = times.get(page) or times.get(page.removesuffix(", whole file"), [])
        mean = statistics.fmean(served) if served else float("nan")
        results.append(
            {
                "phase": name,
                "page": page,
                "method": row["Type"],
                "requests": int(row["Request Count"]),
                "errors": int(row["Failure Count"]),
                "throughput": float(row["Requests/s"]),
                "median_ms": _number(row["50%"]),
                "p95_ms": _number(row["95%"]),
                "worker_mean_ms": mean,
                "ratio_to_bare": bare_mean / mean if served else float("nan"),
            }
        )
    return results


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| page | requests | throughput (/s) | errors | median | p95 | worker's mean time "
        "| throughput as a ratio to the bare view |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r["page"] == "Aggregated", r["page"] != "bare view", r["page"])):
        ratio = "" if r["page"] == "Aggregated" else f"{r['ratio_to_bare']:.3f}"
        worker = "" if r["page"] == "Aggregated" else f"{r['worker_mean_ms']:.0f} ms"
        page = r["page"] if r["method"] in ("GET", "") else f"{r['page']} ({r['method']})"
        lines.append(
            f"| {page} | {r['requests']} | {r['throughput']:.2f} | {r['errors']} | {r['median_ms']:.0f} ms "
            f"| {r['p95_ms']:.0f} ms | {worker} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL, without a database")
    parser.add_argument("--database", default="sr_load_1m", help="the copy the benchmark writes to")
    parser.add_argument("--template", default="sr_bench_1m", help="copied into --database when it does not exist")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--users", type=int, default=50, help="people (staff, owners, LPC officers, CPE IT)")
    parser.add_argument("--time", type=int, default=90, help="seconds of the mix (0: none)")
    parser.add_argument("--think", default="1-3", help="seconds a person waits between pages: MIN-MAX")
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--mix-webhook-users", type=int, default=2, help="ESP users in the mix")
    parser.add_argument("--mix-webhook-rate", type=float, default=1, help="posts a second each, in the mix")
    parser.add_argument("--webhook-users", type=int, default=8, help="ESP users in the webhook phase (no wait)")
    parser.add_argument("--webhook-time", type=int, default=30, help="seconds of the webhook phase (0: none)")
    parser.add_argument(
        "--worker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the Celery worker, which reads the inbound posts (default: yes)",
    )
    parser.add_argument(
        "--read-wait", type=int, default=300, help="seconds to wait, after a phase, for the worker to read its posts"
    )
    parser.add_argument("--staff-people", type=int, default=40, help="pharmacies whose staff member takes part")
    parser.add_argument("--skip", default="", help="pages to leave out of the mix, by name, comma-separated")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench-load")
    args = parser.parse_args()

    ensure_copy(args.server, args.database, args.template)
    out = args.out / time.strftime("%Y%m%dT%H%M%S")
    out.mkdir(parents=True)
    var_dir = Path(tempfile.mkdtemp(prefix="sr-load-"))
    (var_dir / "static").mkdir()
    webhook_secret = f"bench:{secrets.token_urlsafe(24)}"
    environment = production_environment(args, var_dir, webhook_secret)
    port = free_port()
    host = f"127.0.0.1:{port}"

    print("The plan: people, sessions, issues ...", flush=True)
    plan = make_plan(environment, args, host, webhook_secret)
    plan_path = out / "plan.json"
    plan_path.write_text(json.dumps(plan))

    access_log = out / "gunicorn.log"
    command = gunicorn_command(port)
    print(f"gunicorn: {shlex.join(command)}", flush=True)
    with access_log.open("w") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = None
    if args.worker:
        from smartcard_route.celery import app  # configured by make_plan's django.setup()

        # Tasks an earlier run left in the benchmark's broker belong to that run (and its data).
        print(f"Celery worker: {app.control.purge()} tasks left by earlier runs purged", flush=True)
        print(f"Celery worker: {shlex.join(worker_command())}", flush=True)
        worker_environment = {
            **environment,
            "PGAPPNAME": WORKER_APPLICATION,
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
        with (out / "worker.log").open("w") as log:
            worker = subprocess.Popen(
                worker_command(),
                cwd=ROOT,
                env=worker_environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"gunicorn did not start: see {access_log}") from None
                time.sleep(0.5)

        warm_up(host, plan)
        load_before = os.getloadavg()
        results, machine = [], {}
        start = access_log.stat().st_size
        mix_extra = {
            "BENCH_WEBHOOK_USERS": str(args.mix_webhook_users),
            "BENCH_WEBHOOK_RATE": str(args.mix_webhook_rate),
            "BENCH_BARE_USERS": "1",
        }
        cpu = [process_cpu_seconds(group) for group in server_pids(server.pid, args.server, args.database)]
        if args.time:
            posts_before, worker_before, started = worker_reading(worker, args)
            rows, machine["mix"] = run_phase(
                "mix", args, plan_path, host, out, mix_extra, args.users + args.mix_webhook_users + 1, args.time
            )
            machine["mix"].update(cpu_used(server.pid, args, cpu, rows))
            results += report("mix", rows, worker_times(access_log, start), args.time)
            drain(host)
            if worker is not None:
                machine["mix"].update(posts_read(worker, args, posts_before, worker_before, started))
        if args.webhook_time:
            cpu = [process_cpu_seconds(group) for group in server_pids(server.pid, args.server, args.database)]
            posts_before, worker_before, started = worker_reading(worker, args)
            start = access_log.stat().st_size
            webhook_extra = {
                "BENCH_ONLY": "Esp,Bare",
                "BENCH_WEBHOOK_USERS": str(args.webhook_users),
                "BENCH_WEBHOOK_RATE": "0",
                "BENCH_BARE_USERS": "1",
            }
            rows, machine["webhook"] = run_phase(
                "webhook", args, plan_path, host, out, webhook_extra, args.webhook_users + 1, args.webhook_time
            )
            machine["webhook"].update(cpu_used(server.pid, args, cpu, rows))
            results += report("webhook", rows, worker_times(access_log, start), args.webhook_time)
            if worker is not None:
                machine["webhook"].update(posts_read(worker, args, posts_before, worker_before, started))
    finally:
        for process in (server, worker):
            if process is not None:
                os.killpg(process.pid, 15)
                process.wait(timeout=60)
        shutil.rmtree(var_dir, ignore_errors=True)

    server_errors = sum(1 for line in access_log.read_text().splitlines() if re.search(r"\|5\d\d\|", line))
    summary = {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "database": args.database,
        "counts": plan["counts"],
        "people": {role: len(plan[role]) for role in ("staff", "owners", "officers", "cpe_it")},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before, **machine},
        "server_errors_5xx": server_errors,
        "results": results,
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = [f"# Load benchmark, {when}", "", "```", summary["command"], "```", ""]
    text.append(f"Data: {args.database}, {plan['counts']['issues']:,} issues ({plan['counts']['open']:,} open).")
    text.append(f"Machine: {json.dumps(summary['machine'])}; 5xx in the access log: {server_errors}.")
    for phase in ("mix", "webhook"):
        phase_results = [r for r in results if r["phase"] == phase]
        if phase_results:
            text += ["", f"## {phase}", "", markdown(phase_results)]
            reading = machine.get(phase, {})
            if "posts_stored" in reading:
                text += [
                    "",
                    f"Inbound posts of the phase: {reading['posts_stored']} stored, {reading['posts_read']} read by "
                    f"the worker ({reading['posts_read_per_second']:.1f} a second from the phase's start), "
                    f"{reading['posts_failed']} failed, {reading['posts_unread']} still unread after the wait; the "
                    f"worker's CPU a post: {reading['celery_cpu_ms_per_post']:.0f} ms (its processes, with the mail "
                    "it sent meanwhile; not its database backends, one a task, which Celery closes after each).",
                ]
    (out / "results.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))
    print(f"\nWritten to {out}")


if __name__ == "__main__":
    main()
