"""Access tokens in the RFC 9068 JWT profile: the header, the signature, then the claims.

The order matters: nothing in the token is trusted before its signature is checked, and the
signature is checked only with a key the issuer published, for an algorithm this service
allows, of a type that fits that algorithm. Claims are then checked here rather than by PyJWT,
so every rule, and the clock it uses, is in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from authserver_verifier.errors import ConfigurationError, InsufficientScope, InvalidToken
from authserver_verifier.jose import MalformedJws, parse_jws
from authserver_verifier.jwk import SUPPORTED_ALGORITHMS
from authserver_verifier.keys import IssuerKeys

DEFAULT_ALGORITHMS = ("RS256", "ES256", "EdDSA")
# RFC 9068 §4: typ is at+jwt or application/at+jwt; media types compare case-insensitively.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# Headers that make a JWS bring or point at its own key, or demand extensions we do not know.
# The issuer's JWKS is the only source of keys (RFC 8725 §3.10), and RFC 7515 §4.1.11 says an
# unknown `crit` extension makes the JWS invalid.
REFUSED_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
DEFAULT_LEEWAY_SECONDS = 30
MAX_LEEWAY_SECONDS = 300


@dataclass(frozen=True)
class VerifiedToken:
    """What a service needs from a verified access token. The token itself is not kept."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    claims: Mapping[str, Any]  # Any: JSON values; read-only
    jkt: str | None = None  # RFC 9449 §6.1: the bound key's thumbprint (cnf.jkt)
    scheme: str = "Bearer"  # how it was presented: Bearer or DPoP
    expires_at: int = field(default=0)

    def has_scopes(self, *required: str) -> bool:
        return self.scopes.issuperset(required)

    def require_scopes(self, *required: str) -> None:
        """Raise InsufficientScope (RFC 6750 §3.1, 403) unless every scope was granted."""
        if not self.has_scopes(*required):
            raise InsufficientScope(tuple(required))


def check_algorithms(algorithms: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(algorithms)
    unsupported = [alg for alg in chosen if alg not in SUPPORTED_ALGORITHMS]
    if not chosen or unsupported:
        raise ConfigurationError(
            f"algorithms must be among {sorted(SUPPORTED_ALGORITHMS)}; got {unsupported or '[]'}"
        )
    return chosen


def check_leeway(leeway_seconds: float) -> float:
    if not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS:
        raise ConfigurationError(f"leeway_seconds must be between 0 and {MAX_LEEWAY_SECONDS}")
    return leeway_seconds


class AccessTokenChecker:
    """Checks one issuer's access tokens for one API (the expected ``aud``)."""

    def __init__(
        self,
        keys: IssuerKeys,
        *,
        audience: str,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not audience:
            raise ConfigurationError("audience (the API identifier) is required")
        self.keys = keys
        self.issuer = keys.issuer
        self.audience = audience
        self.algorithms = check_algorithms(algorithms)
        self.leeway_seconds = check_leeway(leeway_seconds)
        self._clock = clock

    def check(self, token: str) -> VerifiedToken:
        try:
            jws = parse_jws(token)
        except MalformedJws:
            raise InvalidToken("malformed") from None
        header = jws.header
        alg = header.get("alg")
        # RFC 8725 §3.1: only algorithms this service chose; `none` and HS* are never among them.
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken("alg_not_allowed")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("wrong_typ")  # RFC 9068 §4: any other typ MUST be rejected
        if REFUSED_HEADERS & header.keys():
            raise InvalidToken("refused_header")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("no_kid")  # the issuer always names its key
        if not jws.is_signed_by(self.keys.key(kid, alg), alg):
            raise InvalidToken("bad_signature")
        return self._check_claims(jws.payload)

    def _check_claims(self, claims: dict[str, Any]) -> VerifiedToken:
        now = self._clock()
        leeway = self.leeway_seconds
        # RFC 9068 §4: iss MUST exactly match the issuer; aud MUST contain this API.
        if claims.get("iss") != self.issuer:
            raise InvalidToken("wrong_issuer")
        if not _audience_includes(claims.get("aud"), self.audience):
            raise InvalidToken("wrong_audience")
        # RFC 9068 §2.2: exp, iat, sub, client_id and jti are required.
        exp, iat = _number(claims, "exp"), _number(claims, "iat")
        subject, client_id = _string(claims, "sub"), _string(claims, "client_id")
        _string(claims, "jti")
        # RFC 7519 §4.1.4: not accepted at or after exp.
        if now >= exp + leeway:
            raise InvalidToken("expired")
        # RFC 7519 §4.1.5 / §4.1.6: not before nbf, and not issued in the future.
        if "nbf" in claims and now + leeway < _number(claims, "nbf"):
            raise InvalidToken("not_yet_valid")
        if now + leeway < iat:
            raise InvalidToken("issued_in_the_future")
        return VerifiedToken(
            subject=subject,
            client_id=client_id,
            scopes=_scopes(claims.get("scope")),
            claims=MappingProxyType(claims),
            jkt=_jkt(claims.get("cnf")),
            expires_at=int(exp),
        )


def _audience_includes(aud: object, audience: str) -> bool:
    if isinstance(aud, str):
        return aud == audience
    return isinstance(aud, list) and audience in aud


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    # bool is an int in Python, but `true` is not a NumericDate (RFC 7519 §2).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"missing_{name}")
    return float(value)


def _string(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidToken(f"missing_{name}")
    return value


def _scopes(scope: object) -> frozenset[str]:
    # RFC 9068 §2.2.3: scope is a space-separated string, as in RFC 6749 §3.3.
    if scope is None:
        return frozenset()
    if not isinstance(scope, str):
        raise InvalidToken("malformed_scope")
    return frozenset(scope.split())


def _jkt(cnf: object) -> str | None:
    if cnf is None:
        return None
    # RFC 9449 §6.1: a bound token's cnf holds jkt, the key's RFC 7638 thumbprint. A cnf we
    # cannot read might bind the token some other way, so the token is refused, not unbound.
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str):
        raise InvalidToken("unsupported_cnf")
    return str(cnf["jkt"])
