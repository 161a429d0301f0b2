"""RFC 6749 §2.3: one client, authenticated one way, per request; anything else changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask.testing import FlaskClient

from tests.oauth.test_token_endpoint import client_assertion, private_key_jwt_client
from tests.support.oauth import (
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
)

MORE_THAN_ONE = "The client must authenticate with exactly one method."
MISMATCH = "The client_id does not match the client's credentials."
ASSERTION = {
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
}

# Each case: what is added to a request that already carries valid Basic credentials (or, for
# "post-and-assertion", a valid client_secret in the body), and the description expected.
Extra = Callable[[RelyingParty, RelyingParty], tuple[dict[str, str], dict[str, str]]]
CASES: list[Any] = [
    pytest.param(
        lambda rp, other: (
            rp.basic_auth(),
            {"client_id": rp.client_id, "client_secret": rp.secret},
        ),
        MORE_THAN_ONE,
        id="basic-and-client-secret",
    ),
    pytest.param(
        lambda rp, other: (rp.basic_auth(), ASSERTION), MORE_THAN_ONE, id="basic-and-assertion"
    ),
    pytest.param(
        lambda rp, other: (
            {},
            {"client_id": rp.client_id, "client_secret": rp.secret, **ASSERTION},
        ),
        MORE_THAN_ONE,
        id="client-secret-and-assertion",
    ),
    pytest.param(
        lambda rp, other: (rp.basic_auth(), {"client_id": other.client_id}),
        MISMATCH,
        id="basic-and-another-client-id",
    ),
]


def refused(response: Any, description: str) -> None:
    assert response.status_code == 400, response.json
    assert response.json == {"error": "invalid_request", "error_description": description}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def rps(client: FlaskClient) -> tuple[RelyingParty, RelyingParty]:
    make_user()
    sign_in(client)
    return make_relying_party(), make_relying_party(name="Other")


@pytest.mark.parametrize(("extra", "description"), CASES)
def test_a_code_exchange_authenticated_twice_is_refused_and_the_code_stays_usable(
    client: FlaskClient, rps: tuple[RelyingParty, RelyingParty], extra: Extra, description: str
) -> None:
    rp, other = rps
    pkce = Pkce()
    code = obtain_code(client, rp, pkce)
    headers, body = extra(rp, other)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": pkce.verifier,
        **body,
    }

    refused(client.post("/oauth/token", data=data, headers=headers), description)

    assert exchange_code(client, rp, code, pkce).status_code == 200, "the code was not consumed"


@pytest.mark.parametrize(("extra", "description"), CASES)
def test_a_refresh_authenticated_twice_is_refused_and_rotates_nothing(
    client: FlaskClient, rps: tuple[RelyingParty, RelyingParty], extra: Extra, description: str
) -> None:
    rp, other = rps
    pkce = Pkce()
    tokens = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    headers, body = extra(rp, other)
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **body}

    refused(client.post("/oauth/token", data=data, headers=headers), description)

    again = token_request(
        client, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert again.status_code == 200, "the refresh token was not rotated"


@pytest.mark.parametrize(("extra", "description"), CASES)
def test_introspection_and_revocation_refuse_two_authentications(
    client: FlaskClient, rps: tuple[RelyingParty, RelyingParty], extra: Extra, description: str
) -> None:
    rp, other = rps
    pkce = Pkce()
    tokens = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json
    headers, body = extra(rp, other)
    data = {"token": tokens["refresh_token"], **body}

    refused(client.post("/oauth/introspect", data=data, headers=headers), description)
    refused(client.post("/oauth/revoke", data=data, headers=headers), description)

    still = token_request(client, rp, {"token": tokens["refresh_token"]}, path="/oauth/introspect")
    assert still.json["active"] is True, "nothing was revoked"


def test_basic_with_the_same_client_id_in_the_body_is_one_authentication(
    client: FlaskClient, rps: tuple[RelyingParty, RelyingParty]
) -> None:
    """RFC 6749 §4.1.3 lets a client name itself in the body too; that is not a second method."""
    rp, _ = rps
    pkce = Pkce()
    code = obtain_code(client, rp, pkce)

    response = exchange_code(client, rp, code, pkce, client_id=rp.client_id)

    assert response.status_code == 200


def test_a_client_assertion_for_another_client_id_is_refused(
    client: FlaskClient, rps: tuple[RelyingParty, RelyingParty]
) -> None:
    """RFC 7521 §4.2: a client_id sent beside an assertion must name the assertion's client."""
    _, other = rps
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = private_key_jwt_client(key)
    data = {
        "grant_type": "client_credentials",
        "client_id": other.client_id,
        "client_assertion_type": ASSERTION["client_assertion_type"],
        "client_assertion": client_assertion(key, signer.client_id, str(uuid.uuid4())),
    }

    refused(client.post("/oauth/token", data=data), MISMATCH)

    # The same assertion with its own client_id (or none) is accepted: the jti was not spent.
    accepted = client.post("/oauth/token", data={**data, "client_id": signer.client_id})
    assert accepted.status_code == 200, accepted.json
