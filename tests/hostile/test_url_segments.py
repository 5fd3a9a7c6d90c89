"""Control characters (and bytes that are not UTF-8) in any URL segment answer 404, never 500:
every pattern of the URL configuration with a parameter (walked as the access matrix walks it),
the parameter replaced by hostile text, asked by CPE IT (who may see everything) and, for the
Django admin, by a superuser."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.access.world import build_world
from tests.issues.factories import UserFactory
from tests.test_access_matrix import PATTERNS

pytestmark = pytest.mark.django_db

# NUL; a reference with NUL, ESC and DEL in it; an encoded lone surrogate and an overlong NUL (bytes
# that are not UTF-8); a case reference with a right-to-left override and a NUL.
HOSTILE = ["%00", "SC-%00%1b%7f", "%ED%A0%80%C0%80", "CASE-1%E2%80%AE%00"]
PARAMETER = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")


def _paths(segment: str) -> list[tuple[str, str]]:
    paths = []
    for pattern in PATTERNS:
        if not PARAMETER.search(pattern.pattern):
            continue
        path = "/" + PARAMETER.sub(segment, pattern.pattern).replace("^", "").replace("$", "").replace("\\", "")
        paths.append((pattern.name, path))
    return paths


def test_it_answers_404_to_control_characters_in_every_url_segment() -> None:
    world = build_world()
    cpe_it = Client(raise_request_exception=False)
    cpe_it.force_login(world.users["cpe_it"])
    admin = Client(raise_request_exception=False)
    admin.force_login(UserFactory.create(email="root@cpe.example", is_staff=True, is_superuser=True))
    failures = []
    for number, segment in enumerate(HOSTILE):
        for name, path in _paths(segment):
            if name.startswith("admin:"):
                # The admin's own answers (302 to the list, 403 for a read-only model), never a 500.
                if number == 0 and (status := admin.get(path).status_code) >= 500:
                    failures.append(f"GET {path} ({name}): {status}")
                continue
            for method in (cpe_it.get, cpe_it.post):
                status = method(path).status_code
                # A password-reset link that is not one shows its "link not valid" page (200).
                allowed = {200} if name == "password_reset_confirm" else {404, 405}
                if status not in allowed:
                    failures.append(f"{method.__name__.upper()} {path} ({name}): {status}")
    assert not failures, "\n".join(failures)


def test_it_walks_the_routes_with_parameters() -> None:
    names = {name for name, _ in _paths("%00")}
    assert {"issues:detail", "cases:detail", "api:issue-detail", "directory:pharmacy_detail"} <= names
