"""Bad input and forged tokens: always a 4xx with an RFC error, never a 5xx, nothing changed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from authserver.extensions import db
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    published_keys,
    sign_in,
    token_request,
)

FORM_ENDPOINTS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke"]


def row_counts() -> dict[str, int]:
    return {
        table.name: int(db.session.scalar(select(func.count()).select_from(table)) or 0)
        for table in db.metadata.sorted_tables
    }


@pytest.fixture
def rp(client: FlaskClient) -> RelyingParty:
    make_user()
    return make_relying_party(
        grant_types=("authorization_code", "refresh_token", "client_credentials")
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


Hostile = Callable[[RelyingParty], dict[str, Any]]

HOSTILE_REQUESTS: dict[str, Hostile] = {
    "nul byte": lambda rp: {"data": {"grant_type": "client_credentials\x00", "token": "a\x00b"}},
    "100 KB parameter": lambda rp: {"data": {"grant_type": "x" * 100_000, "token": "y" * 100_000}},
    "repeated parameter": lambda rp: {
        "data": MultiDict(
            [
                ("grant_type", "client_credentials"),
                ("grant_type", "refresh_token"),
                ("token", "a"),
                ("token", "b"),
            ]
        )
    },
    "json body": lambda rp: {"json": {"grant_type": "client_credentials", "token": "a"}},
    "malformed basic: not base64": lambda rp: {
        "data": {"grant_type": "client_credentials", "token": "a"},
        "headers": {"Authorization": "Basic %%%not-base64"},
    },
    "malformed basic: no colon": lambda rp: {
        "data": {"grant_type": "client_credentials", "token": "a"},
        "headers": {"Authorization": "Basic " + base64.b64encode(b"justanid").decode()},
    },
    "malformed basic: not utf-8": lambda rp: {
        "data": {"grant_type": "client_credentials", "token": "a"},
        "headers": {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},
    },
    "1 MB token": lambda rp: {
        "data": {
            "grant_type": "refresh_token",
            "refresh_token": "r" * 1_048_576,
            "token": "t" * 1_048_576,
        }
    },
    "non-utf-8 body": lambda rp: {
        "data": b"grant_type=\xff\xfe&token=\xc3\x28",
        "content_type": "application/x-www-form-urlencoded",
    },
    "parameters in the URL": lambda rp: {
        "query_string": {"grant_type": "client_credentials", "token": "a"}
    },
}


@pytest.mark.parametrize("endpoint", FORM_ENDPOINTS)
@pytest.mark.parametrize("name", list(HOSTILE_REQUESTS))
def test_hostile_requests_get_an_rfc_error_and_change_nothing(
    client: FlaskClient, rp: RelyingParty, endpoint: str, name: str
) -> None:
    kwargs = HOSTILE_REQUESTS[name](rp)
    if "headers" not in kwargs:
        kwargs["headers"] = rp.basic_auth()
    before = row_counts()

    response = client.post(endpoint, **kwargs)

    assert 400 <= response.status_code < 500, response.text
    assert response.json["error"] in {"invalid_request", "invalid_client", "unsupported_grant_type"}
    assert response.headers["Cache-Control"] == "no-store"
    assert row_counts() == before


@pytest.mark.parametrize(
    "query",
    [
        "client_id=%00&redirect_uri=x",
        "client_id=" + "x" * 100_000,
        "client_id=a&client_id=b",
        "client_id=%FF%FE&redirect_uri=%C3%28",
    ],
)
def test_hostile_authorization_requests_get_an_error_page(client: FlaskClient, query: str) -> None:
    response = client.get("/oauth/authorize?" + query)

    assert response.status_code == 400
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    "query",
    ["id_token_hint=%00", "id_token_hint=" + "x" * 100_000, "state=a&state=b", "id_token_hint=%FF"],
)
def test_hostile_logout_requests_are_handled(client: FlaskClient, query: str) -> None:
    assert client.get("/oauth/logout?" + query).status_code < 500


# --- forged tokens -------------------------------------------------------------------------


def genuine_access_token(client: FlaskClient, rp: RelyingParty) -> dict[str, Any]:
    sign_in(client)
    pkce = Pkce()
    body: dict[str, Any] = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    return body


def unverified_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def forge_alg_none(client: FlaskClient, token: str) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": jwt.get_unverified_header(token)["kid"]}
    return (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(unverified_claims(token)).encode())}."
    )


def forge_hs256_with_public_key(client: FlaskClient, token: str) -> str:
    kid = jwt.get_unverified_header(token)["kid"]
    public = published_keys(client)[kid].key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": kid}
    signing_input = (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(unverified_claims(token)).encode())}"
    )
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def _attacker_token(token: str, **header: Any) -> str:
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if header.pop("embed_jwk", False):
        header["jwk"] = jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    return jwt.encode(
        unverified_claims(token), attacker, algorithm="RS256", headers={"typ": "at+jwt", **header}
    )


def forge_embedded_jwk(client: FlaskClient, token: str) -> str:
    return _attacker_token(token, kid=jwt.get_unverified_header(token)["kid"], embed_jwk=True)


def forge_jku(client: FlaskClient, token: str) -> str:
    return _attacker_token(token, kid="attacker", jku="https://evil.example/jwks.json")


def forge_unknown_kid(client: FlaskClient, token: str) -> str:
    return _attacker_token(token, kid="no-such-kid")


FORGERIES = {
    "alg none": forge_alg_none,
    "HS256 keyed with our public key": forge_hs256_with_public_key,
    "embedded jwk header": forge_embedded_jwk,
    "jku header": forge_jku,
    "unknown kid": forge_unknown_kid,
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forged_access_tokens_are_refused_everywhere(
    client: FlaskClient, rp: RelyingParty, name: str
) -> None:
    forged = FORGERIES[name](client, genuine_access_token(client, rp)["access_token"])

    userinfo = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {forged}"})
    introspection = token_request(client, rp, {"token": forged}, path="/oauth/introspect")

    assert userinfo.status_code == 401
    assert introspection.json == {"active": False}


def test_id_token_is_refused_as_an_access_token(client: FlaskClient, rp: RelyingParty) -> None:
    id_token = genuine_access_token(client, rp)["id_token"]

    introspection = token_request(client, rp, {"token": id_token}, path="/oauth/introspect")

    assert introspection.json == {"active": False}
