"""Sign-in with NHS CIS2 (Care Identity Service 2) Authentication, beside the password login
(docs/sign-in.md).

CIS2 speaks OpenID Connect and authenticates the site at its token endpoint with `private_key_jwt`:
the site signs a short-lived JWT with its own private key, whose public half is registered with
CIS2, instead of sending a shared secret. Authlib does this (`PrivateKeyJWT`); mozilla-django-oidc
knows only client secrets (its issue #457 asks for private_key_jwt and is still open), so it is not
used.

Off unless its settings are given (settings.CIS2_*); a half-given set stops the start with one
error naming what is missing (settings.py). An account is found by its email address, from the ID token's
`email` claim (`email_verified` true unless CIS2_REQUIRE_VERIFIED_EMAIL is False); no account is
ever created here, and the roles stay those of the directory.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from joserfc.jwk import RSAKey

from directory.models import User

REQUIRED = ("CIS2_CLIENT_ID", "CIS2_SERVER_METADATA_URL", "CIS2_PRIVATE_KEY_FILE")
NAME = "cis2"


def enabled() -> bool:
    return all(getattr(settings, name, "") for name in REQUIRED)


@dataclass(frozen=True)
class Config:
    client_id: str
    server_metadata_url: str
    private_key_file: str
    key_id: str
    scopes: str
    signing_alg: str
    timeout: float


def config() -> Config:
    return Config(
        client_id=settings.CIS2_CLIENT_ID,
        server_metadata_url=settings.CIS2_SERVER_METADATA_URL,
        private_key_file=settings.CIS2_PRIVATE_KEY_FILE,
        key_id=settings.CIS2_KEY_ID,
        scopes=settings.CIS2_SCOPES,
        signing_alg=settings.CIS2_SIGNING_ALG,
        timeout=settings.CIS2_TIMEOUT_SECONDS,
    )


def private_key(path: str) -> RSAKey:
    try:
        pem = Path(path).read_bytes()
    except OSError as error:
        raise ImproperlyConfigured(f"CIS2_PRIVATE_KEY_FILE cannot be read: {error.strerror}") from None
    return RSAKey.import_key(pem)


def public_jwks(path: str, key_id: str = "") -> dict[str, Any]:
    """The key set to register with CIS2: the public half of the site's key (manage.py cis2_jwks)."""
    key = private_key(path)
    return {"keys": [{**key.as_dict(private=False), "kid": key_id or key.thumbprint(), "use": "sig"}]}


@functools.cache
def _client(conf: Config) -> DjangoOAuth2App:
    """One client per configuration (the provider's metadata is fetched once, then kept)."""
    key = private_key(conf.private_key_file)
    registry = OAuth()
    return registry.register(  # type: ignore[no-any-return]
        NAME,
        client_id=conf.client_id,
        client_secret=key,
        server_metadata_url=conf.server_metadata_url,
        client_kwargs={
            "scope": conf.scopes,
            "token_endpoint_auth_method": PrivateKeyJWT.name,
            "code_challenge_method": "S256",
            "default_timeout": conf.timeout,
        },
        client_auth_methods=[PrivateKeyJWT(alg=conf.signing_alg, headers={"kid": conf.key_id or key.thumbprint()})],
    )


def client() -> DjangoOAuth2App:
    return _client(config())


class SignInRefused(Exception):
    """The provider signed someone in, but not someone the site can let in: the message says why."""

    def __init__(self, message: str, *, email: str = "") -> None:
        super().__init__(message)
        self.email = email


def claims_for(token: dict[str, Any]) -> dict[str, Any]:
    """The person's claims: the ID token's (checked by Authlib: signature, issuer, audience, nonce),
    with the userinfo endpoint's when the ID token carries no email (providers that conform to
    OpenID Connect Core put scope claims there only); the two must be about the same subject."""
    claims = dict(token.get("userinfo") or {})
    if "email" not in claims:
        extra = dict(client().userinfo(token=token))
        if extra.get("sub") != claims.get("sub"):
            raise SignInRefused("Your NHS Care Identity's answers did not match.")
        claims.update(extra)
    return claims


def user_for_claims(claims: dict[str, Any]) -> User:
    """The active account whose email address the provider vouched for. Never creates one."""
    email = str(claims.get("email") or "").strip()
    if not email:
        raise SignInRefused("Your NHS Care Identity did not give us an email address.")
    if settings.CIS2_REQUIRE_VERIFIED_EMAIL and claims.get("email_verified") is not True:
        raise SignInRefused("Your NHS Care Identity has not verified this email address.", email=email)
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        raise SignInRefused("There is no Smartcard Route account for this email address.", email=email)
    return user
