"""The production shape: `check --deploy` with production values, and the Dockerfile and
docker-compose.yml, whose commands are those that `make run` (scripts/run-local) runs.

No Docker engine runs here, so the tests read both files, compare every service's command with
scripts/run-local, and start each command for real (with the production settings module, a
throw-away VAR_DIR and SQLite file, and the configured broker: Redis in CI), as the image would.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PRODUCTION_SECRET_KEY = "pX7r2Lq9Zt4Vw8Nb3Kc6Hs1Jd5Fg0Mn2Qe7Ry4Ua9Io3Pl6Sk8Dj1Fh5Gz0Xc2Vb"


def production_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Production values: DEBUG unset, a real-looking key, allowed hosts, HTTPS settings left on."""
    environment = {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "smartcard_route.settings",
        "SECRET_KEY": PRODUCTION_SECRET_KEY,
        "ALLOWED_HOSTS": "smartcard-route.example.org,127.0.0.1",
        "SITE_URL": "https://smartcard-route.example.org",
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }
    if os.environ.get("CELERY_BROKER_URL") and "CELERY_BROKER_URL" not in extra:
        environment["CELERY_BROKER_URL"] = os.environ["CELERY_BROKER_URL"]
    return environment


def test_it_passes_check_deploy_with_production_values(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNING" not in result.stderr


# What `docker compose` would give the web service: its environment, interpolated from a .env
# holding the values the file asks for (${NAME:?...}) and nothing else (${NAME:-default} as written).
COMPOSE_DOT_ENV = {
    "SECRET_KEY": PRODUCTION_SECRET_KEY,
    "POSTGRES_PASSWORD": "a-long-random-database-password",
    "ALLOWED_HOSTS": "smartcard-route.example.org",
    "SITE_URL": "https://smartcard-route.example.org",
}


def compose_interpolated(value: str, dot_env: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, operator, word = match["name"], match["operator"], match["word"]
        if operator == ":?":
            assert dot_env.get(name), f"compose would refuse to start: {word}"
            return dot_env[name]
        return dot_env.get(name) or word

    return re.sub(r"\$\{(?P<name>\w+)(?P<operator>:[?-])(?P<word>[^}]*)\}", replace, value)


def test_it_passes_check_deploy_with_the_compose_files_environment(tmp_path):
    environment = {
        name: compose_interpolated(str(value), COMPOSE_DOT_ENV)
        for name, value in compose()["services"]["web"]["environment"].items()
    }
    assert environment["BEHIND_TLS_PROXY"] == "True"
    assert environment["DATABASE_URL"].startswith("postgres://smartcard:a-long-random-database-password@postgres:")

    # `check --deploy` reads the settings only: it connects to no database or broker.
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={**production_environment(tmp_path), **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_it_reports_debug_left_on_in_production(tmp_path):
    # The control: the same check does see a real problem.
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production_environment(tmp_path, DEBUG="True"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode != 0
    assert "security.W018" in result.stderr


# docker-compose.yml and scripts/run-local


def compose() -> dict[str, Any]:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def run_local_commands() -> list[list[str]]:
    """The commands scripts/run-local runs, as argument lists (continuation lines joined)."""
    script = (BASE_DIR / "scripts" / "run-local").read_text().replace("\\\n", " ")
    commands = []
    for line in script.splitlines():
        line = line.strip()
        if line.startswith(".venv/bin/"):
            words = shlex.split(line.split(">", 1)[0].rstrip("& |"))
            commands.append([words[0].removeprefix(".venv/bin/"), *words[1:]])
    return commands


def run_local_command(program: str, *words: str) -> list[str]:
    matches = [command for command in run_local_commands() if command[0] == program and set(words) <= set(command)]
    assert len(matches) == 1, (program, words, run_local_commands())
    return matches[0]


def without_option(command: list[str], option: str, takes_value: bool = False) -> list[str]:
    if option not in command:
        return command
    index = command.index(option)
    return command[:index] + command[index + (2 if takes_value else 1) :]


def test_it_declares_the_production_services():
    services = compose()["services"]

    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["build"] == "."
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://smartcard:")
        assert environment["DATABASE_URL"].endswith("@postgres:5432/smartcard_route")
        assert environment["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["migrate"]["restart"] == "no"


def test_it_migrates_like_make_run():
    command = compose()["services"]["migrate"]["command"]

    assert command == ["python", *run_local_command("python", "migrate")[1:]]


def test_it_serves_with_the_gunicorn_command_of_make_run_on_all_interfaces():
    command = compose()["services"]["web"]["command"]
    local = run_local_command("gunicorn")

    assert command[command.index("--bind") + 1] == "0.0.0.0:8000"
    assert local[local.index("--bind") + 1] == "127.0.0.1:8000"
    assert without_option(command, "--bind", True) == without_option(local, "--bind", True)


def test_it_runs_the_worker_and_beat_that_make_run_runs_together():
    worker = compose()["services"]["worker"]["command"]
    beat = compose()["services"]["beat"]["command"]
    local = run_local_command("celery", "worker", "--beat")

    # make run embeds beat in its worker (--beat --schedule ...); production runs them apart.
    assert worker == without_option(without_option(local, "--beat"), "--schedule", True)
    assert beat[:4] == ["celery", "-A", "smartcard_route", "beat"]
    assert set(beat[4:]) <= set(local)  # the same log level and schedule file as make run's beat
    assert beat[beat.index("--schedule") + 1] == local[local.index("--schedule") + 1]


def test_it_builds_the_image_from_the_pinned_dependencies():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.replace("\\\n", " ").splitlines() if line and not line.startswith("#")]

    assert [line.split()[1] for line in instructions if line.startswith("FROM ")] == [
        "node:20-bookworm-slim",
        "python:3.11-slim",
    ]
    assert any("npm ci" in line for line in instructions)
    assert any("pip install" in line and "-r requirements.lock" in line for line in instructions)
    assert any("manage.py collectstatic --noinput" in line for line in instructions)
    assert any(line.startswith("USER ") and "root" not in line for line in instructions)
    cmd = next(line for line in instructions if line.startswith("CMD "))
    assert yaml.safe_load(cmd.removeprefix("CMD ")) == compose()["services"]["web"]["command"]
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    assert {".venv", "node_modules", "var", ".env"} <= set(ignored)


# Starting the commands for real


class Started:
    """A command started in its own process group, with its output lines collected as they come."""

    def __init__(self, command: list[str], environment: dict[str, str], cwd: Path = BASE_DIR) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                assert self.process.poll() is None, "exited early:\n" + "".join(self.seen)
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return
        raise AssertionError(f"no {pattern!r} within {timeout}s:\n" + "".join(self.seen))

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def start() -> Iterator[Any]:
    started: list[Started] = []

    def run(command: list[str], environment: dict[str, str], cwd: Path = BASE_DIR) -> Started:
        started.append(Started(command, environment, cwd))
        return started[-1]

    yield run
    for process in started:
        process.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_migrates_and_serves_the_health_check_with_the_compose_commands(tmp_path, start):
    services = compose()["services"]
    environment = production_environment(tmp_path)
    migrate = subprocess.run(
        services["migrate"]["command"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    port = free_port()
    web = [word.replace("0.0.0.0:8000", f"127.0.0.1:{port}") for word in services["web"]["command"]]

    server = start(web, environment)
    server.wait_for(r"Listening at: http://127\.0\.0\.1:\d+")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        body = response.read().decode()

    assert response.status == 200
    assert '"database": "ok"' in body
    assert '"broker": "ok"' in body


# The worker and beat get a broker of their own (folders in the throw-away VAR_DIR): on a shared
# Redis they would take, or add to, the tasks of whatever else uses its default queue.


def test_it_starts_the_worker_with_the_compose_command(tmp_path, start):
    environment = production_environment(tmp_path, CELERY_BROKER_URL="filesystem://")

    worker = start(compose()["services"]["worker"]["command"], environment)

    worker.wait_for(r"celery@\S+ ready\.")


def test_it_starts_beat_with_the_compose_command(tmp_path, start):
    # Run from the throw-away directory, so the relative schedule file lands in its var/, not ours.
    (tmp_path / "var").mkdir(exist_ok=True)
    environment = production_environment(tmp_path, PYTHONPATH=str(BASE_DIR), CELERY_BROKER_URL="filesystem://")

    beat = start(compose()["services"]["beat"]["command"], environment, cwd=tmp_path)

    beat.wait_for(r"beat: Starting\.\.\.")
