"""schemathesis against the API, from the schema the API serves itself (/api/schema/).

The schema is the one /api/schema/ serves (the first test holds them equal), and every operation is
called in-process through Django's WSGI application as CPE IT (who may take most actions), with the
access matrix's world in the test database so that some generated references name real issues and
cases. schemathesis's checks (no 500, documented status codes, content types and headers, bodies
that conform to their schema, so enum fields hold one of their values; schema-violating requests
refused) run on every response, with one change: a schema-valid body may still be refused with 400
field errors by the service's own rules (a UK phone number, a pharmacy of yours), which no schema
says; `refused_only_for_rules_the_schema_cannot_say` allows that, but never for a query parameter
the schema allows (unless it names an RA or LPC that does not exist), and never with error keys
that are not the request's fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from directory.models import LPC, RegistrationAuthority
from issues.filters import DATE_FORMATS
from tests.access.world import World, build_world

pytestmark = pytest.mark.django_db

NON_FIELD = "non_field_errors"
# Query parameters whose value names a directory object: an id nobody has is refused (400).
NAMES_AN_OBJECT: dict[str, Any] = {"ra": RegistrationAuthority, "lpc": LPC}


def _served_schema() -> dict[str, Any]:
    """What /api/schema/ serves (its view's generator, without a request: the schema is public)."""
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(_served_schema())
schema.app = WSGIHandler()


@pytest.fixture
def world(db: None) -> World:
    return build_world()


@pytest.fixture(autouse=True)
def _keep_the_tests_connection() -> Iterator[None]:
    """Called through the WSGI handler (not the test client), each request's end would close the
    database connection the test's transaction lives on (close_old_connections): on PostgreSQL
    the next request then fails with "connection already closed". Django's test client
    disconnects it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def refused_only_for_rules_the_schema_cannot_say(ctx: Any, response: Any, case: Any) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        positive_data_acceptance(ctx, response, case)
        return
    errors = json.loads(response.content)
    query = case.query or {}
    for name in errors:
        if name in query:
            assert _may_refuse(name, query), f"the query parameter {name}={query[name]!r} is allowed but refused"
    body = case.body if isinstance(case.body, dict) else {}
    fields = set(body) | set(query) | {NON_FIELD}
    properties = _request_properties(case)
    unknown = set(errors) - fields - properties
    assert not unknown, f"error keys that are not the request's fields: {sorted(unknown)}"


def _may_refuse(name: str, query: dict[str, Any]) -> bool:
    """A schema-valid query parameter may be refused only for a rule no schema can say: an RA or
    LPC id that nobody has, a date that does not exist, or 'reported before' earlier than 'after'."""
    value = str(query[name])
    if name in NAMES_AN_OBJECT:
        return not (value.isdigit() and NAMES_AN_OBJECT[name].objects.filter(pk=int(value)).exists())
    if name in ("reported_after", "reported_before"):
        after, before = _date(query.get("reported_after")), _date(query.get("reported_before"))
        return _date(value) is None or (after is not None and before is not None and after > before)
    return False


def _date(value: Any) -> date | None:
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(str(value), pattern).date()
        except ValueError:
            continue
    return None


def _request_properties(case: Any) -> set[str]:
    body = case.operation.definition.raw.get("requestBody", {})
    found = body.get("content", {}).get("application/json", {}).get("schema", {})
    ref = found.get("$ref", "")
    component = _served_components().get(ref.rsplit("/", 1)[-1], found) if ref else found
    names = set(component.get("properties", {}))
    for variant in component.get("oneOf", []):
        inner = _served_components().get(variant.get("$ref", "").rsplit("/", 1)[-1], {})
        names |= set(inner.get("properties", {}))
    return names


_COMPONENTS: dict[str, Any] = {}


def _served_components() -> dict[str, Any]:
    if not _COMPONENTS:
        _COMPONENTS.update(schema.raw_schema["components"]["schemas"])
    return _COMPONENTS


def test_it_tests_the_schema_the_api_serves(world: World) -> None:
    token = Token.objects.create(user=world.users["cpe_it"])
    response = Client().get("/api/schema/?format=json", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert json.loads(response.content) == _served_schema()


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_it_answers_every_operation_as_its_schema_says(case: Any, world: World) -> None:
    token, _ = Token.objects.get_or_create(user=world.users["cpe_it"])
    case.call_and_validate(
        headers={"Authorization": f"Token {token.key}"},
        excluded_checks=[positive_data_acceptance],
        additional_checks=[refused_only_for_rules_the_schema_cannot_say],
    )
