"""Edge cases found in review: each was a 500, a replay or a spec deviation before its fix."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from authserver.extensions import db
from tests.support.oauth import (
    ISSUER,
    Pkce,
    RelyingParty,
    authorize,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    redirect_params,
    sign_in,
    token_request,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture
def resource_server() -> RelyingParty:
    return make_relying_party(
        name="API", grant_types=("client_credentials",), redirect_uris=(), scope="api:read"
    )


def published_kid(client: FlaskClient) -> tuple[str, str]:
    key = client.get("/.well-known/jwks.json").json["keys"][0]
    return key["kid"], key["alg"]


@pytest.mark.parametrize(
    "claims_segment",
    [
        b64(b'{"sub": "x"}') + "é",  # non-ASCII in the token itself
        b64(b"[" * 5000),  # nesting deep enough to exhaust a recursive JSON parser
    ],
)
def test_crafted_tokens_are_refused_not_crashed_on(
    client: FlaskClient, claims_segment: str
) -> None:
    kid, alg = published_kid(client)
    header = b64(json.dumps({"alg": alg, "kid": kid, "typ": "at+jwt"}).encode())
    token = f"{header}.{claims_segment}.c2ln"

    userinfo = client.post("/oauth/userinfo", data={"access_token": token})
    logout = client.get("/oauth/logout?" + urlencode({"id_token_hint": token}))

    assert userinfo.status_code == 401
    assert logout.status_code < 500


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic\t" + base64.b64encode(b"\xff\xfe:ab").decode(),  # any whitespace, like Authlib
        "Basic " + base64.b64encode(b"%00:secret").decode(),  # NUL after URL-decoding
        "Basic " + base64.b64encode(b"x" * 300 + b":secret").decode(),  # an impossible id
    ],
)
@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
def test_malformed_basic_credentials_are_invalid_client(
    client: FlaskClient, authorization: str, path: str
) -> None:
    response = client.post(
        path,
        data={"grant_type": "client_credentials", "token": "t"},
        headers={"Authorization": authorization},
    )

    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_unknown_token_type_hint_is_ignored(
    client: FlaskClient, resource_server: RelyingParty
) -> None:
    """RFC 7009 §2.1 and RFC 7662 §2.1: the hint is only a hint."""
    token = token_request(client, resource_server, {"grant_type": "client_credentials"}).json[
        "access_token"
    ]

    introspection = token_request(
        client, resource_server, {"token": token, "token_type_hint": "bogus"}, "/oauth/introspect"
    )
    revocation = token_request(
        client, resource_server, {"token": token, "token_type_hint": "bogus"}, "/oauth/revoke"
    )

    assert introspection.json["active"] is True
    assert revocation.status_code == 200


def test_non_ascii_digits_in_max_age_are_invalid_request(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party()

    response = authorize(client, rp, Pkce(), max_age="²")

    assert redirect_params(response)["error"] == "invalid_request"


def test_overlong_nonce_is_invalid_request(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party()
    sign_in(client)

    response = authorize(client, rp, Pkce(), nonce="n" * 513)

    assert redirect_params(response)["error"] == "invalid_request"


def test_prompt_consent_asks_even_a_first_party_client(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party(skip_consent=True)
    sign_in(client)

    assert authorize(client, rp, Pkce(), prompt="consent").status_code == 200


def ed25519_client() -> tuple[ed25519.Ed25519PrivateKey, RelyingParty]:
    key = ed25519.Ed25519PrivateKey.generate()
    public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    public.update(kid="ed-1", alg="EdDSA", use="sig")
    rp = make_relying_party(
        grant_types=("client_credentials",),
        redirect_uris=(),
        scope="api:read",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [public]},
    )
    return key, rp


def assertion(key: Any, client_id: str, algorithm: str, kid: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER + "/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def test_eddsa_client_assertions_are_accepted_as_advertised(client: FlaskClient) -> None:
    key, rp = ed25519_client()

    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key, rp.client_id, "EdDSA", "ed-1"),
        },
    )

    assert response.status_code == 200, response.json


def test_client_assertion_jti_is_spent_even_where_nothing_commits(client: FlaskClient) -> None:
    """Introspection writes nothing, yet the assertion it accepted must not work twice."""
    key, rp = ed25519_client()
    data = {
        "token": "anything",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion(key, rp.client_id, "EdDSA", "ed-1"),
    }

    first = client.post("/oauth/introspect", data=data)
    replay = client.post("/oauth/introspect", data=data)

    assert first.status_code == 200
    assert replay.json["error"] == "invalid_client"


def test_revoking_a_family_catches_a_rotation_in_flight(app: Flask, client: FlaskClient) -> None:
    """RFC 9700 §4.14.2 under PostgreSQL READ COMMITTED: a reuse that lands while the family
    is rotating must also kill the token that rotation is creating."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL's row-level locking")
    make_user()
    sign_in(client)
    rp = make_relying_party()
    pkce = Pkce()
    first = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    second = refresh(client, rp, first["refresh_token"]).json
    slow_down_refresh_token_inserts()
    results: dict[str, Any] = {}

    def rotate_second() -> None:
        results["rotation"] = refresh(app.test_client(), rp, second["refresh_token"])

    rotation = threading.Thread(target=rotate_second)
    try:
        rotation.start()
        time.sleep(0.3)  # the rotation is now inside its transaction, asleep after its INSERT
        results["reuse"] = refresh(app.test_client(), rp, first["refresh_token"])
        rotation.join(timeout=20)
    finally:
        remove_slow_down()

    assert results["reuse"].json["error"] == "invalid_grant"
    escaped = results["rotation"].json.get("refresh_token")
    if escaped is not None:
        assert refresh(client, rp, escaped).json["error"] == "invalid_grant"


def refresh(client: FlaskClient, rp: RelyingParty, token: str) -> Any:
    return token_request(client, rp, {"grant_type": "refresh_token", "refresh_token": token})


def slow_down_refresh_token_inserts() -> None:
    """A storage-level delay (a trigger), so the rotation's transaction stays open a while."""
    db.session.execute(
        text(
            "CREATE FUNCTION test_slow_insert() RETURNS trigger AS "
            "$$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$ LANGUAGE plpgsql"
        )
    )
    db.session.execute(
        text(
            "CREATE TRIGGER test_slow_insert AFTER INSERT ON refresh_tokens "
            "FOR EACH ROW EXECUTE FUNCTION test_slow_insert()"
        )
    )
    db.session.commit()


def remove_slow_down() -> None:
    db.session.rollback()
    db.session.execute(text("DROP TRIGGER IF EXISTS test_slow_insert ON refresh_tokens"))
    db.session.execute(text("DROP FUNCTION IF EXISTS test_slow_insert()"))
    db.session.commit()
