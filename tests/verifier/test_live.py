"""The kit against a real `authserver serve`: its tokens, its introspection, its key rotation.

The service is the Orders API (`authserver api create`); tokens are asked for it with RFC 8707
`resource`, and the kit expects its identifier as `aud`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import jwt
import pytest
import requests

from authserver_verifier import (
    CachePolicy,
    InsufficientScope,
    InvalidToken,
    Verifier,
    VerifierError,
)
from authserver_verifier.http import USER_AGENT
from tests.support.databases import backends, fresh_postgres_database
from tests.support.dpop import ProofKey
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
SCOPE = "orders.read orders.write"
ORDERS_API = "https://orders.example.test/"
PAYMENTS_API = "https://payments.example.test/"
JWKS_PATH = "/.well-known/jwks.json"
DEADLINE_SECONDS = 30
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    # One worker: the JWKS it serves and the key it signs with are then one process's view,
    # so "the JWKS lists the new kid" is a condition the test can wait for.
    settings = {"AUTHSERVER_WORKERS": "1"}
    with ExitStack() as stack:
        if request.param == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        running = stack.enter_context(
            live_server(tmp_path_factory.mktemp(f"verifier-{request.param}"), **settings)
        )
        yield running
    assert running.error_lines() == [], running.log()


@pytest.fixture(scope="module")
def service_client(server: LiveServer) -> Client:
    """A confidential client: it gets tokens for both APIs, and as the Orders API's resource
    server it may introspect that API's tokens (RFC 7662 §4)."""
    server.cli_json(
        "api", "create", "--identifier", ORDERS_API, "--name", "Orders",
        "--scope", "orders.read", "--scope", "orders.write",
    )  # fmt: skip
    server.cli_json(
        "api", "create", "--identifier", PAYMENTS_API, "--name", "Payments",
        "--scope", "payments.read",
    )  # fmt: skip
    created = server.cli_json(
        "client", "create", "--name", "orders service", "--grant-type", "client_credentials",
        "--scope", f"{SCOPE} payments.read", "--access-token-alg", "RS256",
        "--introspect-api", ORDERS_API,
    )  # fmt: skip
    return Client(created["client_id"], created["client_secret"])


