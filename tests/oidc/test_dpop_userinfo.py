"""Userinfo with DPoP-bound tokens (RFC 9449 §7), introspection's `cnf`, discovery.

Tokens are obtained through the code flow with a proof made by PyJWT; every refusal asserts the
status, the exact challenge and the JSON error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.config import app_settings
from authserver.oauth.apis import ApiRegistration, register_api
from tests.conftest import AppFactory
from tests.oauth.test_dpop_token import code_exchange, with_proof
from tests.support.dpop import TOKEN_URL, USERINFO_URL, ProofKey
from tests.support.oauth import (
    Pkce,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
)

ALGS = 'algs="ES256 EdDSA PS256 RS256"'
ORDERS_API = "https://orders.example.com/"


@dataclass(frozen=True)
class Bound:
    key: ProofKey
    token: str


@pytest.fixture(params=["ES256", "EdDSA"])
def bound(request: pytest.FixtureRequest, client: FlaskClient) -> Bound:
    key = ProofKey.es256() if request.param == "ES256" else ProofKey.ed25519()
    make_user()
    sign_in(client)
    rp = make_relying_party(token_endpoint_auth_method="none")
    response = code_exchange(client, rp, key.proof())
    assert response.json["token_type"] == "DPoP"
    return Bound(key, response.json["access_token"])


def userinfo(
    client: FlaskClient, token: str, proof: str | None, *, scheme: str = "DPoP", method: str = "GET"
) -> TestResponse:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return with_proof(client, None).open("/oauth/userinfo", method=method, headers=headers)


def assert_challenge(response: TestResponse, error: str, description: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers.get_all("WWW-Authenticate") == [
        f'DPoP {ALGS}, error="{error}", error_description="{description}"'
    ]
    assert response.json == {"error": error, "error_description": description}


def test_a_bound_token_works_with_a_proof(client: FlaskClient, bound: Bound) -> None:
    proof = bound.key.proof(htm="GET", htu=USERINFO_URL, access_token=bound.token)

    response = userinfo(client, bound.token, proof)

    assert response.status_code == 200, response.json
    assert response.json["email"] == "ada@example.com"


def test_post_works_with_a_post_proof(client: FlaskClient, bound: Bound) -> None:
    proof = bound.key.proof(htm="POST", htu=USERINFO_URL, access_token=bound.token)

    response = userinfo(client, bound.token, proof, method="POST")

    assert response.status_code == 200, response.json


def test_a_bound_token_without_a_proof_is_refused(client: FlaskClient, bound: Bound) -> None:
    response = userinfo(client, bound.token, None)

    assert_challenge(response, "invalid_dpop_proof", "A DPoP proof is required with this token.")


def test_a_bound_token_sent_as_bearer_is_refused(client: FlaskClient, bound: Bound) -> None:
    # Even with a good proof alongside: §7.2, the scheme itself is wrong.
    proof = bound.key.proof(htm="GET", htu=USERINFO_URL, access_token=bound.token)

    response = userinfo(client, bound.token, proof, scheme="Bearer")

    assert_challenge(
        response, "invalid_token", "This token is DPoP-bound: send it with the DPoP scheme."
    )


def test_a_replayed_proof_is_refused(client: FlaskClient, bound: Bound) -> None:
    proof = bound.key.proof(htm="GET", htu=USERINFO_URL, access_token=bound.token)

    first = userinfo(client, bound.token, proof)
    again = userinfo(client, bound.token, proof)

    assert first.status_code == 200
    assert_challenge(again, "invalid_dpop_proof", "The proof was used before.")


BAD_PROOFS: dict[str, tuple[dict[str, Any], str]] = {
    "wrong htm": ({"htm": "POST"}, "The proof's htm is not this request's method."),
    "token endpoint htu": ({"htu": TOKEN_URL}, "The proof's htu is not this endpoint's URL."),
    "stale iat": ({"iat": time.time() - 300}, "The proof's iat is not recent."),
    "no ath": ({"access_token": None}, "The proof's ath does not match the access token."),
    "ath of another token": (
        {"access_token": "another-token"},
        "The proof's ath does not match the access token.",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PROOFS))
def test_a_bad_proof_is_refused(client: FlaskClient, bound: Bound, case: str) -> None:
    changes, description = BAD_PROOFS[case]
    options: dict[str, Any] = {"htm": "GET", "htu": USERINFO_URL, "access_token": bound.token}
    options.update(changes)

    response = userinfo(client, bound.token, bound.key.proof(**options))

    assert_challenge(response, "invalid_dpop_proof", description)


def test_a_proof_by_another_key_is_refused(client: FlaskClient, bound: Bound) -> None:
    thief = ProofKey.es256()
    proof = thief.proof(htm="GET", htu=USERINFO_URL, access_token=bound.token)

    response = userinfo(client, bound.token, proof)

    assert_challenge(
        response,
        "invalid_dpop_proof",
        "The proof's key is not the key this token is bound to.",
    )


def test_an_unbound_token_works_as_bearer_but_not_as_dpop(client: FlaskClient) -> None:
    make_user()
    sign_in(client)
    rp = make_relying_party(token_endpoint_auth_method="none")
    token = code_exchange(client, rp, None).json["access_token"]
    key = ProofKey.es256()

    as_bearer = userinfo(client, token, None, scheme="Bearer")
    as_dpop = userinfo(client, token, key.proof(htm="GET", htu=USERINFO_URL, access_token=token))

    assert as_bearer.status_code == 200
    assert_challenge(
        as_dpop, "invalid_token", "This token is not DPoP-bound: send it as a Bearer token."
    )


def test_no_credentials_are_challenged_in_both_schemes(client: FlaskClient) -> None:
    response = client.get("/oauth/userinfo")

    assert response.status_code == 401
    assert response.headers.get_all("WWW-Authenticate") == [
        'Bearer realm="authserver"',
        f"DPoP {ALGS}",
    ]


def test_userinfo_demands_a_nonce_when_the_setting_is_on(
    app: Flask, make_app: AppFactory, bound: Bound
) -> None:
    instance = make_app(encryption_keys=app_settings(app).encryption_keys, dpop_nonce_required=True)
    client = instance.test_client()

    def proof(nonce: str | None = None) -> str:
        return bound.key.proof(htm="GET", htu=USERINFO_URL, access_token=bound.token, nonce=nonce)

    first = userinfo(client, bound.token, proof())
    second = userinfo(client, bound.token, proof(first.headers["DPoP-Nonce"]))

    assert_challenge(first, "use_dpop_nonce", "Use the DPoP-Nonce this response carries.")
    assert first.headers["DPoP-Nonce"]
    assert second.status_code == 200, second.json


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_introspection_shows_the_binding(client: FlaskClient, alg: str) -> None:
    """The API's resource server introspects a bound token for its API (RFC 7662 §4)."""
    key = ProofKey.es256() if alg == "ES256" else ProofKey.ed25519()
    register_api(ApiRegistration(ORDERS_API, "Orders", ["orders:read"]))
    resource_server = make_relying_party(
        redirect_uris=(),
        grant_types=("client_credentials",),
        scope="",
        introspect_apis=(ORDERS_API,),
    )
    make_user()
    sign_in(client)
    rp = make_relying_party(token_endpoint_auth_method="none", scope="openid orders:read")
    pkce = Pkce()
    code = obtain_code(client, rp, pkce, scope="openid orders:read", resource=ORDERS_API)
    issued = exchange_code(with_proof(client, key.proof()), rp, code, pkce).json

    response = token_request(
        with_proof(client, None), resource_server, {"token": issued["access_token"]},
        path="/oauth/introspect",
    )  # fmt: skip

    assert response.json["active"] is True
    assert response.json["aud"] == ORDERS_API
    assert response.json["token_type"] == "DPoP"
    assert response.json["cnf"] == {"jkt": key.thumbprint}


def test_discovery_lists_the_proof_algorithms(client: FlaskClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json

    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA", "PS256", "RS256"]
