"""CSRF holds on every form and the Content-Security-Policy on every page, over every route of the
URL configuration as the access matrix knows them (tests/access/routes.py).

- Every route that takes a POST (each action of an issue or a case included), posted without the
  CSRF token by someone who may take it, answers 403 and changes nothing. Only the ESP webhooks
  are exempt (authenticated by the provider's secret instead).
- Every page any persona may read carries a strict CSP: scripts from the site itself or with the
  response's nonce, never 'unsafe-inline' or 'unsafe-eval', no plugins, no framing, and every
  inline <script> in the page carries that nonce.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from issues.models import IssueEvent
from tests.access.routes import ADMIN, MAY_TAKE, WEBHOOK, may
from tests.access.world import PERSONAS, World
from tests.test_access_matrix import PATTERNS, ROUTES, objects_of, route_for, url_for, world  # noqa: F401

pytestmark = pytest.mark.django_db
USERS = [persona for persona in PERSONAS if persona != "anonymous"]
ANONYMOUS_POSTS = {"login", "password_reset", "password_reset_confirm"}


def _client(world: World, persona: str, *, csrf: bool) -> Client:
    client = Client(enforce_csrf_checks=csrf, raise_request_exception=False)
    if persona != "anonymous":
        client.force_login(world.users[persona])
    return client


def _post_routes(world: World) -> list[tuple[str, str, str]]:
    """(route, persona who may take it, url) for every POST of the table."""
    found = []
    for pattern in PATTERNS:
        route = ROUTES.get(pattern.name)
        if route is None or route.kind in (WEBHOOK, ADMIN):
            continue
        for label, kwargs in objects_of(pattern, world).items():
            for action in route.actions or (None,):
                taker = MAY_TAKE.get(action, route.read) if action else route.post
                if pattern.name in ANONYMOUS_POSTS:
                    persona = "anonymous"
                else:
                    persona = next((p for p in USERS if may(taker, p, label) and may(route.read, p, label)), "")
                if persona:
                    url = url_for(pattern, {**kwargs, "action": action} if action else dict(kwargs))
                    found.append((f"{pattern.name}[{action or label}]", persona, url))
    return found


def test_it_refuses_every_post_without_the_csrf_token(world: World) -> None:
    posts = _post_routes(world)
    assert len(posts) > 30
    events = IssueEvent.objects.count()
    failures = []
    for name, persona, url in posts:
        response = _client(world, persona, csrf=True).post(url, {"text": "x", "note": "x"})
        if response.status_code != 403:
            failures.append(f"{name} as {persona}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert IssueEvent.objects.count() == events


def test_it_takes_the_same_posts_with_the_token(world: World) -> None:
    """The 403s above are CSRF's: with a token the same posts are answered otherwise."""
    client = _client(world, "staff_a", csrf=True)
    page = client.get(f"/issues/{world.objects['issue_a_quiet'].reference}/")
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert found is not None
    token = found.group(1)
    url = f"/issues/{world.objects['issue_a_quiet'].reference}/actions/note/"
    response = client.post(url, {"csrfmiddlewaretoken": token, "note-text": "A note."})
    assert response.status_code != 403


SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def _pages(world: World) -> list[tuple[str, str, str]]:
    found = []
    for pattern in PATTERNS:
        route = route_for(pattern.name)
        if route.kind in (WEBHOOK, ADMIN) or route.actions or 405 in route.ok:
            continue
        for label, kwargs in objects_of(pattern, world).items():
            persona = next((p for p in USERS if may(route.read, p, label)), "anonymous")
            found.append((pattern.name, persona, url_for(pattern, dict(kwargs))))
    return found


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def _assert_strict(where: str, response: Any) -> None:
    header = response.get("Content-Security-Policy", "")
    assert header, f"{where}: no Content-Security-Policy"
    directives = _directives(header)
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None, f"{where}: no script-src"
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, f"{where}: {scripts}"
    assert "*" not in scripts and "data:" not in scripts, f"{where}: {scripts}"
    assert directives.get("default-src") in (["'self'"], ["'none'"]), where
    assert directives.get("object-src") == ["'none'"], where
    assert directives.get("frame-ancestors") == ["'none'"], where
    assert "base-uri" in directives, where
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    if not response.get("Content-Type", "").startswith("text/html"):
        return
    html = body.decode("utf-8", errors="replace")
    nonces = [word.removeprefix("'nonce-").rstrip("'") for word in scripts if word.startswith("'nonce-")]
    for attributes in SCRIPT.findall(html):
        if "src=" not in attributes:
            assert any(f'nonce="{nonce}"' in attributes for nonce in nonces), f"{where}: inline script without nonce"
    assert not HANDLER.search(html), f"{where}: an inline event handler"


def test_it_sends_a_strict_csp_on_every_page(world: World) -> None:
    pages = _pages(world)
    assert len(pages) > 30
    failures = []
    for name, persona, url in pages:
        response = _client(world, persona, csrf=False).get(url)
        if response.status_code >= 500:
            failures.append(f"{name}: {response.status_code}")
            continue
        try:
            _assert_strict(f"{name} as {persona} ({url})", response)
        except AssertionError as error:
            failures.append(str(error))
    # The error pages too: not found, forbidden, and the login page of an anonymous visitor.
    for url, persona in (("/no-such-page/", "staff_a"), ("/dashboard/cpe-it/", "staff_a"), ("/login/", "anonymous")):
        try:
            _assert_strict(url, _client(world, persona, csrf=False).get(url))
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n".join(failures)
