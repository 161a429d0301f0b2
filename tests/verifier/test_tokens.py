"""The kit's access-token checks (RFC 9068) against a loopback issuer with throwaway keys."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from authserver_verifier import (
    ConfigurationError,
    InsufficientScope,
    InvalidToken,
    Verifier,
    require_scopes,
)
from tests.support.token_issuer import API, LoopbackIssuer, b64url, loopback_issuer, unsigned


@pytest.fixture
def issuer() -> Iterator[LoopbackIssuer]:
    with loopback_issuer("RS256") as issuer:
        yield issuer


@pytest.fixture
def verifier(issuer: LoopbackIssuer) -> Verifier:
    return Verifier(issuer.url, audience=API)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_a_good_token_gives_its_subject_client_and_scopes(alg: str) -> None:
    with loopback_issuer(alg) as issuer:
        verifier = Verifier(issuer.url, audience=API)
        token = verifier.verify_token(issuer.mint(scope="orders.read  orders.write"))

    assert (token.subject, token.client_id) == ("user-123", "client-abc")
    assert token.scopes == {"orders.read", "orders.write"}
    assert token.jkt is None
    assert token.claims["aud"] == API
    require_scopes(token, "orders.read")
    with pytest.raises(InsufficientScope) as refused:
        token.require_scopes("orders.read", "admin")
    assert (refused.value.status, refused.value.required) == (403, ("orders.read", "admin"))


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_the_at_jwt_type_is_read_case_insensitively(
    issuer: LoopbackIssuer, verifier: Verifier, typ: str
) -> None:
    assert verifier.verify_token(issuer.mint(header={"typ": typ})).subject == "user-123"


def test_an_audience_list_containing_the_api_is_accepted(
    issuer: LoopbackIssuer, verifier: Verifier
) -> None:
    token = issuer.mint(aud=["https://other.example.test", API])
    assert verifier.verify_token(token).subject == "user-123"


def forged_signature(issuer: LoopbackIssuer) -> str:
    header, _, signature = issuer.mint().split(".")
    other = issuer.mint(sub="someone-else").split(".")[1]
    return f"{header}.{other}.{signature}"


def alg_none(issuer: LoopbackIssuer) -> str:
    kid = next(iter(issuer.keys))
    return unsigned({"alg": "none", "typ": "at+jwt", "kid": kid}, issuer.claims()) + "."


def hs256_with_public_key(issuer: LoopbackIssuer) -> str:
    """The classic confusion: HMAC keyed with the issuer's public key, which anyone can get."""
    kid, (_, key) = next(iter(issuer.keys.items()))
    secret = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = unsigned({"alg": "HS256", "typ": "at+jwt", "kid": kid}, issuer.claims())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def es256_header_on_an_rsa_key(issuer: LoopbackIssuer) -> str:
    rsa_kid = next(iter(issuer.keys))
    ec_kid = issuer.add_key("ES256")
    _, payload, signature = issuer.mint(kid=ec_kid).split(".")
    relabelled = unsigned({"alg": "ES256", "typ": "at+jwt", "kid": rsa_kid}, {}).split(".")[0]
    return f"{relabelled}.{payload}.{signature}"


def hours_ago(hours: float) -> int:
    return int(time.time() - hours * 3600)


