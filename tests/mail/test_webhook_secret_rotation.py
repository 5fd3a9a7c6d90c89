"""Rotating the webhook secret (docs/operations.md): while ANYMAIL_WEBHOOK_SECRET_PREVIOUS is set,
the webhooks take posts with either secret; once it is removed, only the new one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smartcard_route.mail.models import InboundEmail
from tests.issues.inbound_fixtures import *  # noqa: F403
from tests.issues.inbound_fixtures import RA_EMAIL, Deliver, tracking_address
from tests.mail import payloads
from tests.mail.payloads import Mail

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NEW = "anymail:the-new-secret"


def webhook_secret(**environment: str) -> Any:
    code = "import json, smartcard_route.settings as s; print(json.dumps(s.ANYMAIL.get('WEBHOOK_SECRET')))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 60, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_the_settings_take_the_previous_secret_beside_the_new_one_only_while_it_is_set(tmp_path):
    both = webhook_secret(VAR_DIR=str(tmp_path), ANYMAIL_WEBHOOK_SECRET=NEW, ANYMAIL_WEBHOOK_SECRET_PREVIOUS="a:old")
    alone = webhook_secret(VAR_DIR=str(tmp_path), ANYMAIL_WEBHOOK_SECRET=NEW)

    assert both == f'["{NEW}", "a:old"]'
    assert alone == f'"{NEW}"'


def test_it_takes_posts_with_either_secret_during_the_rotation_and_only_the_new_one_after(
    deliver: Deliver, issue: Any, settings: Any
) -> None:
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": [NEW, payloads.WEBHOOK_SECRET]}

    old = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], text="with the old secret"))
    new = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], text="with the new secret"), secret=NEW)
    assert (old.status_code, new.status_code) == (200, 200)

    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": NEW}
    after = deliver(Mail(from_email=RA_EMAIL, to=[tracking_address(issue)], text="old secret, too late"))

    assert after.status_code in (400, 401, 403)
    assert sorted(text.strip() for text in InboundEmail.objects.values_list("body_text", flat=True)) == [
        "with the new secret",
        "with the old secret",
    ]
