"""DPoP at the resource server (RFC 9449 §4.3, §7): bound tokens minted by a loopback issuer,
proofs signed by a client key the test holds, every check refused one at a time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from authserver_verifier import (
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    RedisReplayStore,
    VerifiedToken,
    Verifier,
    VerifierError,
    VerifierUnavailable,
)
from tests.support.redis_server import redis_server
from tests.support.token_issuer import API, DPoPClient, LoopbackIssuer, loopback_issuer

URL = "https://api.example.test/orders/42"


@pytest.fixture(scope="module")
def issuer() -> Iterator[LoopbackIssuer]:
    with loopback_issuer("ES256") as issuer:
        yield issuer


@pytest.fixture
def verifier(issuer: LoopbackIssuer) -> Verifier:
    return Verifier(issuer.url, audience=API)


@pytest.fixture
def client() -> DPoPClient:
    return DPoPClient("ES256")


def send(
    verifier: Verifier,
    *,
    authorization: str,
    proofs: list[str],
    method: str = "GET",
    url: str = URL,
    scopes: tuple[str, ...] = (),
) -> VerifiedToken:
    return verifier.authenticate(
        method=method, url=url, authorization=[authorization], dpop=proofs, scopes=scopes
    )


def challenges_of(verifier: Verifier, error: VerifierError) -> list[str]:
    return [value for name, value in verifier.refusal(error).headers if name == "WWW-Authenticate"]


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256"])
def test_a_bound_token_with_a_good_proof_is_accepted(
    issuer: LoopbackIssuer, verifier: Verifier, alg: str
) -> None:
    client = DPoPClient(alg)
    token = issuer.mint(cnf={"jkt": client.jkt})

    verified = send(
        verifier, authorization=f"DPoP {token}", proofs=[client.proof("GET", URL, token)]
    )

    assert (verified.scheme, verified.jkt, verified.subject) == ("DPoP", client.jkt, "user-123")


@pytest.mark.parametrize(
    "request_url",
    [
        "https://API.example.test:443/orders/42",
        "https://api.example.test/orders/./42?page=2#top",
        "https://api.example.test/%6Frders/42",
    ],
)
def test_htu_is_compared_after_normalisation(
    issuer: LoopbackIssuer, verifier: Verifier, client: DPoPClient, request_url: str
) -> None:
    token = issuer.mint(cnf={"jkt": client.jkt})
    proof = client.proof("GET", URL, token)
    assert send(verifier, authorization=f"DPoP {token}", proofs=[proof], url=request_url)


def other_client_proof(verifier: Verifier, token: str, client: DPoPClient) -> dict[str, Any]:
    return {"proofs": [DPoPClient("ES256").proof("GET", URL, token)]}


def signed_by_another_key(verifier: Verifier, token: str, client: DPoPClient) -> dict[str, Any]:
    return {"proofs": [DPoPClient("ES256").proof("GET", URL, token, header={"jwk": client.jwk})]}


def replayed(verifier: Verifier, token: str, client: DPoPClient) -> dict[str, Any]:
    proof = client.proof("GET", URL, token)
    send(verifier, authorization=f"DPoP {token}", proofs=[proof])  # the first use passes
    return {"proofs": [proof]}


def proof_with(**claims: Any) -> Callable[[Verifier, str, DPoPClient], dict[str, Any]]:
    return lambda verifier, token, client: {"proofs": [client.proof("GET", URL, token, **claims)]}


def proof_header(**header: Any) -> Callable[[Verifier, str, DPoPClient], dict[str, Any]]:
    return lambda verifier, token, client: {
        "proofs": [client.proof("GET", URL, token, header=header)]
    }


def private_jwk(verifier: Verifier, token: str, client: DPoPClient) -> dict[str, Any]:
    jwk = {**client.jwk, "d": "AAAA"}
    return {"proofs": [client.proof("GET", URL, token, header={"jwk": jwk})]}


def hs256_proof(verifier: Verifier, token: str, client: DPoPClient) -> dict[str, Any]:
    claims = {"jti": "x", "htm": "GET", "htu": URL, "iat": int(time.time())}
    proof = jwt.encode(claims, "secret" * 6, algorithm="HS256", headers={"typ": "dpop+jwt"})
    return {"proofs": [proof]}


REFUSED_PROOFS: dict[str, tuple[str, Callable[[Verifier, str, DPoPClient], dict[str, Any]]]] = {
    "replayed proof": ("replayed", replayed),
    "wrong htm": ("wrong_htm", proof_with(htm="POST")),
    "htm in lower case": ("wrong_htm", proof_with(htm="get")),
    "wrong htu path": ("wrong_htu", proof_with(htu="https://api.example.test/orders/43")),
    "wrong htu host": ("wrong_htu", proof_with(htu="https://evil.example.test/orders/42")),
    "wrong htu scheme": ("wrong_htu", proof_with(htu="http://api.example.test/orders/42")),
    "htu not a URL": ("wrong_htu", proof_with(htu="orders/42")),
    "stale iat": ("stale_iat", proof_with(iat=int(time.time()) - 3600)),
    "iat in the future": ("stale_iat", proof_with(iat=int(time.time()) + 3600)),
    "wrong ath": ("wrong_ath", proof_with(ath="A" * 43)),
    "no ath": ("wrong_ath", proof_with(ath=None)),
    "no jti": ("bad_jti", proof_with(jti=None)),
    "no htm": ("missing_htm_htu", proof_with(htm=None)),
    "proof key does not match cnf.jkt": ("key_not_bound", other_client_proof),
    "signed by another key than its jwk": ("bad_signature", signed_by_another_key),
    "typ JWT": ("wrong_typ", proof_header(typ="JWT")),
    "jku header": ("refused_header", proof_header(jku="https://evil.test/jwks")),
    "private key in jwk": ("unusable_jwk", private_jwk),
    "HS256 proof": ("alg_not_allowed", hs256_proof),
    "no proof": ("missing_proof", lambda verifier, token, client: {"proofs": []}),
    "two proofs": (
        "several_proofs",
        lambda verifier, token, client: {
            "proofs": [client.proof("GET", URL, token), client.proof("GET", URL, token)]
        },
    ),
    "proof is not a JWS": ("malformed", lambda verifier, token, client: {"proofs": ["x.y"]}),
}


@pytest.mark.parametrize(("reason", "make"), REFUSED_PROOFS.values(), ids=REFUSED_PROOFS.keys())
def test_refused_proofs(
    issuer: LoopbackIssuer,
    verifier: Verifier,
    client: DPoPClient,
    reason: str,
    make: Callable[[Verifier, str, DPoPClient], dict[str, Any]],
) -> None:
    token = issuer.mint(cnf={"jkt": client.jkt})
    with pytest.raises(InvalidDPoPProof) as refused:
        send(verifier, authorization=f"DPoP {token}", **make(verifier, token, client))

    assert (refused.value.reason, refused.value.error, refused.value.status) == (
        reason,
        "invalid_dpop_proof",
        401,
    )
    assert challenges_of(verifier, refused.value) == [
        'DPoP error="invalid_dpop_proof", '
        'error_description="The DPoP proof is not valid.", algs="ES256 EdDSA RS256"'
    ]


def test_a_bound_token_sent_as_bearer_is_refused(
    issuer: LoopbackIssuer, verifier: Verifier, client: DPoPClient
) -> None:
    token = issuer.mint(cnf={"jkt": client.jkt})
    with pytest.raises(InvalidToken) as refused:
        send(verifier, authorization=f"Bearer {token}", proofs=[client.proof("GET", URL, token)])

    assert refused.value.reason == "bound_token_as_bearer"
    # RFC 9449 §7.2: the challenge tells the client to use the DPoP scheme.
    assert challenges_of(verifier, refused.value) == [
        'DPoP error="invalid_token", error_description="The access token is not valid.", '
        'algs="ES256 EdDSA RS256"'
    ]


def test_an_unbound_token_sent_with_the_dpop_scheme_is_refused(
    issuer: LoopbackIssuer, verifier: Verifier, client: DPoPClient
) -> None:
    token = issuer.mint()
    with pytest.raises(InvalidToken) as refused:
        send(verifier, authorization=f"DPoP {token}", proofs=[client.proof("GET", URL, token)])
    assert refused.value.reason == "unbound_token_as_dpop"


def test_a_bearer_token_needs_no_proof(issuer: LoopbackIssuer, verifier: Verifier) -> None:
    verified = send(verifier, authorization=f"bearer {issuer.mint()}", proofs=[])
    assert (verified.scheme, verified.jkt) == ("Bearer", None)


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        ([], MissingToken),
        (["Basic dXNlcjpwYXNz"], MissingToken),
        (["Bearer"], InvalidRequest),
        (["Bearer a", "Bearer b"], InvalidRequest),
        (["Bearer not a token"], InvalidToken),
    ],
)
def test_authorization_headers_we_cannot_use(
    verifier: Verifier, authorization: list[str], error: type[VerifierError]
) -> None:
    with pytest.raises(error) as refused:
        verifier.authenticate(method="GET", url=URL, authorization=authorization)
    if error is MissingToken:
        # RFC 6750 §3.1: no error code without credentials; both schemes are offered.
        assert challenges_of(verifier, refused.value) == ["Bearer", 'DPoP algs="ES256 EdDSA RS256"']


def test_the_replay_store_is_shared_through_redis(
    issuer: LoopbackIssuer, client: DPoPClient, tmp_path: Path
) -> None:
    """Two instances of a service: a proof used at one is refused at the other."""
    with redis_server(tmp_path / "redis") as server:
        first, second = (
            Verifier(issuer.url, audience=API, replay_store=RedisReplayStore(server.client()))
            for _ in range(2)
        )
        token = issuer.mint(cnf={"jkt": client.jkt})
        proof = client.proof("GET", URL, token)

        assert send(first, authorization=f"DPoP {token}", proofs=[proof])
        with pytest.raises(InvalidDPoPProof) as refused:
            send(second, authorization=f"DPoP {token}", proofs=[proof])
        assert refused.value.reason == "replayed"

        server.stop()
        with pytest.raises(VerifierUnavailable) as unavailable:
            send(first, authorization=f"DPoP {token}", proofs=[client.proof("GET", URL, token)])
        assert unavailable.value.status == 503
