"""DPoP (RFC 9449) against a live server with two worker processes, demanding nonces.

The client is registered by the CLI with --require-dpop; proofs are made with PyJWT; the
access token is verified with PyJWT against the JWKS served over HTTP. Two workers share
nothing but the database: a nonce one hands out must work at the other, and a proof spent at
one must be refused by both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import jwt
import pytest
import requests

from tests.support.databases import backends, fresh_postgres_database
from tests.support.dpop import ProofKey
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
SCOPE = "api.read"


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"dpop-{request.param}")
    with ExitStack() as stack:
        settings = {"AUTHSERVER_DPOP_NONCE_REQUIRED": "true", "AUTHSERVER_WORKERS": "2"}
        if request.param == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        running = stack.enter_context(live_server(workdir, **settings))
        yield running
    assert running.error_lines() == [], running.log()


@pytest.fixture(scope="module")
def machine_client(server: LiveServer) -> tuple[str, str]:
    created = server.cli_json(
        "client", "create", "--name", "DPoP machine", "--grant-type", "client_credentials",
        "--scope", SCOPE, "--require-dpop",
    )  # fmt: skip
    assert created["require_dpop"] is True
    return created["client_id"], created["client_secret"]


def token_request(
    server: LiveServer, credentials: tuple[str, str], proof: str | None
) -> requests.Response:
    headers = {"DPoP": proof} if proof is not None else {}
    return requests.post(
        server.url("/oauth/token"),
        data={"grant_type": "client_credentials"},
        auth=credentials,
        headers=headers,
        timeout=TIMEOUT_SECONDS,
    )


def fresh_nonce(server: LiveServer, credentials: tuple[str, str], key: ProofKey) -> str:
    """The server's answer to a proof without a nonce (§8.1)."""
    response = token_request(server, credentials, key.proof(htu=server.url("/oauth/token")))
    assert response.status_code == 400
    assert response.json()["error"] == "use_dpop_nonce"
    return response.headers["DPoP-Nonce"]


def verified_access_token(server: LiveServer, token: str) -> dict[str, Any]:  # Any: claims
    keys = jwt.PyJWKSet.from_dict(
        requests.get(server.url("/.well-known/jwks.json"), timeout=TIMEOUT_SECONDS).json()
    )
    header = jwt.get_unverified_header(token)
    claims: dict[str, Any] = jwt.decode(
        token, key=keys[header["kid"]], algorithms=[header["alg"]], audience=server.base_url
    )
    return claims


def test_a_require_dpop_client_gets_a_bound_token_only_with_a_proof_and_nonce(
    server: LiveServer, machine_client: tuple[str, str]
) -> None:
    key = ProofKey.ed25519()
    token_url = server.url("/oauth/token")

    without_proof = token_request(server, machine_client, None)
    nonce = fresh_nonce(server, machine_client, key)
    proof = key.proof(htu=token_url, nonce=nonce)
    issued = token_request(server, machine_client, proof)
    # The same proof, sent a few times so that both workers see it: refused every time.
    replays = [token_request(server, machine_client, proof) for _ in range(4)]

    assert without_proof.status_code == 400
    assert without_proof.json()["error"] == "invalid_dpop_proof"
    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "DPoP"
    claims = verified_access_token(server, issued.json()["access_token"])
    assert claims["cnf"] == {"jkt": key.thumbprint}
    assert {each.status_code for each in replays} == {400}
    assert {each.json()["error_description"] for each in replays} == {"The proof was used before."}


def test_nonces_from_one_worker_work_at_the_other(
    server: LiveServer, machine_client: tuple[str, str]
) -> None:
    key = ProofKey.es256()
    nonce = fresh_nonce(server, machine_client, key)

    # Each on a new connection, so both workers are likely to answer some of them.
    answers = [
        token_request(
            server, machine_client, key.proof(htu=server.url("/oauth/token"), nonce=nonce)
        )
        for _ in range(6)
    ]

    assert [each.status_code for each in answers] == [200] * 6


def test_userinfo_checks_the_proof_of_a_bound_token(
    server: LiveServer, machine_client: tuple[str, str]
) -> None:
    key = ProofKey.es256()
    nonce = fresh_nonce(server, machine_client, key)
    token = token_request(
        server, machine_client, key.proof(htu=server.url("/oauth/token"), nonce=nonce)
    ).json()["access_token"]
    userinfo_url = server.url("/oauth/userinfo")

    def userinfo(proof: str | None) -> requests.Response:
        headers = {"Authorization": f"DPoP {token}", **({"DPoP": proof} if proof else {})}
        return requests.get(userinfo_url, headers=headers, timeout=TIMEOUT_SECONDS)

    no_proof = userinfo(None)
    good_proof = userinfo(key.proof(htm="GET", htu=userinfo_url, access_token=token, nonce=nonce))

    assert no_proof.status_code == 401
    assert no_proof.headers["WWW-Authenticate"].startswith('DPoP algs="ES256 EdDSA')
    assert no_proof.json()["error"] == "invalid_dpop_proof"
    # The proof is accepted; the token, a client's own, simply has no user to describe.
    assert good_proof.status_code == 403
    assert good_proof.json()["error"] == "insufficient_scope"
