"""Fixtures of the fault tests: a private PostgreSQL cluster per test process (migrated once into
a template database; each test gets a fresh copy), and per test a private Redis, the site under
gunicorn and Celery workers on them (tests/faults/stack.py)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.stack import ROOT, Database, Postgres, Redis, Web, Worker, seed, site_env

TEMPLATE = "sr_inbound_faults_template"
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Postgres]:
    postgres = Postgres()
    try:
        postgres.init()
        postgres.start()
        postgres.execute(f"CREATE DATABASE {TEMPLATE}")
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=site_env(postgres.url(TEMPLATE), "memory://", Path(postgres.dir)),
            capture_output=True,
            timeout=600,
        )
        if migrated.returncode != 0:
            pytest.fail(f"migrate failed:\n{migrated.stderr.decode(errors='replace')[-3000:]}")
        yield postgres
    finally:
        postgres.remove()


class Stack:
    """One test's services. Processes are started by the test; all are stopped at its end."""

    def __init__(self, tmp: Path, postgres: Postgres, database: Database, redis: Redis) -> None:
        self.tmp = tmp
        self.postgres = postgres
        self.database = database
        self.redis = redis
        self.extra: dict[str, str] = {}
        self.processes: list[Any] = []
        self.seeded: dict[str, Any] = {}

    def env(self, **extra: str) -> dict[str, str]:
        return site_env(self.database.url, self.redis.url, self.tmp, **{**self.extra, **extra})

    @property
    def mail_dir(self) -> Path:
        return self.tmp / "mail"

    def seed(self, *args: str) -> dict[str, Any]:
        self.seeded = seed(self.env(), *args)
        return self.seeded

    def web(self, workers: int = 1, **extra: str) -> Web:
        web = Web(self.tmp, self.env(**extra), workers=workers)
        self.processes.append(web)
        web.start()
        if self.seeded:
            web.http.cookies.set("sessionid", self.seeded["session"])
            web.http.headers["Authorization"] = f"Token {self.seeded['token']}"
        return web

    def worker(self, **extra: str) -> Worker:
        worker = Worker(self.tmp, self.env(**extra))
        self.processes.append(worker)
        worker.start()
        return worker

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        self.redis.stop()


@pytest.fixture
def stack(postgres_cluster: Postgres, tmp_path: Path) -> Iterator[Stack]:
    name = f"sr_inbound_fault_{next(_numbers)}"
    postgres_cluster.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    redis = Redis(tmp_path)
    redis.start()
    services = Stack(tmp_path, postgres_cluster, Database(postgres_cluster, name), redis)
    try:
        yield services
    finally:
        services.stop()
        if not postgres_cluster.ready():
            postgres_cluster.stop("immediate")
            postgres_cluster.start()
        postgres_cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
