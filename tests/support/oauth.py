"""Driving the OAuth/OIDC endpoints through the Flask test client, as a relying party would.

Tokens are verified with PyJWT against the JWKS the server publishes, never with our own code.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.accounts.lifecycle import create_user
from authserver.models.clients import Client
from authserver.models.users import User
from authserver.oauth.clients import ClientRegistration, register_client

ISSUER = "http://localhost"
REDIRECT_URI = "https://rp.example.com/callback"
PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class RelyingParty:
    """A registered client plus what it needs to run the flow."""

    client: Client
    secret: str | None
    redirect_uri: str = REDIRECT_URI
    # Plain copies, usable after the ORM session that loaded `client` is gone.
    client_id: str = field(init=False)
    auth_method: str = field(init=False)

    def __post_init__(self) -> None:
        self.client_id = self.client.client_id
        self.auth_method = self.client.token_endpoint_auth_method

    def basic_auth(self) -> dict[str, str]:
        assert self.secret is not None
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_user(email: str = "ada@example.com", *, name: str | None = "Ada Lovelace") -> User:
    return create_user(email, PASSWORD, name=name)


def make_relying_party(**changes: Any) -> RelyingParty:
    registration: dict[str, Any] = {
        "name": "Example App",
        "redirect_uris": (REDIRECT_URI,),
        "grant_types": ("authorization_code", "refresh_token"),
        "scope": "openid profile email offline_access",
        "post_logout_redirect_uris": ("https://rp.example.com/logged-out",),
    }
    registration.update(changes)
    client, secret = register_client(ClientRegistration(**registration))
    redirect_uris = registration["redirect_uris"]
    return RelyingParty(client, secret, redirect_uris[0] if redirect_uris else REDIRECT_URI)


def csrf_token(page: TestResponse) -> str:
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(
    browser: FlaskClient, email: str = "ada@example.com", password: str = PASSWORD
) -> TestResponse:
    page = browser.get("/login")
    return browser.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(page)},
    )


def authorization_params(
    rp: RelyingParty,
    pkce: Pkce | None,
    *,
    scope: str = "openid profile email offline_access",
    state: str = "state-123",
    nonce: str | None = "nonce-456",
    **extra: str,
) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": scope,
        "state": state,
    }
    if nonce is not None:
        params["nonce"] = nonce
    if pkce is not None:
        params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    params.update(extra)
    return params


def authorize(
    browser: FlaskClient, rp: RelyingParty, pkce: Pkce | None, **kwargs: Any
) -> TestResponse:
    return browser.get("/oauth/authorize?" + urlencode(authorization_params(rp, pkce, **kwargs)))


def consent(browser: FlaskClient, page: TestResponse, decision: str = "allow") -> TestResponse:
    request_field = re.search(r'name="authorization_request" value="([^"]*)"', page.text)
    assert request_field, "not a consent page"
    return browser.post(
        "/oauth/authorize/consent",
        data={
            "csrf_token": csrf_token(page),
            "authorization_request": _unescape(request_field.group(1)),
            "decision": decision,
        },
    )


def _unescape(html_value: str) -> str:
    return (
        html_value.replace("&amp;", "&")
        .replace("&#34;", '"')
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
    )


def redirect_params(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return {name: values[0] for name, values in query.items()}


def obtain_code(browser: FlaskClient, rp: RelyingParty, pkce: Pkce | None, **kwargs: Any) -> str:
    """Run the browser part of the flow for a signed-in user, consenting if asked."""
    response = authorize(browser, rp, pkce, **kwargs)
    if response.status_code == 200:
        response = consent(browser, response)
    return redirect_params(response)["code"]


def exchange_code(
    browser: FlaskClient, rp: RelyingParty, code: str, pkce: Pkce | None, **extra: str
) -> TestResponse:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri}
    if pkce is not None:
        data["code_verifier"] = pkce.verifier
    data.update(extra)
    return token_request(browser, rp, data)


def token_request(
    browser: FlaskClient, rp: RelyingParty, data: dict[str, str], path: str = "/oauth/token"
) -> TestResponse:
    headers: dict[str, str] = {}
    if rp.secret is not None and rp.auth_method == "client_secret_basic":
        headers = rp.basic_auth()
    elif rp.secret is not None:
        data = {**data, "client_id": rp.client_id, "client_secret": rp.secret}
    else:
        data = {**data, "client_id": rp.client_id}
    return browser.post(path, data=data, headers=headers)


def published_keys(browser: FlaskClient) -> jwt.PyJWKSet:
    return jwt.PyJWKSet.from_dict(browser.get("/.well-known/jwks.json").json)


def verify_jwt(browser: FlaskClient, token: str, *, audience: str, typ: str) -> dict[str, Any]:
    """Verify with PyJWT against the published JWKS, as any relying party would."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == typ
    key = published_keys(browser)[header["kid"]]
    claims: dict[str, Any] = jwt.decode(
        token, key=key, algorithms=[header["alg"]], audience=audience, issuer=ISSUER
    )
    return claims


def left_half_hash(value: str, alg: str) -> str:
    digest = hashlib.sha512 if alg == "EdDSA" else hashlib.sha256
    full = digest(value.encode()).digest()
    return base64.urlsafe_b64encode(full[: len(full) // 2]).decode().rstrip("=")