# What each refused token is, and the reason the kit gives for it (for logs; never sent).
REFUSED: dict[str, tuple[str, Callable[[LoopbackIssuer], str]]] = {
    "forged signature": ("bad_signature", forged_signature),
    "alg none": ("alg_not_allowed", alg_none),
    "HS256 keyed with the public key": ("alg_not_allowed", hs256_with_public_key),
    "ES256 header naming an RSA key": ("key_does_not_fit_alg", es256_header_on_an_rsa_key),
    "expired": ("expired", lambda issuer: issuer.mint(iat=hours_ago(2), exp=hours_ago(1))),
    "expired beyond the leeway": ("expired", lambda issuer: issuer.mint(exp=int(time.time()) - 31)),
    "not yet valid": ("not_yet_valid", lambda issuer: issuer.mint(nbf=int(time.time()) + 120)),
    "issued in the future": (
        "issued_in_the_future",
        lambda issuer: issuer.mint(iat=int(time.time()) + 120),
    ),
    "wrong audience": (
        "wrong_audience",
        lambda issuer: issuer.mint(aud="https://other.example.test"),
    ),
    "audience list without the API": (
        "wrong_audience",
        lambda issuer: issuer.mint(aud=["https://a.test"]),
    ),
    "wrong issuer": ("wrong_issuer", lambda issuer: issuer.mint(iss="https://evil.example.test")),
    "issuer with a trailing slash": (
        "wrong_issuer",
        lambda issuer: issuer.mint(iss=issuer.url + "/"),
    ),
    "typ JWT": ("wrong_typ", lambda issuer: issuer.mint(header={"typ": "JWT"})),
    "no typ": ("wrong_typ", lambda issuer: unsigned_but_signed(issuer, typ=None)),
    "id token typ": ("wrong_typ", lambda issuer: issuer.mint(header={"typ": "id_token+jwt"})),
    "jwk header": (
        "refused_header",
        lambda issuer: issuer.mint(header={"jwk": {"kty": "oct", "k": "AA"}}),
    ),
    "jku header": (
        "refused_header",
        lambda issuer: issuer.mint(header={"jku": "https://evil.test/jwks"}),
    ),
    "x5u header": (
        "refused_header",
        lambda issuer: issuer.mint(header={"x5u": "https://evil.test/cert"}),
    ),
    "x5c header": ("refused_header", lambda issuer: issuer.mint(header={"x5c": ["MIIB"]})),
    "crit header": ("refused_header", lambda issuer: issuer.mint(header={"crit": ["exp"]})),
    "unknown kid": ("unknown_kid", lambda issuer: issuer.mint(header={"kid": "made-up"})),
    "no exp": ("missing_exp", lambda issuer: issuer.mint(exp=None)),
    "no iat": ("missing_iat", lambda issuer: issuer.mint(iat=None)),
    "no sub": ("missing_sub", lambda issuer: issuer.mint(sub=None)),
    "no client_id": ("missing_client_id", lambda issuer: issuer.mint(client_id=None)),
    "no jti": ("missing_jti", lambda issuer: issuer.mint(jti=None)),
    "exp is a string": ("missing_exp", lambda issuer: issuer.mint(exp=str(int(time.time()) + 300))),
    "exp is true": ("missing_exp", lambda issuer: issuer.mint(exp=True)),
    "scope is a list": ("malformed_scope", lambda issuer: issuer.mint(scope=["orders.read"])),
    "cnf without jkt": ("unsupported_cnf", lambda issuer: issuer.mint(cnf={"x5t#S256": "abc"})),
    "not a JWT": ("malformed", lambda issuer: "not-a-jwt"),
    "repeated alg in the header": ("malformed", lambda issuer: repeated_alg(issuer)),
    "garbage in three parts": ("malformed", lambda issuer: "a.b.c"),
    "far too long": ("malformed", lambda issuer: issuer.mint(padding="x" * 20_000)),
}


def repeated_alg(issuer: LoopbackIssuer) -> str:
    """A header naming RS256 and then none: which one counts must never be a parser's choice."""
    token = issuer.mint()
    kid = jwt.get_unverified_header(token)["kid"]
    header = f'{{"alg":"RS256","typ":"at+jwt","kid":"{kid}","alg":"none"}}'.encode()
    return b64url(header) + token[token.index(".") :]


def unsigned_but_signed(issuer: LoopbackIssuer, **header: Any) -> str:
    """A properly signed token whose header lacks typ (PyJWT would add one by default)."""
    kid, (alg, key) = next(iter(issuer.keys.items()))
    token = jwt.encode(issuer.claims(), key, algorithm=alg, headers={"kid": kid, **header})
    assert "typ" not in jwt.get_unverified_header(token)
    return token


@pytest.mark.parametrize(("reason", "make"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_tokens(
    issuer: LoopbackIssuer,
    verifier: Verifier,
    reason: str,
    make: Callable[[LoopbackIssuer], str],
) -> None:
    with pytest.raises(InvalidToken) as refused:
        verifier.verify_token(make(issuer))

    assert (refused.value.reason, refused.value.status) == (reason, 401)
    assert refused.value.error == "invalid_token"
    assert str(refused.value) == "The access token is not valid."  # never the detail


def test_the_leeway_covers_a_little_clock_skew(issuer: LoopbackIssuer) -> None:
    now = time.time()
    verifier = Verifier(issuer.url, audience=API, leeway_seconds=30, clock=lambda: now)
    assert verifier.verify_token(issuer.mint(exp=int(now) - 20)).subject == "user-123"
    assert verifier.verify_token(issuer.mint(iat=int(now) + 20, nbf=int(now) + 20))


def test_an_algorithm_the_service_did_not_allow_is_refused(issuer: LoopbackIssuer) -> None:
    ec_kid = issuer.add_key("ES256")
    verifier = Verifier(issuer.url, audience=API, algorithms=["RS256"])
    with pytest.raises(InvalidToken) as refused:
        verifier.verify_token(issuer.mint(kid=ec_kid))
    assert refused.value.reason == "alg_not_allowed"


@pytest.mark.parametrize(
    "options",
    [
        {"leeway_seconds": 301},
        {"leeway_seconds": -1},
        {"algorithms": ["HS256"]},
        {"algorithms": ["RS256", "none"]},
        {"algorithms": []},
        {"dpop_algorithms": ["HS256"]},
        {"audience": ""},
    ],
    ids=str,
)
def test_unsafe_settings_are_refused_when_the_verifier_is_made(
    issuer: LoopbackIssuer, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        Verifier(issuer.url, **{"audience": API, **options})


@pytest.mark.parametrize(
    "issuer_url", ["http://id.example.test", "ftp://127.0.0.1/", "/relative", "id.example.test"]
)
def test_the_issuer_must_be_https_unless_on_loopback(issuer_url: str) -> None:
    with pytest.raises(ConfigurationError):
        Verifier(issuer_url, audience=API)
