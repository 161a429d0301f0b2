"""DPoP at the token endpoint (RFC 9449 §4, §5): bound tokens, refused proofs, bound refreshes.

Proofs are made with PyJWT (tests/support/dpop.py); issued tokens are verified with PyJWT
against the published JWKS, and `cnf.jkt` is compared with a thumbprint computed in the test.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.models.tokens import RefreshToken
from authserver.oauth.tokens import hash_refresh_token
from tests.support.dpop import TOKEN_URL, USERINFO_URL, ProofKey
from tests.support.oauth import (
    ISSUER,
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
    verify_jwt,
)

KEY_KINDS = {"ES256": ProofKey.es256, "EdDSA": ProofKey.ed25519, "RS256": ProofKey.rs256}


@pytest.fixture
def signed_in(client: FlaskClient) -> FlaskClient:
    make_user()
    sign_in(client)
    return client


def with_proof(client: FlaskClient, proof: str | None) -> FlaskClient:
    """The same client, sending ``proof`` as the DPoP header of its next requests."""
    client.environ_base.pop("HTTP_DPOP", None)
    if proof is not None:
        client.environ_base["HTTP_DPOP"] = proof
    return client


def code_exchange(
    client: FlaskClient, rp: RelyingParty, proof: str | None, **extra: str
) -> TestResponse:
    pkce = Pkce()
    code = obtain_code(client, rp, pkce)
    return exchange_code(with_proof(client, proof), rp, code, pkce, **extra)


def refresh(client: FlaskClient, rp: RelyingParty, token: str, proof: str | None) -> TestResponse:
    data = {"grant_type": "refresh_token", "refresh_token": token}
    return token_request(with_proof(client, proof), rp, data)


def stored_refresh_token(token: str) -> RefreshToken:
    db.session.expire_all()
    row = db.session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token))
    )
    assert row is not None
    return row


def assert_error(response: TestResponse, error: str, description: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json == {"error": error, "error_description": description}


@pytest.mark.parametrize("kind", sorted(KEY_KINDS))
def test_a_proof_gets_a_bound_access_token_and_refresh_token(
    signed_in: FlaskClient, kind: str
) -> None:
    key = KEY_KINDS[kind]()
    rp = make_relying_party(token_endpoint_auth_method="none")

    response = code_exchange(signed_in, rp, key.proof())

    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"
    claims = verify_jwt(signed_in, response.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["cnf"] == {"jkt": key.thumbprint}
    # RFC 9449 §5: a public client's refresh token is bound to the same key.
    assert stored_refresh_token(response.json["refresh_token"]).dpop_jkt == key.thumbprint


def test_without_a_proof_the_token_is_a_bearer_token(signed_in: FlaskClient) -> None:
    rp = make_relying_party(token_endpoint_auth_method="none")

    response = code_exchange(signed_in, rp, None)

    assert response.json["token_type"] == "Bearer"
    claims = verify_jwt(signed_in, response.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert "cnf" not in claims
    assert stored_refresh_token(response.json["refresh_token"]).dpop_jkt is None


def test_client_credentials_with_a_proof_is_bound(client: FlaskClient) -> None:
    key = ProofKey.es256()
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api.read")

    response = token_request(
        with_proof(client, key.proof()), rp, {"grant_type": "client_credentials"}
    )

    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"
    claims = verify_jwt(client, response.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["cnf"]["jkt"] == key.thumbprint


def _other_signer() -> Any:  # Any: a private key of the same kind
    return ProofKey.es256().private_key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# Each row: how the proof is made from an ES256 key, and the exact error description.
BAD_PROOFS: dict[str, tuple[dict[str, Any], str]] = {
    "wrong htm": ({"htm": "GET"}, "The proof's htm is not this request's method."),
    "other endpoint": ({"htu": USERINFO_URL}, "The proof's htu is not this endpoint's URL."),
    "other host": (
        {"htu": "https://attacker.example/oauth/token"},
        "The proof's htu is not this endpoint's URL.",
    ),
    # Seconds from the time the proof is made (the table is built when tests are collected).
    "stale iat": ({"iat_offset": -120}, "The proof's iat is not recent."),
    "iat from the future": ({"iat_offset": 120}, "The proof's iat is not recent."),
    "no jti": (
        {"claims": {"jti": None}},
        "The proof needs a jti (at most 255 characters) and an iat.",
    ),
    "iat not a number": (
        {"iat": float("nan")},
        "The proof needs a jti (at most 255 characters) and an iat.",
    ),
    "jti too long": (
        {"jti": "j" * 256},
        "The proof needs a jti (at most 255 characters) and an iat.",
    ),
    "wrong typ": ({"header": {"typ": "JWT"}}, "The proof's typ must be dpop+jwt."),
    "crv not a string": (
        {"header": {"jwk": "crv list"}},
        "The proof's jwk is not a key for ES256.",
    ),
    "jwk null": ({"header": {"jwk": None}}, "The proof's header needs a jwk."),
    "private jwk": ({"header": {"jwk": "private"}}, "The proof's jwk must be a public key."),
    "symmetric jwk": (
        {"header": {"jwk": {"kty": "oct", "k": _b64(b"k" * 32)}}},
        "The proof's jwk must be a public key.",
    ),
    "jwk of another kind": (
        {"header": {"jwk": "ed25519"}},
        "The proof's jwk is not a key for ES256.",
    ),
    "signed by another key": (
        {"signer": "other"},
        "The proof's signature does not verify.",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PROOFS))
def test_an_invalid_proof_is_invalid_dpop_proof(client: FlaskClient, case: str) -> None:
    options, description = BAD_PROOFS[case]
    key = ProofKey.es256()
    options = dict(options)
    header = dict(options.pop("header", {}))
    if header.get("jwk") == "private":
        header["jwk"] = key.private_jwk
    elif header.get("jwk") == "ed25519":
        header["jwk"] = ProofKey.ed25519().public_jwk
    elif header.get("jwk") == "crv list":
        header["jwk"] = {**key.public_jwk, "crv": ["P-256"]}
    if options.pop("signer", None) == "other":
        options["signer"] = _other_signer()
    if "iat_offset" in options:
        options["iat"] = time.time() + options.pop("iat_offset")
    proof = key.proof(header=header, **options)
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api")

    response = token_request(with_proof(client, proof), rp, {"grant_type": "client_credentials"})

    assert_error(response, "invalid_dpop_proof", description)


@pytest.mark.parametrize(
    ("proof", "description"),
    [
        ("not-a-jwt", "The DPoP proof is not a JWT."),
        ("a.b.c", "The DPoP proof is not a JWT."),
        ("one.two.three, four.five.six", "Send exactly one DPoP header."),
    ],
)
def test_a_malformed_header_is_invalid_dpop_proof(
    client: FlaskClient, proof: str, description: str
) -> None:
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api")

    response = token_request(with_proof(client, proof), rp, {"grant_type": "client_credentials"})

    assert_error(response, "invalid_dpop_proof", description)


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_or_symmetric_algorithms_are_refused(client: FlaskClient, alg: str) -> None:
    header = {"typ": "dpop+jwt", "jwk": ProofKey.es256().public_jwk}
    payload = {"jti": "x", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    proof = jwt.encode(payload, None if alg == "none" else "s" * 32, algorithm=alg, headers=header)
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api")

    response = token_request(with_proof(client, proof), rp, {"grant_type": "client_credentials"})

    assert_error(
        response, "invalid_dpop_proof", "Sign the proof with one of ES256 EdDSA PS256 RS256."
    )


def test_an_alg_that_is_not_a_string_is_refused(client: FlaskClient) -> None:
    # Put together by hand: PyJWT refuses to make such a header. Never verified, so the
    # signature does not matter.
    header = {"typ": "dpop+jwt", "alg": ["ES256"], "jwk": ProofKey.es256().public_jwk}
    payload = {"jti": "x", "htm": "POST", "htu": TOKEN_URL, "iat": int(time.time())}
    parts = (json.dumps(header).encode(), json.dumps(payload).encode(), b"signature")
    proof = ".".join(_b64(part) for part in parts)
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api")

    response = token_request(with_proof(client, proof), rp, {"grant_type": "client_credentials"})

    assert_error(
        response, "invalid_dpop_proof", "Sign the proof with one of ES256 EdDSA PS256 RS256."
    )


def test_two_dpop_headers_are_refused(client: FlaskClient) -> None:
    key = ProofKey.es256()
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api")
    data = {"grant_type": "client_credentials"}
    headers = [("DPoP", key.proof()), ("DPoP", key.proof()), *rp.basic_auth().items()]

    response = client.post("/oauth/token", data=data, headers=headers)

    assert_error(response, "invalid_dpop_proof", "Send exactly one DPoP header.")


def test_a_replayed_proof_is_refused(client: FlaskClient) -> None:
    key = ProofKey.ed25519()
    proof = key.proof()
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api")
    data = {"grant_type": "client_credentials"}

    first = token_request(with_proof(client, proof), rp, data)
    again = token_request(with_proof(client, proof), rp, data)

    assert first.status_code == 200
    assert_error(again, "invalid_dpop_proof", "The proof was used before.")


@pytest.mark.parametrize(
    "htu",
    [
        "HTTP://LOCALHOST/oauth/token",
        "http://localhost:80/oauth/token",
        "http://localhost/oauth/%74oken",
        "http://localhost/oauth/./token",
        "http://localhost/oauth/token?query=ignored#and-fragment",
    ],
)
def test_htu_is_compared_normalised(client: FlaskClient, htu: str) -> None:
    """§4.3: syntax- and scheme-based normalisation; query and fragment are ignored."""
    key = ProofKey.es256()
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api")

    response = token_request(
        with_proof(client, key.proof(htu=htu)), rp, {"grant_type": "client_credentials"}
    )

    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "DPoP"


def test_htu_follows_the_issuer_not_the_host_header(client: FlaskClient) -> None:
    """A request sent with another Host, carrying a proof for that host, is still refused: the
    expected htu is the issuer's token endpoint, never built from the request."""
    key = ProofKey.es256()
    rp = make_relying_party(redirect_uris=(), grant_types=("client_credentials",), scope="api")

    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"DPoP": key.proof(htu="http://other.example/oauth/token"), **rp.basic_auth()},
        base_url="http://other.example",
    )

    assert_error(response, "invalid_dpop_proof", "The proof's htu is not this endpoint's URL.")