def access_token(
    server: LiveServer, client: Client, scope: str = SCOPE, resource: str = ORDERS_API
) -> str:
    answer = requests.post(
        server.url("/oauth/token"),
        data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
        auth=(client.client_id, client.client_secret),
        timeout=TIMEOUT_SECONDS,
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {DEADLINE_SECONDS}s: {what}")
        time.sleep(POLL_SECONDS)


def test_a_client_credentials_token_verifies(server: LiveServer, service_client: Client) -> None:
    verifier = Verifier(server.base_url, audience=ORDERS_API)
    token = verifier.verify_token(access_token(server, service_client))

    assert token.subject == token.client_id == service_client.client_id  # RFC 9068 §2.2
    assert token.scopes == set(SCOPE.split())
    assert token.claims["iss"] == server.base_url
    assert token.claims["aud"] == ORDERS_API
    token.require_scopes("orders.read")
    with pytest.raises(InsufficientScope):
        token.require_scopes("orders.delete")


def test_live_tokens_are_refused_when_altered_or_not_for_this_api(
    server: LiveServer, service_client: Client
) -> None:
    token = access_token(server, service_client)
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    widened = jwt.utils.base64url_encode(json.dumps({**claims, "scope": "admin"}).encode())
    verifier = Verifier(server.base_url, audience=ORDERS_API)
    payments = Verifier(server.base_url, audience=PAYMENTS_API)
    payments_token = access_token(server, service_client, "payments.read", PAYMENTS_API)
    # A token asked for without `resource` is for the issuer (userinfo), not for any API.
    issuer_token = requests.post(
        server.url("/oauth/token"),
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=(service_client.client_id, service_client.client_secret),
        timeout=TIMEOUT_SECONDS,
    ).json()["access_token"]

    with pytest.raises(InvalidToken) as forged:
        verifier.verify_token(f"{header}.{widened.decode()}.{signature}")
    refusals = []
    for service, presented in (
        (payments, token),
        (verifier, payments_token),
        (verifier, issuer_token),
    ):
        with pytest.raises(InvalidToken) as wrong_audience:
            service.verify_token(presented)
        refusals.append(wrong_audience.value.reason)

    assert forged.value.reason == "bad_signature"
    assert refusals == ["wrong_audience"] * 3
    assert payments.verify_token(payments_token).scopes == {"payments.read"}


def test_introspection_sees_a_revocation_at_once(
    server: LiveServer, service_client: Client
) -> None:
    verifier = Verifier(
        server.base_url,
        audience=ORDERS_API,
        introspection_client_id=service_client.client_id,
        introspection_client_secret=service_client.client_secret,
    )
    token = access_token(server, service_client)

    def check(*, introspect: bool) -> str:
        try:
            verifier.authenticate(
                method="GET",
                url="https://api.example.test/orders",
                authorization=[f"Bearer {token}"],
                introspect=introspect,
            )
        except VerifierError as error:
            return error.reason
        return "accepted"

    assert check(introspect=True) == "accepted"
    revoked = requests.post(
        server.url("/oauth/revoke"),
        data={"token": token, "token_type_hint": "access_token"},
        auth=(service_client.client_id, service_client.client_secret),
        timeout=TIMEOUT_SECONDS,
    )
    assert revoked.status_code == 200, revoked.text

    assert check(introspect=True) == "inactive"
    # Without introspection the signature and claims are all there is: still good until exp.
    assert check(introspect=False) == "accepted"


@dataclass
class VerifyingService:
    """A thread verifying the current tokens over and over, as a busy service would."""

    verifier: Verifier
    tokens: list[str]
    verified: dict[str, int] = field(default_factory=dict)  # by kid
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            for token in list(self.tokens):
                try:
                    self.verifier.verify_token(token)
                except VerifierError as error:
                    self.failures.append(error.reason)
                else:
                    self.verified[kid_of(token)] = self.verified.get(kid_of(token), 0) + 1


def token_signed_by_another_key(server: LiveServer, client: Client, old_kid: str) -> str:
    """The server's signer learns of the new active key within a few seconds."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while kid_of(token := access_token(server, client)) == old_kid:
        if time.monotonic() > deadline:
            pytest.fail(f"no token signed by a new key within {DEADLINE_SECONDS}s")
        time.sleep(0.5)
    return token


def jwks_kids(server: LiveServer) -> set[str]:
    answer = requests.get(server.url(JWKS_PATH), timeout=TIMEOUT_SECONDS)
    return {key["kid"] for key in answer.json()["keys"]}


def active_kid(server: LiveServer, alg: str) -> str:
    keys = server.cli_json("keys", "list")["keys"]
    return next(key["kid"] for key in keys if key["alg"] == alg and key["state"] == "active")


def rotate_at_once(server: LiveServer) -> None:
    """After a compromise: a fresh key signs from now on, unknown to every cached JWKS."""
    server.cli_json("keys", "rotate", "--alg", "RS256", "--immediately")


def rotate_then_retire(server: LiveServer) -> None:
    """The planned path, hurried: publish the next key, then retire the active one, which makes
    the next key active before verifiers' cached JWKS (max-age 900 s) have expired."""
    old = active_kid(server, "RS256")
    server.cli_json("keys", "rotate", "--alg", "RS256")
    server.cli_json("keys", "retire", old)


def jwks_fetches_logged(server: LiveServer) -> int:
    return sum(
        1
        for record in server.log_records()
        if record.get("path") == JWKS_PATH and record.get("user_agent") == USER_AGENT
    )


@pytest.mark.parametrize("rotate", [rotate_at_once, rotate_then_retire])
def test_key_rotation_while_a_service_verifies(
    server: LiveServer, service_client: Client, rotate: Callable[[LiveServer], None]
) -> None:
    # A short refetch interval, so that the one refetch the new kid causes is not held back by
    # the initial fetch a few seconds before; the default (10 s) changes nothing else.
    verifier = Verifier(
        server.base_url,
        audience=ORDERS_API,
        cache_policy=CachePolicy(refetch_interval_seconds=1),
    )
    fetches_before = jwks_fetches_logged(server)
    old_token = access_token(server, service_client)
    old_kid = kid_of(old_token)
    service = VerifyingService(verifier, [old_token])
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: service.verified.get(old_kid, 0) >= 100, "the old token verifies")

        rotate(server)
        new_token = token_signed_by_another_key(server, service_client, old_kid)
        new_kid = kid_of(new_token)
        wait_for(lambda: new_kid in jwks_kids(server), "the JWKS lists the new kid")

        service.tokens.append(new_token)
        wait_for(lambda: service.verified.get(new_kid, 0) >= 100, "the new token verifies")
        verified_old = service.verified[old_kid]
        wait_for(lambda: service.verified[old_kid] > verified_old, "the old token still does")
    finally:
        service.stop.set()
        thread.join(timeout=TIMEOUT_SECONDS)

    assert service.failures == []
    # The first fetch, then one when the new kid first appeared: none per verification.
    assert verifier.keys.fetch_count == 2
    assert jwks_fetches_logged(server) - fetches_before == 2
    print(f"\n{rotate.__name__}: {sum(service.verified.values())} verifications, 2 JWKS fetches")


