"""The load benchmark's bare view (bench/load.py): mounted only when BENCH_BARE_VIEW says so.

Each case runs in a fresh interpreter with the production settings module, since the URL
configuration reads the setting once, when it is imported.
"""

from __future__ import annotations

import subprocess
import sys

from tests.test_deploy_check import BASE_DIR, production_environment

PROBE = """
from django.test import Client
from django.urls import Resolver404, resolve
try:
    match = resolve("/bench/bare/")
except Resolver404:
    print("not mounted")
else:
    response = Client().get("/bench/bare/", headers={"X-Forwarded-Proto": "https"}, secure=True)
    print(match.view_name, response.status_code, response.content.decode())
"""


def probe(tmp_path, **extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + PROBE],
        cwd=BASE_DIR,
        env=production_environment(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_it_is_not_mounted_by_default(tmp_path):
    assert probe(tmp_path) == "not mounted"


def test_it_is_not_mounted_when_the_setting_is_false(tmp_path):
    assert probe(tmp_path, BENCH_BARE_VIEW="False") == "not mounted"


def test_it_answers_ok_without_a_login_when_the_benchmark_mounts_it(tmp_path):
    assert probe(tmp_path, BENCH_BARE_VIEW="True", ALLOWED_HOSTS="testserver") == "bench_bare 200 ok"
