"""The access matrix (issue 10, part 1): every route of the URL configuration, as every persona,
with objects inside and outside their scope, read (GET) and acted on (POST).

The cases are generated from django.urls.get_resolver() (every pattern, the router's included) and
cross-checked against the OpenAPI schema; tests/access/routes.py says for each route how to build
its URL and who may read it and take its action. A route the table does not know fails. Each case
is named persona x route x object, and asserts: anonymous visitors go to the login page (pages) or
get 401 (the API); outside scope 404; an action the persona may not take 403; never a 500; and no
body ever holds a marker of data the persona may not see (tests/access/world.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.generators import SchemaGenerator

from issues import route as route_table
from tests.access.routes import (
    ADMIN,
    ADMIN_OPEN,
    API,
    MAY_TAKE,
    PUBLIC,
    ROUTES,
    SEES_ISSUE,
    WEBHOOK,
    Route,
    may,
)
from tests.access.world import (
    MARKER_A,
    MARKER_A_QUIET,
    MARKER_ATTACHMENT,
    MARKER_B,
    MARKER_CASE,
    MARKER_UNMATCHED,
    MARKERS,
    PERSONAS,
    World,
    build_world,
)

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"


@dataclass(frozen=True)
class Pattern:
    name: str  # namespace:name, or the pattern itself when it has no name
    pattern: str  # the whole pattern from the root, for messages and the schema check
    format_suffix: bool  # one of the router's `.json` variants


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Pattern]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            whole = prefix + str(entry.pattern)
            name = f"{namespace}{entry.name}" if entry.name else f"{namespace}{whole}"
            suffix = "(?P<format>" in whole or "<drf_format_suffix:format>" in whole
            yield Pattern(name=name, pattern=whole, format_suffix=suffix)


PATTERNS = list(_walk(get_resolver().url_patterns))


def route_for(name: str) -> Route:
    if name in ROUTES:
        return ROUTES[name]
    if name.startswith("admin:"):
        return Route(ADMIN)
    raise LookupError(name)


def _cases() -> Iterator[Any]:
    for pattern in PATTERNS:
        if pattern.name not in ROUTES and not pattern.name.startswith("admin:"):
            continue  # test_it_knows_every_route fails for it
        suffix = ".json" if pattern.format_suffix else ""
        route = route_for(pattern.name)
        # A route taking many actions (an issue's, a case's): one case per action, spread over workers.
        for action in route.actions or (None,):
            name = f"{pattern.name}{suffix}" + (f"[{action}]" if action else "")
            yield pytest.param(pattern, action, id=name)


# The world, built once for the module and rolled back after it ---------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from django.test import override_settings

    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")),
        transaction.atomic(),
    ):
        yield build_world()
        transaction.set_rollback(True)


@pytest.fixture
def media(world: World, settings: Any) -> None:
    settings.MEDIA_ROOT = world.objects["attachment"].file.storage.location


def client_for(world: World, persona: str) -> Client:
    client = Client(raise_request_exception=False)
    if persona != "anonymous":
        client.force_login(world.users[persona])
    return client


def body_of(response: Any) -> str:
    streaming = getattr(response, "streaming", False)
    content = b"".join(response.streaming_content) if streaming else response.content
    return content.decode("utf-8", errors="replace")


def assert_no_leak(persona: str, where: str, response: Any) -> None:
    body = body_of(response) + response.get("Location", "")
    for marker, seers in MARKERS.items():
        assert persona in seers or marker not in body, f"{persona} x {where}: {marker} in the body"


def admin_path(pattern: Pattern) -> str:
    """An admin page's path, from its pattern (for nobody of the matrix gets past its login)."""
    path = "/" + pattern.pattern
    path = re.sub(r"\(\?P<app_label>[^)]*\)/", "issues/", path)
    path = re.sub(r"\(\?P<url>\.\*\)", "nowhere/", path)
    path = re.sub(r"<(?:\w+:)?\w+>", "1", path)
    return path.replace("^", "").replace("$", "")


def url_for(pattern: Pattern, kwargs: dict[str, Any]) -> str:
    if route_for(pattern.name).kind == ADMIN:
        return admin_path(pattern)
    if pattern.format_suffix:
        kwargs = {**kwargs, "format": "json"}
    return reverse(pattern.name, kwargs=kwargs)