def test_a_dpop_bound_token_from_the_server_needs_its_proof_at_the_service(
    server: LiveServer, service_client: Client
) -> None:
    """RFC 9449 end to end: the server binds the token to the caller's key; the kit accepts it
    only with a fresh proof made with that key, for this very request."""
    key = ProofKey.es256()
    issued = requests.post(
        server.url("/oauth/token"),
        data={"grant_type": "client_credentials", "scope": SCOPE, "resource": ORDERS_API},
        auth=(service_client.client_id, service_client.client_secret),
        headers={"DPoP": key.proof(htu=server.url("/oauth/token"))},
        timeout=TIMEOUT_SECONDS,
    )
    assert issued.status_code == 200, issued.text
    assert issued.json()["token_type"] == "DPoP"
    token = issued.json()["access_token"]
    verifier = Verifier(server.base_url, audience=ORDERS_API)
    url = "https://orders.example.test/orders"

    def attempt(scheme: str, proofs: list[str], method: str = "GET") -> str:
        try:
            verifier.authenticate(
                method=method, url=url, authorization=[f"{scheme} {token}"], dpop=proofs
            )
        except VerifierError as error:
            return error.reason
        return "accepted"

    proof = key.proof(htm="GET", htu=url, access_token=token)
    assert verifier.verify_token(token).jkt == key.thumbprint
    assert attempt("DPoP", [proof]) == "accepted"
    assert attempt("DPoP", [proof]) == "replayed"
    assert attempt("DPoP", []) == "missing_proof"
    assert attempt("Bearer", []) == "bound_token_as_bearer"
    other_key = ProofKey.es256().proof(htm="GET", htu=url, access_token=token)
    assert attempt("DPoP", [other_key]) == "key_not_bound"
    wrong_method = key.proof(htm="POST", htu=url, access_token=token)
    assert attempt("DPoP", [wrong_method]) == "wrong_htm"


def test_an_expired_live_token_is_refused(server: LiveServer, service_client: Client) -> None:
    # service_client: the fixture that registers the Orders API.
    created = server.cli_json(
        "client", "create", "--name", "short-lived", "--grant-type", "client_credentials",
        "--scope", "orders.read", "--access-token-ttl", "1",
    )  # fmt: skip
    client = Client(created["client_id"], created["client_secret"])
    token = access_token(server, client, "orders.read")
    claims = jwt.decode(token, options={"verify_signature": False})  # only its times
    assert claims["exp"] - claims["iat"] == 1
    # The service's clock, set by the test: a slow machine cannot age the token by accident.
    now = [float(claims["iat"])]
    verifier = Verifier(
        server.base_url, audience=ORDERS_API, leeway_seconds=0, clock=lambda: now[0]
    )
    assert verifier.verify_token(token).subject == client.client_id

    now[0] = float(claims["exp"])  # RFC 7519 §4.1.4: not accepted at or after exp

    with pytest.raises(InvalidToken) as expired:
        verifier.verify_token(token)
    assert expired.value.reason == "expired"
