"""scripts/restore-check (docs/operations.md, "Backups"): it dumps a database, restores the dump into
a scratch database and compares every table's row count. Run here against a small database of its
own on the machine's PostgreSQL, under names of its own (never the suite's test database)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dj_database_url
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "restore-check"


def server_url() -> str:
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith("postgres"):
        parts = dj_database_url.parse(configured)
        user = parts.get("USER") or "postgres"
        password = f":{parts['PASSWORD']}" if parts.get("PASSWORD") else ""
        return f"postgres://{user}{password}@{parts.get('HOST') or '127.0.0.1'}:{parts.get('PORT') or 5432}"
    return "postgres://postgres@127.0.0.1:5432"


def reachable(url: str) -> bool:
    if shutil.which("pg_dump") is None or shutil.which("psql") is None:
        return False
    result = subprocess.run(["psql", f"{url}/postgres", "-tAc", "SELECT 1"], capture_output=True, timeout=30)
    return result.returncode == 0


SERVER = server_url()
pytestmark = pytest.mark.skipif(not reachable(SERVER), reason="needs a PostgreSQL server (CI has one)")
SUFFIX = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
SOURCE = f"sr_restore_check_source_{SUFFIX}"
SCRATCH = f"sr_restore_check_scratch_{SUFFIX}"


def psql(database: str, sql: str) -> str:
    result = subprocess.run(
        ["psql", f"{SERVER}/{database}", "-qtA", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def source() -> Iterator[str]:
    psql("postgres", f'DROP DATABASE IF EXISTS "{SOURCE}"')
    psql("postgres", f'CREATE DATABASE "{SOURCE}"')
    psql(
        SOURCE,
        """
        CREATE TABLE pharmacy (id serial PRIMARY KEY, ods_code text UNIQUE NOT NULL, name text NOT NULL);
        CREATE TABLE issue (
            id bigserial PRIMARY KEY,
            pharmacy_id integer NOT NULL REFERENCES pharmacy (id),
            summary text NOT NULL,
            raw bytea
        );
        CREATE INDEX issue_pharmacy ON issue (pharmacy_id);
        CREATE TABLE empty_table (id integer);
        INSERT INTO pharmacy (ods_code, name)
            SELECT 'F' || lpad(n::text, 4, '0'), 'Pharmacy ' || n || ' — Café' FROM generate_series(1, 25) n;
        INSERT INTO issue (pharmacy_id, summary, raw)
            SELECT 1 + n % 25, 'Card locked ' || n, convert_to('raw ' || n, 'UTF8') FROM generate_series(1, 240) n;
        """,
    )
    yield SOURCE
    psql("postgres", f'DROP DATABASE IF EXISTS "{SOURCE}"')
    psql("postgres", f'DROP DATABASE IF EXISTS "{SCRATCH}"')


def test_it_restores_a_dump_and_finds_every_tables_rows(source, tmp_path):
    dump = tmp_path / "backup.dump"

    result = run_script(f"{SERVER}/{source}", SCRATCH, str(dump))

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split() == ["pharmacy", "25", "ok"] for line in lines), result.stdout
    assert any(line.split() == ["issue", "240", "ok"] for line in lines), result.stdout
    assert any(line.split() == ["empty_table", "0", "ok"] for line in lines), result.stdout
    assert "restore-check: OK: 3 tables, 265 rows restored and counted equal" in result.stdout
    assert dump.stat().st_size > 0  # the dump is kept where asked
    # The scratch database is dropped again; the source is untouched.
    assert psql("postgres", f"SELECT count(*) FROM pg_database WHERE datname = '{SCRATCH}'") == "0"
    assert psql(source, "SELECT count(*) FROM issue") == "240"


def test_it_fails_when_the_source_cannot_be_dumped(source):
    result = run_script(f"{SERVER}/{source}_missing", SCRATCH)

    assert result.returncode != 0
    assert "OK:" not in result.stdout


def test_it_refuses_to_restore_over_the_source(source):
    result = run_script(f"{SERVER}/{source}", source)

    assert result.returncode == 2
    assert "cannot be the source" in result.stderr
    assert psql(source, "SELECT count(*) FROM pharmacy") == "25"