def objects_of(pattern: Pattern, world: World) -> dict[str, Any]:
    return dict(route_for(pattern.name).objects(world))


def expect_read(route: Route, persona: str, label: str, response: Any, where: str) -> None:
    status = response.status_code
    assert status < 500, f"{where}: {status}"
    if 405 in route.ok and status == 405:
        return  # a route that takes POST only: the method is refused before anything is read
    if route.kind in (PUBLIC, WEBHOOK):
        assert status in route.ok, f"{where}: {status}"
        return
    if route.kind == ADMIN:
        name = where.split(" x ")[1]
        if name in ADMIN_OPEN:
            assert status in ADMIN_OPEN[name], f"{where}: {status}"
        else:
            location = response.get("Location", "")
            assert status == 302 and location.startswith((ADMIN_LOGIN, LOGIN)), f"{where}: {status}"
        return
    if persona == "anonymous":
        if route.anonymous is not None:
            assert status == route.anonymous, f"{where}: {status}"
        elif route.kind == API:
            assert status == 401, f"{where}: {status}"
        else:
            assert status == 302 and response["Location"].startswith(LOGIN), f"{where}: {status}"
        return
    if may(route.read, persona, label):
        assert status in route.ok, f"{where}: {status}"
    elif label == "-":
        # A page of a role the persona does not have: 403 (the dashboards, reporting) or 404.
        assert status in (403, 404), f"{where}: {status}"
    else:
        assert status == 404, f"{where}: {status}"


def expect_post(route: Route, persona: str, label: str, response: Any, where: str, *, may_take: bool) -> None:
    status = response.status_code
    assert status < 500, f"{where}: {status}"
    if persona == "anonymous":
        if route.kind == API:
            assert status == 401, f"{where}: {status}"
        else:
            assert status == 302 and response["Location"].startswith(LOGIN), f"{where}: {status}"
        return
    if not may(route.read, persona, label):
        assert status in ((403, 404) if label == "-" else (404,)), f"{where}: {status}"
    elif not may_take:
        # 403; 400 only where the object is still to be named by the body (a new issue's pharmacy).
        assert status in ((400, 403) if label == "-" else (403,)), f"{where}: {status}"
    else:
        assert status not in (403, 404), f"{where}: {status}"


# The table knows every route, and the API's routes are the schema's ----------------------------


def test_it_knows_every_route() -> None:
    unknown = sorted({p.name for p in PATTERNS if p.name not in ROUTES and not p.name.startswith("admin:")})
    assert not unknown, f"routes the access matrix does not know (add them to tests/access/routes.py): {unknown}"
    stale = sorted(set(ROUTES) - {p.name for p in PATTERNS})
    assert not stale, f"routes in the matrix that the URL configuration no longer has: {stale}"


def test_it_knows_every_row_of_the_route_table() -> None:
    assert set(MAY_TAKE) == set(route_table.ACTIONS)


def _schema_path(pattern: str) -> str:
    path = "/" + pattern.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "{}", path)
    return re.sub(r"<(?:\w+:)?\w+>", "{}", path)


def test_it_finds_every_api_route_in_the_schema_and_every_operation_in_the_matrix() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (re.sub(r"\{\w+\}", "{}", path), method)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    api_patterns = [p for p in PATTERNS if p.name.startswith("api:") and p.name != "api:api-root"]
    routed = {_schema_path(p.pattern) for p in api_patterns}
    assert routed == {path for path, _ in operations}, "the URL configuration's API routes are not the schema's"
    by_path = {_schema_path(p.pattern): ROUTES[p.name] for p in api_patterns}
    for path, method in operations:
        route = by_path[path]
        if method == "get":
            assert route.read and 405 not in route.ok, f"GET {path} is in the schema, not in the matrix"
        else:
            assert route.post is not None, f"{method.upper()} {path} is in the schema, not in the matrix"


