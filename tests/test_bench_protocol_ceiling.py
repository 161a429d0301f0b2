"""The protocol ceiling of `make bench` (bench/protocol_ceiling_app.py), driven in-process: its
tokens verify with PyJWT and its introspection tells active from inactive. Its speed is measured
only by `make bench`."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from bench import protocol_ceiling_app

ISSUER = "http://127.0.0.1:5999"
SCOPE = "api:read"
LIFETIME = 600
CLAIMS = {"iss", "sub", "aud", "client_id", "iat", "exp", "jti", "scope"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    # Module scope: an RSA key takes a while to make, and the app never changes its config.
    return protocol_ceiling_app.make_config(issuer=ISSUER, scope=SCOPE, lifetime_seconds=LIFETIME)


@pytest.fixture
def app(config: dict[str, Any]) -> Flask:
    return protocol_ceiling_app.create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def basic(config: dict[str, Any], alg: str, secret: str | None = None) -> dict[str, str]:
    entry = next(c for c in config["clients"] if c["alg"] == alg)
    raw = f"{entry['client_id']}:{secret or entry['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def jwk_for(config: dict[str, Any], alg: str) -> jwt.PyJWK:
    """The app's private key for ``alg``, read by PyJWT (not by the library that signed)."""
    found = next(key for key in config["keys"]["keys"] if key["alg"] == alg)
    return jwt.PyJWK(found)


def issue(client: FlaskClient, config: dict[str, Any], alg: str) -> dict[str, Any]:
    reply = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(config, alg)
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    body: dict[str, Any] = reply.get_json()
    return body


def introspect(client: FlaskClient, config: dict[str, Any], token: str) -> Any:
    reply = client.post(
        "/oauth/introspect",
        data={"token": token, "token_type_hint": "access_token"},
        headers=basic(config, "ES256"),
    )
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return reply.get_json()


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_client_credentials_issue_an_rfc9068_token_that_verifies_with_the_public_key(
    client: FlaskClient, config: dict[str, Any], alg: str
) -> None:
    body = issue(client, config, alg)

    assert body.keys() == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", LIFETIME, SCOPE)
    key = jwk_for(config, alg)
    header = jwt.get_unverified_header(body["access_token"])
    assert header == {"alg": alg, "typ": "at+jwt", "kid": key.key_id}
    claims = jwt.decode(
        body["access_token"],
        key.key.public_key(),
        algorithms=[alg],
        audience=ISSUER,
        issuer=ISSUER,
    )
    client_id = protocol_ceiling_app.client_id_for(alg)
    assert claims.keys() == CLAIMS
    assert (claims["sub"], claims["client_id"], claims["scope"]) == (client_id, client_id, SCOPE)
    assert claims["exp"] - claims["iat"] == LIFETIME
    assert abs(claims["iat"] - time.time()) < 60


def test_a_wrong_client_secret_is_refused(client: FlaskClient, config: dict[str, Any]) -> None:
    reply = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(config, "ES256", secret="not-the-secret"),
    )

    assert reply.status_code == 401
    assert reply.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_introspection_of_an_issued_token_is_active_with_its_claims(
    client: FlaskClient, config: dict[str, Any], alg: str
) -> None:
    token = issue(client, config, alg)["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})

    answer = introspect(client, config, token)

    assert answer == {"active": True, "token_type": "Bearer", **claims}


def forged(config: dict[str, Any], **changes: Any) -> str:
    """A token signed with the app's ES256 key (or ``key``), with claims changed."""
    key: jwt.PyJWK = changes.pop("key", jwk_for(config, "ES256"))
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "ceiling-es256",
        "aud": ISSUER,
        "client_id": "ceiling-es256",
        "iat": now,
        "exp": now + LIFETIME,
        "jti": "j" * 22,
        "scope": SCOPE,
        **changes,
    }
    headers = {"typ": "at+jwt", "kid": key.key_id}
    return jwt.encode(claims, key.key, algorithm="ES256", headers=headers)


def test_a_token_signed_with_the_key_by_pyjwt_is_active(
    client: FlaskClient, config: dict[str, Any]
) -> None:
    """The helper below makes tokens the app accepts, so each refusal is for its one change."""
    assert introspect(client, config, forged(config))["active"] is True


def other_es256_key() -> jwt.PyJWK:
    other = protocol_ceiling_app.make_config(issuer=ISSUER, scope=SCOPE, lifetime_seconds=1)
    return jwk_for(other, "ES256")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda c: forged(c, exp=int(time.time()) - 5), id="expired"),
        pytest.param(lambda c: forged(c, iss="http://127.0.0.1:1"), id="another-issuer"),
        pytest.param(lambda c: forged(c, key=other_es256_key()), id="unknown-key"),
        pytest.param(lambda c: forged(c)[:-6] + "AAAAAA", id="bad-signature"),
        pytest.param(lambda c: "not-a-jwt", id="not-a-jwt"),
    ],
)
def test_introspection_answers_inactive_and_nothing_else(
    client: FlaskClient, config: dict[str, Any], make_token: Any
) -> None:
    assert introspect(client, config, make_token(config)) == {"active": False}


def test_introspection_needs_client_authentication(
    client: FlaskClient, config: dict[str, Any]
) -> None:
    token = issue(client, config, "ES256")["access_token"]

    reply = client.post("/oauth/introspect", data={"token": token})

    assert reply.status_code == 401
    assert reply.get_json()["error"] == "invalid_client"


def test_every_worker_reads_the_same_keys_from_a_private_file(
    tmp_path: Path, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ceiling.json"
    protocol_ceiling_app.write_config(path, config)
    monkeypatch.setenv(protocol_ceiling_app.CONFIG_ENV, str(path))

    first = protocol_ceiling_app.create_app().test_client()
    second = protocol_ceiling_app.create_app().test_client()

    assert os.stat(path).st_mode & 0o777 == 0o600
    token = issue(first, config, "ES256")["access_token"]
    assert introspect(second, config, token)["active"] is True
