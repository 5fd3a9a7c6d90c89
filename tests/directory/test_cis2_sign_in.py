"""Sign-in with NHS CIS2 (issue 11, part 7), end to end against a real OpenID Connect provider
started here: the npm package oidc-provider (tests/oidc/provider.mjs), configured like CIS2 for our
client (authorization code with PKCE, private_key_jwt signed RS512 with a key pair made by the test,
whose public half is registered with the provider). The site is driven with Django's test client;
the browser's part at the provider (its authorize endpoint, its log in and consent pages) with
`requests`, through the provider's real HTTP endpoints; the site's calls to the provider (discovery,
token with the signed client assertion, JWKS, userinfo) are real HTTP too.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from joserfc.jwk import RSAKey

from directory.accounts import cis2
from directory.models import User

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = ROOT / "tests" / "oidc" / "provider.mjs"
CALLBACK = "http://testserver/login/cis2/callback/"
CLIENT_ID = "smartcard-route-test"

ACCOUNTS = {
    # CIS2 users, by the login name typed on the provider's page.
    "alice": {"email": "Alice.Pharmacist@NHS.net", "email_verified": True, "name": "Alice Pharmacist"},
    "stranger": {"email": "nobody-here@nhs.net", "email_verified": True, "name": "No Account"},
    "unverified": {"email": "alice.pharmacist@nhs.net", "email_verified": False, "name": "Alice again"},
}

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(shutil.which("node") is None, reason="node runs the OpenID Connect provider"),
]


def new_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Provider:
    issuer: str
    key_file: Path  # the site's private key, whose public half the provider knows


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    folder = tmp_path_factory.mktemp("oidc")
    key_file = folder / "site-key.pem"
    key_file.write_bytes(new_key_pem())
    port = free_port()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "port": port,
                "client": {
                    "client_id": CLIENT_ID,
                    "redirect_uris": [CALLBACK],
                    "jwks": cis2.public_jwks(str(key_file)),
                },
                "accounts": ACCOUNTS,
            }
        )
    )
    process = subprocess.Popen(
        ["node", str(PROVIDER), str(folder / "config.json")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("READY "), f"the provider did not start: {line!r}"
        yield Provider(issuer=line.split()[1], key_file=key_file)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def cis2_on(settings: Any, provider: Provider) -> Provider:
    settings.CIS2_CLIENT_ID = CLIENT_ID
    settings.CIS2_SERVER_METADATA_URL = f"{provider.issuer}/.well-known/openid-configuration"
    settings.CIS2_PRIVATE_KEY_FILE = str(provider.key_file)
    settings.CIS2_KEY_ID = ""
    return provider


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice.pharmacist@nhs.net", "a-long-password-1", full_name="Alice Pharmacist")


def sign_in_at_provider(authorize_url: str, login: str) -> str:
    """What the person's browser does at the provider: follow its redirects, log in as `login` on its
    log in page, agree on its consent page. Returns where the provider sends the browser back."""
    browser = requests.Session()
    url = authorize_url
    for _ in range(20):
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            if url.startswith(CALLBACK):
                return url
            continue
        assert response.status_code == 200, (response.status_code, response.text[:500])
        page = response.text
        assert "/interaction/" in url, f"unexpected page at {url}"
        if 'name="login"' in page:
            form = {"prompt": "login", "login": login, "password": "any"}
        else:
            form = {"prompt": "consent"}
        response = browser.post(url, data=form, allow_redirects=False, timeout=10)
        assert response.is_redirect, (response.status_code, response.text[:500])
        url = urljoin(url, response.headers["Location"])
        if url.startswith(CALLBACK):
            return url
    raise AssertionError("the provider never sent the browser back")


def start(client: Client, next_url: str = "") -> str:
    response = client.get("/login/cis2/" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert location.startswith(urljoin(client_issuer(location), "/auth"))
    return location


def client_issuer(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def come_back(client: Client, callback_url: str) -> Any:
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}")


# End to end ----------------------------------------------------------------------------------------


def test_it_signs_a_known_person_in_by_their_verified_email_and_sends_them_on(client, cis2_on, alice):
    authorize = start(client, next_url="/issues/")
    assert "code_challenge=" in authorize and "nonce=" in authorize

    response = come_back(client, sign_in_at_provider(authorize, "alice"))

    assert response.status_code == 302
    assert response["Location"] == "/issues/"
    assert int(client.session["_auth_user_id"]) == alice.pk
    assert client.get("/issues/").status_code == 200  # signed in: the page, not the login page


def test_it_sends_a_person_signed_in_without_a_next_page_to_their_landing_page(client, cis2_on, alice):
    response = come_back(client, sign_in_at_provider(start(client), "alice"))

    assert response.status_code == 302
    assert response["Location"] == reverse("landing")
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_it_never_follows_a_next_page_off_the_site(client, cis2_on, alice):
    response = come_back(client, sign_in_at_provider(start(client, next_url="https://evil.example/"), "alice"))

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


def test_it_tells_a_person_without_an_account_and_creates_none(client, cis2_on, alice):
    users = User.objects.count()

    response = come_back(client, sign_in_at_provider(start(client), "stranger"))

    assert response.status_code == 403
    body = response.content.decode()
    assert "There is no Smartcard Route account for this email address." in body
    assert "nobody-here@nhs.net" in body
    assert "log in with your email address and password" in body
    assert User.objects.count() == users
    assert "_auth_user_id" not in client.session
    assert "no-store" in response["Cache-Control"]  # it names the person's address


def test_it_refuses_an_email_the_provider_has_not_verified(client, cis2_on, alice):
    response = come_back(client, sign_in_at_provider(start(client), "unverified"))

    assert response.status_code == 403
    assert "has not verified this email address" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_refuses_an_inactive_account(client, cis2_on, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)

    response = come_back(client, sign_in_at_provider(start(client), "alice"))

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_it_refuses_a_callback_used_twice_or_from_another_browser(client, cis2_on, alice):
    callback = sign_in_at_provider(start(client), "alice")
    come_back(client, callback)
    client.logout()

    again = come_back(client, callback)
    elsewhere = come_back(Client(), callback)

    assert again.status_code == 400
    assert elsewhere.status_code == 400
    assert "did not work" in again.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_provider_refuses_the_site_signing_with_a_key_it_never_registered(
    client, cis2_on, alice, settings, tmp_path
):
    # The control: the provider really checks the private_key_jwt client assertion.
    callback = sign_in_at_provider(start(client), "alice")
    other_key = tmp_path / "other-key.pem"
    other_key.write_bytes(new_key_pem())
    settings.CIS2_PRIVATE_KEY_FILE = str(other_key)

    response = come_back(client, callback)

    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_it_answers_the_provider_s_error_with_a_clear_page(client, cis2_on):
    start(client)

    response = client.get("/login/cis2/callback/?error=access_denied&error_description=User+cancelled")

    assert response.status_code == 400
    assert "did not work" in response.content.decode()


def test_the_login_page_offers_cis2_beside_the_password_when_it_is_on(client, cis2_on):
    body = client.get("/login/?next=/issues/").content.decode()

    assert 'name="password"' in body
    assert "Log in with NHS Care Identity (CIS2)" in body
    assert "/login/cis2/?next=/issues/" in body


def test_the_password_login_still_works_when_cis2_is_on(client, cis2_on, alice):
    response = client.post("/login/", {"username": "alice.pharmacist@nhs.net", "password": "a-long-password-1"})

    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == alice.pk


def test_it_says_cis2_is_unavailable_when_the_provider_does_not_answer(client, cis2_on, settings):
    settings.CIS2_SERVER_METADATA_URL = f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"

    response = client.get("/login/cis2/")

    assert response.status_code == 503
    assert "log in with your email address and password" in response.content.decode()


# Off unless configured -----------------------------------------------------------------------------


def test_it_is_off_without_its_settings(client, settings):
    settings.CIS2_CLIENT_ID = ""
    settings.CIS2_SERVER_METADATA_URL = ""
    settings.CIS2_PRIVATE_KEY_FILE = ""

    assert client.get("/login/cis2/").status_code == 404
    assert client.get("/login/cis2/callback/?code=x&state=y").status_code == 404
    assert "Care Identity" not in client.get("/login/").content.decode()


def test_a_half_configured_cis2_stops_the_start_naming_what_is_missing(tmp_path):
    environment = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "x" * 60,
        "VAR_DIR": str(tmp_path),
        "CIS2_CLIENT_ID": "smartcard-route",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import smartcard_route.settings"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "CIS2 sign-in is half configured: set CIS2_SERVER_METADATA_URL, CIS2_PRIVATE_KEY_FILE" in result.stderr


def test_the_jwks_command_prints_the_public_key_to_register(tmp_path):
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(new_key_pem())
    out = StringIO()
    call_command("cis2_jwks", "--key", str(key_file), stdout=out)

    jwks = json.loads(out.getvalue())
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA" and "d" not in key and "p" not in key
    assert key["kid"] == RSAKey.import_key(key_file.read_bytes()).thumbprint()