def test_it_has_no_format_suffix_routes_the_api_does_not_serve(world: World) -> None:
    """The router's `.json` variants answered 500 for every role: they are not mounted (JSON is the
    API's only format; the export's CSV is its own endpoint), so they answer 404 like any unknown URL."""
    client = client_for(world, "cpe_it")
    reference = world.objects["issue_a"].reference
    for url in ("/api/v1/issues.json", f"/api/v1/issues/{reference}.json", "/api/v1/cases.json", "/api/v1/.json"):
        response = client.get(url, follow=True)  # an added slash first, where a route would take it
        assert response.status_code == 404, url


# The matrix -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "action"), list(_cases()))
def test_it_answers_every_route_as_each_persona_may(
    world: World, media: None, pattern: Pattern, action: str | None
) -> None:
    """One case per route; every persona in it, and every failure named persona x route x object."""
    failures = []
    for persona in PERSONAS:
        try:
            _visit(world, pattern, persona, action)
        except AssertionError as error:
            failures.append(str(error).splitlines()[0])
    assert not failures, "\n".join(failures)


def post_empty(client: Any, route: Route, url: str) -> Any:
    """An empty POST as the route takes it: JSON for the API (a form's body is 415 there), a form
    for the pages."""
    if route.kind == API:
        return client.post(url, "{}", content_type="application/json")
    return client.post(url, {})


def _visit(world: World, pattern: Pattern, persona: str, only: str | None) -> None:
    route = route_for(pattern.name)
    client = client_for(world, persona)
    for label, kwargs in objects_of(pattern, world).items():
        if route.actions:
            for action in (only,) if only else route.actions:
                url = url_for(pattern, {**kwargs, "action": action})
                where = f"{persona} x {pattern.name} x {label} x {action}"
                response = post_empty(client, route, url)
                assert_no_leak(persona, where, response)
                exists = pattern.name != "issues:action" or not route_table.ACTIONS[action].own_page
                if pattern.name == "issues:action" and persona != "anonymous" and not exists:
                    assert response.status_code == 404, f"{where}: {response.status_code}"
                    continue
                taker = MAY_TAKE.get(action, route.read)  # cases: CPE IT's
                expect_post(route, persona, label, response, where, may_take=may(taker, persona, label))
            if only != route.actions[0]:
                continue  # the GET (405) once per route
            url = url_for(pattern, {**kwargs, "action": route.actions[0]})
        else:
            url = url_for(pattern, kwargs)
        where = f"{persona} x {pattern.name} x {label}"
        response = client.get(url)
        assert_no_leak(persona, where, response)
        expect_read(route, persona, label, response, where)
        if route.post is not None and not route.actions:
            response = post_empty(client, route, url)
            assert_no_leak(persona, f"{where} x POST", response)
            expect_post(route, persona, label, response, f"{where} x POST", may_take=may(route.post, persona, label))


def test_it_keeps_every_issue_in_its_scope(world: World) -> None:
    """Lists, exports and figures, as JSON and CSV alike, hold only the issues the persona may see."""
    for persona in PERSONAS[1:]:
        client = client_for(world, persona)
        listed = body_of(client.get("/api/v1/issues/")) + body_of(client.get("/issues/export.csv"))
        for label, seers in SEES_ISSUE.items():
            reference = world.objects[label].reference
            assert (reference in listed) == (persona in seers), f"{persona} x lists x {label}"


def test_it_finds_each_marker_where_its_seers_look(world: World, media: None) -> None:
    """The leak check is not vacuous: each marker is in the bodies of those who may see it."""
    issue_a, issue_b = world.objects["issue_a"].reference, world.objects["issue_b"].reference
    looks = {
        MARKER_A: ("officer_a", f"/issues/{issue_a}/"),
        MARKER_A_QUIET: ("owner_a", "/issues/export.csv"),
        MARKER_B: ("staff_b", f"/api/v1/issues/{issue_b}/"),
        MARKER_CASE: ("cpe_it", reverse("cases:detail", kwargs={"reference": world.objects["case"].reference})),
        MARKER_UNMATCHED: ("cpe_it", "/issues/unmatched-mail/"),
        MARKER_ATTACHMENT: ("staff_a", f"/issues/attachments/{world.objects['attachment'].pk}/"),
    }
    assert set(looks) == set(MARKERS)
    for marker, (persona, url) in looks.items():
        assert marker in body_of(client_for(world, persona).get(url)), f"{persona} x {url}: no {marker}"
