"""Registering clients through the service: what is refused, and why."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.models.audit import AuditEvent
from authserver.models.clients import Client
from authserver.oauth.clients import (
    ClientRegistration,
    delete_client,
    describe_client,
    new_client_id,
    register_client,
    rotate_client_secret,
)
from authserver.oauth.errors import ClientRegistrationError
from tests.support.oauth import ISSUER

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def rsa_key(size: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=size)


def public_rsa_jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": "rp-key-1", "alg": "RS256", "use": "sig"}


def key_jwt_registration(jwks: object, **changes: Any) -> ClientRegistration:
    fields: dict[str, Any] = {
        "name": "Backend",
        "grant_types": ("client_credentials",),
        "scope": "api:read",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": jwks,
    }
    fields.update(changes)
    return ClientRegistration(**fields)


def stored_clients() -> int:
    return db.session.scalar(select(func.count()).select_from(Client)) or 0


def test_client_ids_never_look_like_a_command_line_option() -> None:
    # With a dash allowed first, 1 in 64 ids would: 5000 draws make a miss impossible in practice.
    ids = [new_client_id() for _ in range(5000)]

    assert not [client_id for client_id in ids if client_id.startswith("-")]
    assert len(set(ids)) == len(ids)
    assert all(len(client_id) == 24 for client_id in ids)


def test_each_change_commits_with_its_audit_event() -> None:
    client, _ = register_client(
        ClientRegistration(name="Backend", grant_types=("client_credentials",)), via="cli"
    )
    client_id = client.client_id
    rotate_client_secret(client_id)
    delete_client(client_id, via="cli")
    db.session.rollback()  # nothing may be left uncommitted for a caller to forget

    events = db.session.execute(
        select(AuditEvent.event, AuditEvent.client_id, AuditEvent.detail).order_by(AuditEvent.id)
    ).all()
    assert [tuple(row) for row in events] == [
        ("client:create", client_id, {"via": "cli"}),
        ("client:rotate-secret", client_id, {}),
        ("client:delete", client_id, {"via": "cli"}),
    ]


def test_public_rsa_ec_and_okp_keys_are_accepted() -> None:
    ec_jwk = jwt.algorithms.ECAlgorithm.to_jwk(
        ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True
    )
    okp_jwk = jwt.algorithms.OKPAlgorithm.to_jwk(
        ed25519.Ed25519PrivateKey.generate().public_key(), as_dict=True
    )
    jwks = {"keys": [public_rsa_jwk(rsa_key()), ec_jwk, okp_jwk]}

    client, secret = register_client(key_jwt_registration(jwks))

    assert secret is None
    assert client.jwks == jwks


@pytest.mark.parametrize(
    ("jwks", "reason"),
    [
        ({"keys": []}, "expected a JWK Set: a JSON object with a non-empty 'keys' list"),
        ({"kty": "RSA"}, "expected a JWK Set: a JSON object with a non-empty 'keys' list"),
        ({"keys": ["not a key"]}, "every key needs a 'kty' of RSA, EC, OKP"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}, "every key needs a 'kty' of RSA, EC, OKP"),
        ({"keys": [{"kty": "RSA", "e": "AQAB"}]}, "a key is not usable (key_parameter: 'n'"),
        (
            {"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]},
            "a key is not usable (",
        ),
    ],
)
def test_a_jwk_set_that_would_not_parse_is_refused(jwks: object, reason: str) -> None:
    with pytest.raises(ClientRegistrationError) as refused:
        register_client(key_jwt_registration(jwks))

    assert f"jwks: {reason}" in str(refused.value)
    assert stored_clients() == 0


def test_a_weak_rsa_key_is_refused() -> None:
    with pytest.raises(ClientRegistrationError, match=r"jwks: a key is not usable \(Key size"):
        register_client(key_jwt_registration({"keys": [public_rsa_jwk(rsa_key(1024))]}))


def test_private_key_material_is_refused() -> None:
    private = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key(), as_dict=True)

    with pytest.raises(ClientRegistrationError) as refused:
        register_client(key_jwt_registration({"keys": [private]}))

    assert str(refused.value) == (
        "jwks: contains private key material: register the public keys only"
    )
    assert stored_clients() == 0


def test_jwks_without_private_key_jwt_is_refused() -> None:
    registration = key_jwt_registration(
        {"keys": [public_rsa_jwk(rsa_key())]}, token_endpoint_auth_method="client_secret_basic"
    )

    with pytest.raises(ClientRegistrationError, match=r"^jwks: only used with private_key_jwt$"):
        register_client(registration)


def test_unusable_stored_keys_are_invalid_client_not_a_server_error(client: FlaskClient) -> None:
    # A row written before registration checked keys (or by hand): authentication must fail
    # cleanly for that client.
    registered, _ = register_client(key_jwt_registration({"keys": [public_rsa_jwk(rsa_key())]}))
    registered.jwks = {"keys": [{"kty": "RSA", "e": "AQAB"}]}
    db.session.commit()
    now = int(time.time())
    claims = {
        "iss": registered.client_id,
        "sub": registered.client_id,
        "aud": ISSUER + "/oauth/token",
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }

    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": jwt.encode(claims, rsa_key(), algorithm="RS256"),
        },
    )

    assert response.status_code == 400
    assert response.json == {
        "error": "invalid_client",
        "error_description": "The client's registered keys are unusable.",
    }


def test_per_client_lifetimes_are_stored_and_described() -> None:
    client, _ = register_client(
        ClientRegistration(
            name="Backend",
            grant_types=("client_credentials",),
            access_token_ttl=86400,
            id_token_ttl=1,
            refresh_token_ttl=365 * 86400,
        )
    )

    described = describe_client(client)

    assert (client.access_token_ttl, client.id_token_ttl, client.refresh_token_ttl) == (
        86400,
        1,
        365 * 86400,
    )
    assert described["access_token_ttl"] == 86400
    assert described["id_token_ttl"] == 1
    assert described["refresh_token_ttl"] == 365 * 86400


def test_lifetimes_default_to_the_server_settings() -> None:
    client, _ = register_client(
        ClientRegistration(name="Backend", grant_types=("client_credentials",))
    )

    described = describe_client(client)

    assert described["access_token_ttl"] is None
    assert described["id_token_ttl"] is None
    assert described["refresh_token_ttl"] is None


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("access_token_ttl", 0, "must be from 1 to 86400 seconds (1 day), got 0"),
        ("access_token_ttl", 86401, "must be from 1 to 86400 seconds (1 day), got 86401"),
        ("id_token_ttl", -5, "must be from 1 to 86400 seconds (1 day), got -5"),
        ("id_token_ttl", 86401, "must be from 1 to 86400 seconds (1 day), got 86401"),
        ("refresh_token_ttl", 0, "must be from 1 to 31536000 seconds (365 days), got 0"),
        (
            "refresh_token_ttl",
            365 * 86400 + 1,
            "must be from 1 to 31536000 seconds (365 days), got 31536001",
        ),
    ],
)
def test_lifetimes_out_of_bounds_are_refused(field: str, value: int, reason: str) -> None:
    registration = ClientRegistration(
        name="Backend", grant_types=("client_credentials",), **{field: value}
    )

    with pytest.raises(ClientRegistrationError) as refused:
        register_client(registration)

    assert str(refused.value) == f"{field}: {reason}"
    assert stored_clients() == 0
