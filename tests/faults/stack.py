"""The real services of a fault test, each a private instance the test starts and stops (issue 10,
part 4): PostgreSQL (initdb and pg_ctl from /usr/lib/postgresql/*/bin, in a temporary folder, on a
free port), Redis (redis-server on a free port), the site (gunicorn, production's server, with the
test settings) and a Celery worker. The machine's shared PostgreSQL (5432) and Redis (6379) are
never touched.

The tests talk to them as the outside world does: HTTP to gunicorn, `celery call` for a beat task's
next run, SQL (psycopg2) to look at the rows, and the file email backend's folder to count what
really went out.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "smartcard-test-faults"  # test_settings: CELERY_TASK_DEFAULT_QUEUE from PYTEST_XDIST_WORKER
WEBHOOK_SECRET = "faults:private-webhook-secret"


def wait_for(check: Callable[[], Any], *, timeout: float = 60, what: str = "the condition") -> Any:
    """Poll until `check()` is truthy (and return it), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}.")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail("The fault tests need PostgreSQL's server programs (initdb, pg_ctl): apt-get install postgresql")
    return Path(initdb).parent


class Postgres:
    """A PostgreSQL cluster of the test's own. PostgreSQL refuses to run as root: as root, its
    programs run as the `postgres` system user, in a folder that user owns."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="sr-inbound-faults-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)

    def _demote(self) -> None:
        if self.user is not None:
            os.setgid(self.user.pw_gid)
            os.setuid(self.user.pw_uid)

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [str(self.bin / program), *args],
            preexec_fn=self._demote,
            capture_output=True,
            check=check,
            timeout=120,
            cwd=self.dir,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "-N")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def ready(self) -> bool:
        return self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode == 0

    @property
    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def connect(self, name: str = "postgres") -> Any:
        connection = psycopg2.connect(dbname=name, user="postgres", host="127.0.0.1", port=self.port, connect_timeout=5)
        connection.autocommit = True
        return connection

    def execute(self, statement: str, name: str = "postgres") -> None:
        connection = self.connect(name)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Database:
    """One test's database on the private cluster, copied from the migrated template."""

    def __init__(self, postgres: Postgres, name: str) -> None:
        self.postgres = postgres
        self.name = name

    @property
    def url(self) -> str:
        return self.postgres.url(self.name)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        connection = self.postgres.connect(self.name)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        [(value,)] = self.rows(sql, params)
        return value


class Redis:
    """A redis-server of the test's own, without persistence: stopped, it loses what it held."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.process: subprocess.Popen[bytes] | None = None
        if shutil.which("redis-server") is None:
            pytest.fail("The fault tests need redis-server: apt-get install redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.tmp)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_for(answers, timeout=30, what="redis-server to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


def site_env(database_url: str, broker_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of the site's processes (web, worker, seeding, `celery call`)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "REDIS_URL"))},
        "DJANGO_SETTINGS_MODULE": "smartcard_route.test_settings",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": broker_url,
        "PYTEST_XDIST_WORKER": "faults",
        "VAR_DIR": str(tmp),
        "TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "ANYMAIL_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DB_CONNECT_TIMEOUT": "2",
        "DB_STATEMENT_TIMEOUT_MS": "3000",
        **extra,
    }


class Process:
    """A long-running process of the site, in its own process group (killed as a whole)."""

    name = "process"

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.starts += 1
        log = (self.tmp / f"{self.name}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill(self) -> None:
        """SIGKILL the whole group (main process and children): a crash, nothing cleaned up."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def log(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")[-4000:] for path in sorted(self.tmp.glob(f"{self.name}-*.log"))
        )


class Web(Process):
    """gunicorn, as in production (2 threads), with the test settings."""

    name = "web"

    def __init__(self, tmp: Path, env: dict[str, str], workers: int = 1) -> None:
        super().__init__(tmp, env)
        self.port = free_port()
        self.workers = workers
        self.http = requests.Session()

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", "smartcard_route.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers), "--threads", "4", "--timeout", "30",
        ]  # fmt: skip

    def start(self) -> None:
        super().start()

        def up() -> bool:
            try:
                requests.get(self.url("/healthz"), timeout=5)
            except requests.RequestException:
                return False
            return True

        wait_for(up, timeout=60, what=f"gunicorn to answer\n{self.log()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """A GET that must be answered: REQUEST_TIMEOUT past which it counts as hanging."""
        return self.http.get(self.url(path), timeout=REQUEST_TIMEOUT, allow_redirects=False, **kwargs)

    def probe(self, path: str = "/healthz") -> requests.Response:
        """A GET as a load balancer sends it: no cookie, no token."""
        return requests.get(self.url(path), timeout=REQUEST_TIMEOUT, allow_redirects=False)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.url(path), timeout=REQUEST_TIMEOUT, allow_redirects=False, **kwargs)


# Longer than any timeout of the site's own (connect 2 s, statement 3 s, the broker's health check
# 2 s, its publish retries), shorter than gunicorn's 30 s: a request not answered by then hangs.
REQUEST_TIMEOUT = 15


class Worker(Process):
    """`celery -A smartcard_route worker`, one prefork child, on the private broker and database."""

    name = "worker"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "smartcard_route", "worker", "--pool=prefork", "--concurrency=1",
            "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", QUEUE,
            "-n", f"faults-{os.getpid()}-{self.starts}@%h",
        ]  # fmt: skip

    def pool_process(self) -> int:
        """The pid of the worker's (single) pool process, which runs the tasks."""
        assert self.process is not None
        return pool_process_of(self.process.pid)


def pool_process_of(main: int) -> int:
    """The pid of a Celery worker's (single) pool process: the child of its main process `main`."""

    def child() -> int | None:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == main:
                    return int(entry.name)
        return None

    return int(wait_for(child, what="the worker's pool process"))


def celery_call(env: dict[str, str], task: str) -> None:
    """Publish one run of a task (as celery beat would) to the private broker."""
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "smartcard_route", "call", task, "--queue", QUEUE],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def seed(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run tests/faults/seed.py against the private database; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.seed", *args], cwd=ROOT, env=env, capture_output=True, timeout=180
    )
    if done.returncode != 0:
        pytest.fail(f"seeding failed:\n{done.stderr.decode(errors='replace')[-3000:]}")
    return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))


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


def safe_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())[:40]
