"""Settings from the environment: strict parsing, production refusing to start without a key,
.env.example listing every variable, and JSON logs on stdout.

Whole-start behaviour runs `python` in a subprocess with the real settings module
(smartcard_route.settings) and an environment made from scratch, so nothing of the test settings
(which set SECRET_KEY and friends) leaks in.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from smartcard_route.env import env_bool, env_float, env_int, env_list, env_str
from smartcard_route.logging import JsonFormatter

BASE_DIR = Path(__file__).resolve().parent.parent
REAL_SECRET_KEY = "k3Jv8q2Zs7Qe1Lr9Wn4Tb6Yh0Pc5Xm2Ud8Fg3Sa7Ko1Ri9Ej4Vz6Nw0Bt5Cy"


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python code with the production settings module and exactly this environment."""
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "smartcard_route.settings",
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SETUP_AND_DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "ENGINE": s.DATABASES["default"]["ENGINE"],
    "DB_NAME": str(s.DATABASES["default"]["NAME"]),
    "DB_OPTIONS": s.DATABASES["default"].get("OPTIONS", {}),
    "BROKER": s.CELERY_BROKER_URL,
    "EMAIL_BACKEND": s.EMAIL_BACKEND,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "AXES_FAILURE_LIMIT": s.AXES_FAILURE_LIMIT,
    "WINDOW_RA_REPLY_EMERGENCY_DAYS": s.WINDOW_RA_REPLY_EMERGENCY_DAYS,
}))
"""


# The strict readers


@pytest.mark.parametrize(("raw", "expected"), [("True", True), ("False", False), ("", False)])
def test_it_reads_a_boolean_spelled_true_or_false(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)

    assert env_bool("SOME_FLAG", False) is expected


@pytest.mark.parametrize("raw", ["yes", "no", "true", "false", "TRUE", "1", "0", "on", " True"])
def test_it_rejects_any_other_spelling_of_a_boolean(monkeypatch, raw):
    monkeypatch.setenv("SOME_FLAG", raw)

    with pytest.raises(ImproperlyConfigured, match=rf"SOME_FLAG must be 'True' or 'False', not {re.escape(repr(raw))}"):
        env_bool("SOME_FLAG", False)


def test_it_uses_the_default_when_a_variable_is_unset(monkeypatch):
    monkeypatch.delenv("UNSET_VARIABLE", raising=False)

    assert env_bool("UNSET_VARIABLE", True) is True
    assert env_int("UNSET_VARIABLE", 7) == 7
    assert env_float("UNSET_VARIABLE", 0.5) == 0.5
    assert env_str("UNSET_VARIABLE", "fallback") == "fallback"
    assert env_list("UNSET_VARIABLE", ["a"]) == ["a"]


def test_it_takes_an_empty_value_for_unset(monkeypatch):
    for name in ("EMPTY_STR", "EMPTY_BOOL", "EMPTY_INT", "EMPTY_FLOAT", "EMPTY_LIST"):
        monkeypatch.setenv(name, "")

    assert env_str("EMPTY_STR", "django.core.mail.backends.console.EmailBackend").endswith("console.EmailBackend")
    assert env_bool("EMPTY_BOOL", True) is True
    assert env_int("EMPTY_INT", 5) == 5
    assert env_float("EMPTY_FLOAT", 0.25) == 0.25
    assert env_list("EMPTY_LIST", ["localhost"]) == ["localhost"]


def test_it_reads_whole_numbers(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "42")

    assert env_int("SOME_NUMBER", 0) == 42


@pytest.mark.parametrize("raw", ["abc", "4.5", "5 minutes", "0x10"])
def test_it_rejects_what_is_not_a_whole_number(monkeypatch, raw):
    monkeypatch.setenv("SOME_NUMBER", raw)

    with pytest.raises(ImproperlyConfigured, match=r"SOME_NUMBER must be a whole number"):
        env_int("SOME_NUMBER", 0)


def test_it_reads_numbers_with_a_fraction(monkeypatch):
    monkeypatch.setenv("SOME_DAYS", "0.5")

    assert env_float("SOME_DAYS", 2) == 0.5


@pytest.mark.parametrize("raw", ["abc", "half", "1,5"])
def test_it_rejects_what_is_not_a_number(monkeypatch, raw):
    monkeypatch.setenv("SOME_DAYS", raw)

    with pytest.raises(ImproperlyConfigured, match=r"SOME_DAYS must be a number"):
        env_float("SOME_DAYS", 2)


def test_it_reads_comma_separated_lists_ignoring_blanks(monkeypatch):
    monkeypatch.setenv("SOME_HOSTS", " a.example , b.example,,c.example ")

    assert env_list("SOME_HOSTS") == ["a.example", "b.example", "c.example"]


# Starting the site


def test_it_refuses_to_start_in_production_without_a_secret_key(tmp_path):
    result = run_python("import django; django.setup()", tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set (or DEBUG=True for local development)." in result.stderr


def test_it_starts_without_a_secret_key_in_debug_mode_only(tmp_path):
    result = run_python(SETUP_AND_DUMP, tmp_path, DEBUG="True")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["DEBUG"] is True


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "yes", "DEBUG must be 'True' or 'False', not 'yes'"),
        ("LOGIN_FAILURE_LIMIT", "abc", "LOGIN_FAILURE_LIMIT must be a whole number, not 'abc'"),
        ("WINDOW_RA_REPLY_DAYS", "two", "WINDOW_RA_REPLY_DAYS must be a number, not 'two'"),
        ("SECURE_SSL_REDIRECT", "1", "SECURE_SSL_REDIRECT must be 'True' or 'False', not '1'"),
        ("NHS_FONTS", "true", "NHS_FONTS must be 'True' or 'False', not 'true'"),
    ],
)
def test_it_refuses_to_start_with_a_malformed_value(tmp_path, variable, value, message):
    result = run_python("import django; django.setup()", tmp_path, SECRET_KEY=REAL_SECRET_KEY, **{variable: value})

    assert result.returncode != 0
    assert message in result.stderr


def test_it_starts_with_safe_defaults_and_no_server(tmp_path):
    result = run_python(SETUP_AND_DUMP, tmp_path, SECRET_KEY=REAL_SECRET_KEY)

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["DEBUG"] is False
    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DB_NAME"] == str(tmp_path / "var" / "smartcard_route.sqlite3")
    assert values["BROKER"] == "filesystem://"
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]


def test_it_takes_the_database_broker_and_hosts_from_the_environment(tmp_path):
    result = run_python(
        SETUP_AND_DUMP,
        tmp_path,
        SECRET_KEY=REAL_SECRET_KEY,
        DATABASE_URL="postgres://smartcard:secret@db.internal:5432/smartcard_route",
        CELERY_BROKER_URL="redis://redis.internal:6379/0",
        ALLOWED_HOSTS="smartcard-route.example.org, www.smartcard-route.example.org",
        LOGIN_FAILURE_LIMIT="3",
        WINDOW_RA_REPLY_EMERGENCY_DAYS="0.25",
    )

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["ENGINE"] == "django.db.backends.postgresql"
    assert values["DB_NAME"] == "smartcard_route"
    assert values["DB_OPTIONS"] == {"connect_timeout": 5, "options": "-c statement_timeout=30000"}
    assert values["BROKER"] == "redis://redis.internal:6379/0"
    assert values["ALLOWED_HOSTS"] == ["smartcard-route.example.org", "www.smartcard-route.example.org"]
    assert values["AXES_FAILURE_LIMIT"] == 3
    assert values["WINDOW_RA_REPLY_EMERGENCY_DAYS"] == 0.25


# .env.example

# Files that read the environment for the application (the test settings and scripts are not configuration).
CONFIGURATION_SOURCES = ["smartcard_route/settings.py", "directory/demo.py", "issues/demo.py"]
ENV_READ = re.compile(
    r"""(?:env_(?:str|bool|int|float|list)|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|["'](DEMO_[A-Z0-9_]+)["']"""
)


def _variables_read() -> set[str]:
    names: set[str] = set()
    for source in CONFIGURATION_SOURCES:
        path = BASE_DIR / source
        if path.exists():
            names |= {a or b for a, b in ENV_READ.findall(path.read_text())}
    return names


def _variables_listed() -> dict[str, str]:
    """Each variable of .env.example with the comment lines just above it."""
    listed: dict[str, str] = {}
    comment: list[str] = []
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        if line.startswith("#"):
            comment.append(line)
        elif match := re.match(r"([A-Z][A-Z0-9_]*)=", line):
            listed[match.group(1)] = "\n".join(comment)
        else:
            comment = []
    return listed


def test_it_lists_every_variable_in_env_example():
    read = _variables_read()

    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "DEMO_PASSWORD", "DEMO_STAFF_EMAIL"} <= read
    assert read - set(_variables_listed()) == set()


