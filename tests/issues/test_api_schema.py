"""The API's OpenAPI schema, its reference page, and API tokens."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from issues.api.docs import api_reference
from tests.issues.factories import UserFactory

OPERATIONS = {
    ("/api/v1/issues/", "get"),
    ("/api/v1/issues/", "post"),
    ("/api/v1/issues/{reference}/", "get"),
    ("/api/v1/issues/{reference}/transitions/", "post"),
    ("/api/v1/issues/{reference}/notes/", "post"),
    ("/api/v1/issues/{reference}/phone-calls/", "post"),
    ("/api/v1/issues/{reference}/ra-replies/", "post"),
    ("/api/v1/issues/{reference}/ra-request/", "get"),
}


@pytest.fixture
def schema(client, staff) -> dict:
    client.force_login(staff)
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


# The schema -----------------------------------------------------------------------------------


def test_it_serves_the_schema_as_yaml(client, staff):
    client.force_login(staff)
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.0")


def test_it_serves_the_schema_to_a_token(staff):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=staff).key}")
    assert api.get("/api/schema/").status_code == 200


def test_it_answers_401_to_anonymous_schema_requests(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_it_documents_every_operation(schema, db):
    documented = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert documented == OPERATIONS


def test_it_documents_the_error_responses(schema, db):
    transitions = schema["paths"]["/api/v1/issues/{reference}/transitions/"]["post"]
    assert set(transitions["responses"]) == {"200", "400", "401", "403", "404", "409"}
    create = schema["paths"]["/api/v1/issues/"]["post"]
    assert set(create["responses"]) == {"201", "400", "401", "403"}
    assert schema["paths"]["/api/v1/issues/{reference}/"]["get"]["responses"]["404"]


def test_it_documents_each_transitions_request_body(schema, db):
    body = schema["paths"]["/api/v1/issues/{reference}/transitions/"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/TransitionRequest"}
    request = schema["components"]["schemas"]["TransitionRequest"]
    assert request["discriminator"]["propertyName"] == "transition"
    assert set(request["discriminator"]["mapping"]) == {
        "try_cis",
        "contact_ra",
        "cc_lpc",
        "escalate_to_cpe",
        "resolve",
        "withdraw",
        "reopen",
    }
    resolve = schema["components"]["schemas"]["Resolve"]
    assert set(resolve["required"]) == {"transition", "note", "fixed_by_step"}


def test_it_documents_the_list_filters(schema, db):
    parameters = {p["name"] for p in schema["paths"]["/api/v1/issues/"]["get"]["parameters"]}
    assert {"state", "kind", "pharmacy", "overdue", "page", "page_size"} <= parameters


def test_it_documents_both_authentication_schemes(schema, db):
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}


def test_it_generates_a_valid_schema_without_warnings(tmp_path, db):
    """`manage.py spectacular --validate --fail-on-warn` fails on any warning or invalid schema."""
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert target.read_text().startswith("openapi: 3.0")


# The reference page ---------------------------------------------------------------------------


def test_it_asks_anonymous_visitors_of_the_reference_page_to_log_in(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 403
    assert 'href="/login/?next=%2Fapi%2Fdocs%2F"' in response.content.decode()
    assert "/api/v1/issues/" not in response.content.decode()


def test_it_shows_the_reference_page(client, staff):
    client.force_login(staff)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    for path, method in OPERATIONS:
        assert f"{method.upper()} {path}" in html
    assert "transition = &#34;escalate_to_cpe&#34;" in html
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<script" not in main


def test_it_builds_the_reference_from_the_schema(schema, db):
    reference = api_reference(schema)
    transitions = next(op for op in reference.operations if op.path.endswith("/transitions/"))
    assert [shape.title for shape in transitions.request][:2] == ['transition = "try_cis"', 'transition = "contact_ra"']
    resolve = next(shape for shape in transitions.request if shape.title == 'transition = "resolve"')
    fields = {field.name: field for field in resolve.fields}
    assert fields["transition"].type.text == '"resolve"'
    assert fields["fixed_by_step"].required
    assert fields["fixed_by_step"].type.text.startswith("one of: in_pharmacy, cis_self_service, ra")
    assert [code for code, _, _ in transitions.responses] == ["200", "400", "401", "403", "404", "409"]
    detail = next(shape for shape in reference.shapes if shape.name == "IssueDetail")
    detail_fields = {field.name: field for field in detail.fields}
    assert detail_fields["events"].type.link == "IssueEvent"
    assert detail_fields["due_at"].type.text == "date and time (ISO 8601), or null"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_shows_an_accessible_reference_page(page):
    from axe_playwright_python.sync_playwright import Axe

    user = UserFactory.create(email="reader@example.org")
    page.goto("/api/docs/")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email address").fill(user.email)
    page.get_by_role("textbox", name="Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/api/docs/")
    assert page.locator("h1").inner_text().startswith("Smartcard Route API")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


# The browsable API ----------------------------------------------------------------------------


def test_it_serves_the_browsable_api_with_local_assets_only(client, staff):
    client.force_login(staff)
    response = client.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/issues/" in html
    assert "https://" not in html.split("<body")[0]


# API tokens -----------------------------------------------------------------------------------


def run_api_token(*args: str) -> str:
    out = io.StringIO()
    call_command("api_token", *args, stdout=out)
    return out.getvalue().strip()


def test_it_creates_a_token_that_authenticates_as_the_user(staff, issue):
    key = run_api_token("Staff@Riverside.example")
    assert Token.objects.get(user=staff).key == key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api.get("/api/v1/issues/")
    assert response.status_code == 200
    assert [row["reference"] for row in response.json()["results"]] == [issue.reference]


def test_it_prints_the_same_token_again(staff):
    assert run_api_token(staff.email) == run_api_token(staff.email)


def test_it_rotates_a_token(staff):
    old = run_api_token(staff.email)
    new = run_api_token(staff.email, "--rotate")
    assert new != old
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {old}")
    assert api.get("/api/v1/issues/").status_code == 401


def test_it_revokes_a_token(staff):
    key = run_api_token(staff.email)
    assert run_api_token(staff.email, "--revoke") == f"Revoked the API token of {staff.email}."
    assert not Token.objects.filter(key=key).exists()
    assert run_api_token(staff.email, "--revoke") == f"{staff.email} had no API token."


def test_it_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match=r"No user with the email address nobody@example\.org"):
        run_api_token("nobody@example.org")


def test_it_refuses_an_inactive_user(db):
    user = UserFactory.create(is_active=False)
    with pytest.raises(CommandError, match="not active"):
        run_api_token(user.email)
    assert not Token.objects.exists()
