"""DPoP rules that depend on the client, the refresh token, the nonce and other instances
(RFC 9449 §5, §8, §11.1)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from authserver.config import app_settings
from tests.conftest import AppFactory
from tests.oauth.test_dpop_token import (
    assert_error,
    code_exchange,
    refresh,
    stored_refresh_token,
    with_proof,
)
from tests.support.dpop import ProofKey
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

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


@pytest.fixture
def signed_in(client: FlaskClient) -> FlaskClient:
    make_user()
    sign_in(client)
    return client


def machine_client(**changes: object) -> RelyingParty:
    return make_relying_party(
        redirect_uris=(), grant_types=("client_credentials",), scope="api.read", **changes
    )


# --- a client registered with --require-dpop (§5.2) ---------------------------------------------


def test_a_require_dpop_client_is_refused_without_a_proof(client: FlaskClient) -> None:
    rp = machine_client(require_dpop=True)

    refused = token_request(with_proof(client, None), rp, CLIENT_CREDENTIALS)
    bound = token_request(with_proof(client, ProofKey.es256().proof()), rp, CLIENT_CREDENTIALS)

    assert_error(refused, "invalid_dpop_proof", "This client must send a DPoP proof.")
    assert bound.status_code == 200
    assert bound.json["token_type"] == "DPoP"


def test_a_refused_code_exchange_leaves_the_code_usable(signed_in: FlaskClient) -> None:
    """The refusal comes after the code was claimed, in a transaction that is never committed."""
    key = ProofKey.es256()
    rp = make_relying_party(token_endpoint_auth_method="none", require_dpop=True)
    pkce = Pkce()
    code = obtain_code(signed_in, rp, pkce)

    refused = exchange_code(with_proof(signed_in, None), rp, code, pkce)
    accepted = exchange_code(with_proof(signed_in, key.proof()), rp, code, pkce)

    assert_error(refused, "invalid_dpop_proof", "This client must send a DPoP proof.")
    assert accepted.status_code == 200, accepted.json
    claims = verify_jwt(signed_in, accepted.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["cnf"] == {"jkt": key.thumbprint}


# --- refresh tokens (§5) ------------------------------------------------------------------------


def test_a_public_clients_refresh_token_needs_a_proof_with_its_key(signed_in: FlaskClient) -> None:
    key, other = ProofKey.ed25519(), ProofKey.es256()
    rp = make_relying_party(token_endpoint_auth_method="none")
    issued = code_exchange(signed_in, rp, key.proof()).json

    without_proof = refresh(signed_in, rp, issued["refresh_token"], None)
    other_key = refresh(signed_in, rp, issued["refresh_token"], other.proof())
    same_key = refresh(signed_in, rp, issued["refresh_token"], key.proof())

    assert_error(
        without_proof,
        "invalid_grant",
        "The refresh token is DPoP-bound: send a proof with its key.",
    )
    assert_error(other_key, "invalid_grant", "The refresh token is bound to another DPoP key.")
    # Neither refusal used the token up: the right key still rotates it.
    assert same_key.status_code == 200, same_key.json
    assert same_key.json["token_type"] == "DPoP"
    claims = verify_jwt(signed_in, same_key.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["cnf"] == {"jkt": key.thumbprint}
    assert stored_refresh_token(same_key.json["refresh_token"]).dpop_jkt == key.thumbprint


def test_a_confidential_clients_refresh_token_is_not_bound(signed_in: FlaskClient) -> None:
    """It authenticates on every refresh; each access token is bound to the key of its own
    request, or to none."""
    key, later_key = ProofKey.es256(), ProofKey.ed25519()
    rp = make_relying_party()
    issued = code_exchange(signed_in, rp, key.proof()).json

    assert stored_refresh_token(issued["refresh_token"]).dpop_jkt is None
    as_bearer = refresh(signed_in, rp, issued["refresh_token"], None)
    assert as_bearer.status_code == 200 and as_bearer.json["token_type"] == "Bearer"
    rebound = refresh(signed_in, rp, as_bearer.json["refresh_token"], later_key.proof())
    claims = verify_jwt(signed_in, rebound.json["access_token"], audience=ISSUER, typ="at+jwt")
    assert claims["cnf"] == {"jkt": later_key.thumbprint}


# --- server nonces (§8) -------------------------------------------------------------------------


def another_instance(app: Flask, make_app: AppFactory, **changes: object) -> Flask:
    """Another app on the same database, as a second server process would be: the same
    secrets (its signing keys are the ones ``app`` made, encrypted under its keys)."""
    return make_app(encryption_keys=app_settings(app).encryption_keys, **changes)


@pytest.fixture
def nonce_app(app: Flask, make_app: AppFactory) -> Flask:
    return another_instance(app, make_app, dpop_nonce_required=True)


def test_the_token_endpoint_hands_out_a_nonce_then_accepts_it(nonce_app: Flask) -> None:
    key = ProofKey.es256()
    rp = machine_client()
    client = nonce_app.test_client()

    first = token_request(with_proof(client, key.proof()), rp, CLIENT_CREDENTIALS)
    nonce = first.headers["DPoP-Nonce"]
    second = token_request(with_proof(client, key.proof(nonce=nonce)), rp, CLIENT_CREDENTIALS)

    assert_error(first, "use_dpop_nonce", "Use the DPoP-Nonce this response carries.")
    assert second.status_code == 200, second.json
    assert second.json["token_type"] == "DPoP"
    assert second.headers["DPoP-Nonce"]  # the one to use next (§8.2)


def test_a_nonce_lasts_into_the_next_window_and_no_further(nonce_app: Flask) -> None:
    key = ProofKey.es256()
    rp = machine_client()
    client = nonce_app.test_client()
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        nonce = token_request(with_proof(client, key.proof()), rp, CLIENT_CREDENTIALS).headers[
            "DPoP-Nonce"
        ]
    # Windows are 300 s: a nonce is good in its own window and the next.
    with time_machine.travel(start + timedelta(seconds=300), tick=False):
        next_window = token_request(
            with_proof(client, key.proof(nonce=nonce)), rp, CLIENT_CREDENTIALS
        )
    with time_machine.travel(start + timedelta(seconds=600), tick=False):
        too_late = token_request(with_proof(client, key.proof(nonce=nonce)), rp, CLIENT_CREDENTIALS)

    assert next_window.status_code == 200, next_window.json
    assert_error(too_late, "use_dpop_nonce", "Use the DPoP-Nonce this response carries.")
    assert too_late.headers["DPoP-Nonce"] != nonce


def test_a_nonce_from_another_instance_is_accepted(app: Flask, make_app: AppFactory) -> None:
    """No shared state: instances with the same secret key make the same nonces."""
    key = ProofKey.es256()
    rp = machine_client()
    one, two = (
        another_instance(app, make_app, dpop_nonce_required=True).test_client() for _ in "12"
    )

    nonce = token_request(with_proof(one, key.proof()), rp, CLIENT_CREDENTIALS).headers[
        "DPoP-Nonce"
    ]
    response = token_request(with_proof(two, key.proof(nonce=nonce)), rp, CLIENT_CREDENTIALS)

    assert response.status_code == 200, response.json


def test_without_the_setting_no_nonce_is_sent_or_needed(client: FlaskClient) -> None:
    response = token_request(
        with_proof(client, ProofKey.es256().proof()), machine_client(), CLIENT_CREDENTIALS
    )

    assert response.status_code == 200
    assert "DPoP-Nonce" not in response.headers


# --- one jti, two instances (§11.1) -------------------------------------------------------------


def test_a_proof_used_at_one_instance_is_refused_at_another(
    app: Flask, make_app: AppFactory
) -> None:
    key = ProofKey.es256()
    proof = key.proof()
    rp = machine_client()
    one, two = app.test_client(), another_instance(app, make_app).test_client()

    first = token_request(with_proof(one, proof), rp, CLIENT_CREDENTIALS)
    replayed = token_request(with_proof(two, proof), rp, CLIENT_CREDENTIALS)

    assert first.status_code == 200
    assert_error(replayed, "invalid_dpop_proof", "The proof was used before.")


def test_two_instances_racing_with_one_proof_have_one_winner(
    app: Flask, make_app: AppFactory
) -> None:
    key = ProofKey.ed25519()
    proof = key.proof()
    rp = machine_client()
    clients = [app.test_client(), another_instance(app, make_app).test_client()]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def send(client: FlaskClient) -> None:
        start.wait()
        statuses.append(
            token_request(with_proof(client, proof), rp, CLIENT_CREDENTIALS).status_code
        )

    threads = [threading.Thread(target=send, args=(each,)) for each in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200, 400]