def test_it_explains_every_variable_in_env_example():
    undocumented = [name for name, comment in _variables_listed().items() if not comment.strip()]

    assert undocumented == []


def test_it_lists_only_variables_that_are_read():
    assert set(_variables_listed()) - _variables_read() == set()


# Logging


def test_it_formats_a_log_record_as_one_json_object():
    record = logging.LogRecord(
        "smartcard_route.test", logging.WARNING, __file__, 1, "RA %s did not reply", ("X",), None
    )
    record.issue = "SC-000123"
    record.attempt = 2

    line = JsonFormatter().format(record)

    assert "\n" not in line
    payload = json.loads(line)
    assert payload["level"] == "WARNING"
    assert payload["logger"] == "smartcard_route.test"
    assert payload["message"] == "RA X did not reply"
    assert payload["issue"] == "SC-000123"
    assert payload["attempt"] == 2
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", payload["time"])


def test_it_puts_the_traceback_in_the_json_object():
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    payload = json.loads(JsonFormatter().format(record))

    assert "ValueError: broken" in payload["exception"]


def test_it_logs_json_lines_to_stdout_in_production(tmp_path):
    code = """
import logging, django
django.setup()
logging.getLogger("smartcard_route.probe").info("sent %s", "nudge", extra={"issue": "SC-000042"})
logging.getLogger("smartcard_route.probe").debug("not at INFO")
"""
    result = run_python(code, tmp_path, SECRET_KEY=REAL_SECRET_KEY)

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["logger"], line["level"], line["message"], line["issue"]) for line in lines] == [
        ("smartcard_route.probe", "INFO", "sent nudge", "SC-000042")
    ]
