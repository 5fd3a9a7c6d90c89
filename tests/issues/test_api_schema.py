"""The API's OpenAPI schema, its reference page, and API tokens."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.issues.factories import UserFactory

OPERATIONS = {
    ("/api/v1/issues/", "get"),
    ("/api/v1/issues/", "post"),
    ("/api/v1/issues/{reference}/", "get"),
    ("/api/v1/issues/{reference}/transitions/", "post"),
    ("/api/v1/issues/{reference}/notes/", "post"),
    ("/api/v1/issues/{reference}/phone-calls/", "post"),
    ("/api/v1/issues/{reference}/ra-replies/", "post"),
    ("/api/v1/issues/{reference}/lpc-work/", "post"),
    ("/api/v1/dashboards/lpc/", "get"),
    ("/api/v1/issues/{reference}/ra-request/", "get"),
    ("/api/v1/issues/{reference}/triage/", "post"),
    ("/api/v1/dashboards/cpe-it/", "get"),
    ("/api/v1/unmatched-mail/", "get"),
    ("/api/v1/unmatched-mail/{id}/suggestions/", "get"),
    ("/api/v1/unmatched-mail/{id}/attach/", "post"),
    ("/api/v1/unmatched-mail/{id}/undo/", "post"),
    ("/api/v1/cases/", "get"),
    ("/api/v1/cases/", "post"),
    ("/api/v1/cases/suggestions/", "get"),
    ("/api/v1/cases/{reference}/", "get"),
    ("/api/v1/cases/{reference}/edit/", "post"),
    ("/api/v1/cases/{reference}/issues/", "post"),
    ("/api/v1/cases/{reference}/remove-issue/", "post"),
    ("/api/v1/cases/{reference}/highlight/", "post"),
    ("/api/v1/cases/{reference}/guidance/", "post"),
    ("/api/v1/cases/{reference}/close/", "post"),
    ("/api/v1/cases/{reference}/evidence-pack/", "get"),
    ("/api/v1/issues/export/", "get"),
    ("/api/v1/figures/", "get"),
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
# Swagger UI draws it in the browser (tests/e2e/test_api_docs_browser.py); here, what the site serves.


def test_it_asks_anonymous_visitors_of_the_reference_page_to_log_in(client, db):
    for path in ("/api/docs/", "/api/docs/?script="):
        response = client.get(path)
        assert response.status_code == 403
        assert 'href="/login/?next=%2Fapi%2Fdocs%2F"' in response.content.decode()
        assert "/api/v1/issues/" not in response.content.decode()


def test_it_shows_the_reference_page_with_swagger_ui_from_the_site(client, staff):
    client.force_login(staff)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 id="api-docs-title">Smartcard Route API reference</h1>' in html
    assets = re.findall(r'<(?:script|link rel="stylesheet")[^>]* (?:src|href)="([^"]+)"', html)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in assets
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css" in assets
    assert "/api/docs/?script=" in assets
    for url in assets:
        assert url.startswith("/"), url
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), url
    # The only inline script is NHS.UK's template's, which carries the nonce of the CSP header.
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert nonce is not None
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [f'<script nonce="{nonce.group(1)}">']


def test_it_serves_swagger_uis_start_up_script_pointing_at_the_schema(client, staff):
    client.force_login(staff)
    response = client.get("/api/docs/?script=")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    script = response.content.decode()
    assert 'url: "/api/schema/"' in script
    assert '"validatorUrl": "none"' in script  # no image from validator.swagger.io
    assert client.get("/api/schema/").status_code == 200


# No browsable API ------------------------------------------------------------------------------


def test_it_lists_the_apis_routes_at_its_root_as_json(client, staff):
    client.force_login(staff)
    response = client.get("/api/v1/", HTTP_ACCEPT="text/html,*/*;q=0.8")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["issues"].endswith("/api/v1/issues/")


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
