"""Cache-Control: no-store on every page and API answer with personal data (issue 11, part 4):
every route of the URL configuration (the access matrix's enumeration, tests/access/routes.py),
read by a persona who may read it and by one who may not, by session and, for the API, by token;
static files keep their caching, and anonymous pages are not forced to no-store."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from tests.access.routes import ADMIN, API, PUBLIC, WEBHOOK, may
from tests.access.world import USERS, World
from tests.test_access_matrix import (  # noqa: F401 (the module's fixtures)
    PATTERNS,
    client_for,
    media,
    objects_of,
    route_for,
    url_for,
    world,
)

pytestmark = pytest.mark.django_db


def _readers(route: Any, label: str) -> list[str]:
    """A persona who may read the route's object, and one who may not (if any), signed in."""
    allowed = [p for p in USERS if may(route.read, p, label)]
    refused = [p for p in USERS if not may(route.read, p, label)]
    return [*allowed[:1], *refused[:1]]


def _urls(built: World) -> list[tuple[str, str, Any]]:
    urls = []
    for pattern in PATTERNS:
        route = route_for(pattern.name)
        if route.kind in (ADMIN, WEBHOOK):
            continue
        for label, kwargs in objects_of(pattern, built).items():
            if route.actions:
                kwargs = {**kwargs, "action": route.actions[0]}
            urls.append((pattern.name, label, url_for(pattern, dict(kwargs))))
    return urls


def test_every_answer_to_a_signed_in_user_is_no_store(world: World, media: None) -> None:  # noqa: F811
    failures, checked = [], 0
    for name, label, url in _urls(world):
        route = route_for(name)
        personas = USERS if route.kind == PUBLIC else _readers(route, label)
        for persona in personas:
            response = client_for(world, persona).get(url)
            checked += 1
            if "no-store" not in response.get("Cache-Control", ""):
                failures.append(f"{persona} x {name} x {label}: {response.status_code} {response.get('Cache-Control')}")
    assert checked > 100
    assert not failures, "\n".join(failures)


def test_every_api_answer_to_a_token_user_is_no_store(world: World) -> None:  # noqa: F811
    from django.test import Client

    token = Token.objects.create(user=world.users["cpe_it"])
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    api = [(name, url) for name, _, url in _urls(world) if route_for(name).kind == API]
    assert len(api) > 10
    for name, url in api:
        response = client.get(url)
        assert response.status_code < 500, name
        assert "no-store" in response.get("Cache-Control", ""), f"{name}: {response.get('Cache-Control')}"


def test_a_page_with_a_post_answer_is_no_store_too(world: World) -> None:  # noqa: F811
    response = client_for(world, "staff_a").post("/account/notifications/", {"nudge_delivery": "nonsense"})
    assert "no-store" in response.get("Cache-Control", "")


def test_static_files_and_anonymous_pages_keep_their_caching(world: World) -> None:  # noqa: F811
    anonymous = client_for(world, "anonymous")
    start = anonymous.get("/")
    assert start.status_code == 200 and "no-store" not in start.get("Cache-Control", "")
    signed_in = client_for(world, "staff_a")
    static = signed_in.get("/assets/manifest.json")  # WhiteNoise (the NHS.UK assets; /static/ alike)
    assert static.status_code == 200
    assert "no-store" not in static.get("Cache-Control", "")
