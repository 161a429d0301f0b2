"""DPoP proofs at a resource server (RFC 9449 §4.3 and §7.1).

A proof is a JWS the client signs with the key its access token is bound to. Checked in the
order of §4.3: one header, a JWS of type dpop+jwt, an allowed asymmetric algorithm, a public
``jwk`` that verifies the signature, the method and URL of this very request, a recent ``iat``,
the hash of the access token it comes with, and the key's thumbprint against the token's
``cnf.jkt``. Only a proof that passed every check spends its ``jti`` in the replay store, so
forged proofs cannot fill the store or burn a real client's jti.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable
from typing import Any

from authserver_verifier.errors import ConfigurationError, InvalidDPoPProof, VerifierUnavailable
from authserver_verifier.jose import CompactJws, MalformedJws, parse_jws
from authserver_verifier.jwk import UnusableKey, b64url, public_key_for, thumbprint
from authserver_verifier.replay import MemoryReplayStore, ReplayStore, ReplayStoreFailed
from authserver_verifier.tokens import check_algorithms, check_leeway
from authserver_verifier.urls import normalised_htu

DEFAULT_PROOF_ALGORITHMS = ("ES256", "EdDSA", "RS256")
DEFAULT_MAX_AGE_SECONDS = 60
DEFAULT_LEEWAY_SECONDS = 5
MAX_JTI_LENGTH = 256  # a jti is a random identifier (RFC 9449 §4.2); longer is not one
# Headers that would point at a key elsewhere or demand extensions: the key is the inline jwk.
REFUSED_HEADERS = frozenset({"jku", "x5u", "x5c", "crit"})


def access_token_hash(access_token: str) -> str:
    """RFC 9449 §4.2 ath: base64url of the SHA-256 of the ASCII access token."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


class DPoPProofChecker:
    """Checks the DPoP header of a request that carries a DPoP-bound access token."""

    def __init__(
        self,
        *,
        algorithms: Iterable[str] = DEFAULT_PROOF_ALGORITHMS,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
        replay_store: ReplayStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.algorithms = check_algorithms(algorithms)
        if not 0 < max_age_seconds <= 600:
            raise ConfigurationError("max_age_seconds must be between 0 and 600")
        self.max_age_seconds = max_age_seconds
        self.leeway_seconds = check_leeway(leeway_seconds)
        self.replay_store = replay_store if replay_store is not None else MemoryReplayStore()
        self._clock = clock

    def check(
        self, proofs: list[str], *, method: str, url: str, access_token: str, jkt: str
    ) -> None:
        """Raise InvalidDPoPProof unless ``proofs`` (every DPoP header value) is one good proof."""
        # §4.3 check 1: exactly one DPoP header field.
        if len(proofs) != 1:
            raise InvalidDPoPProof("missing_proof" if not proofs else "several_proofs")
        try:
            # §4.3 check 2: the header value is one well-formed JWS in compact serialisation.
            jws = parse_jws(proofs[0].strip())
        except MalformedJws:
            raise InvalidDPoPProof("malformed") from None
        alg, jwk = self._check_header(jws.header)
        claims = self._verified_claims(jws, jwk, alg)
        now = self._clock()
        self._check_request(claims, method=method, url=url)
        iat = claims["iat"]
        # §4.3 check 11 / §11.1: only a recent proof, so the replay store need keep jtis only
        # for this window.
        if iat < now - self.max_age_seconds or iat > now + self.leeway_seconds:
            raise InvalidDPoPProof("stale_iat")
        # §4.3 check 12 / §7.1: the proof is for this access token, made with its bound key.
        if not _same(claims.get("ath"), access_token_hash(access_token)):
            raise InvalidDPoPProof("wrong_ath")
        if not _same(jkt, _thumbprint(jwk)):
            raise InvalidDPoPProof("key_not_bound")
        self._spend_jti(claims["jti"], jkt)

    def _check_header(self, header: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # §4.3 checks 4-7: typ dpop+jwt, an allowed asymmetric alg, a public key in jwk.
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() != "dpop+jwt":
            raise InvalidDPoPProof("wrong_typ")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidDPoPProof("alg_not_allowed")
        if REFUSED_HEADERS & header.keys():
            raise InvalidDPoPProof("refused_header")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict):
            raise InvalidDPoPProof("no_jwk")
        return alg, jwk

    def _verified_claims(self, jws: CompactJws, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
        try:
            # Also refuses a jwk with private members, or one that does not fit alg (check 7).
            key = public_key_for(jwk, alg)
        except UnusableKey:
            raise InvalidDPoPProof("unusable_jwk") from None
        if not jws.is_signed_by(key, alg):
            raise InvalidDPoPProof("bad_signature")
        claims = jws.payload
        # §4.3 check 3 / §4.2: jti, htm, htu and iat are required.
        jti, iat = claims.get("jti"), claims.get("iat")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise InvalidDPoPProof("bad_jti")
        if isinstance(iat, bool) or not isinstance(iat, int | float):
            raise InvalidDPoPProof("bad_iat")
        if not isinstance(claims.get("htm"), str) or not isinstance(claims.get("htu"), str):
            raise InvalidDPoPProof("missing_htm_htu")
        return claims

    def _check_request(self, claims: dict[str, Any], *, method: str, url: str) -> None:
        # §4.3 check 8: htm is the request's method (methods are case-sensitive, RFC 9110 §9.1).
        if claims["htm"] != method:
            raise InvalidDPoPProof("wrong_htm")
        # §4.3 check 9: htu is the request URI without query and fragment, both normalised.
        try:
            matches = normalised_htu(claims["htu"]) == normalised_htu(url)
        except ValueError:
            raise InvalidDPoPProof("wrong_htu") from None
        if not matches:
            raise InvalidDPoPProof("wrong_htu")

    def _spend_jti(self, jti: str, jkt: str) -> None:
        # §11.1: a jti is unique per key; hashing keeps store keys short and free of odd bytes.
        key = hashlib.sha256(f"{jkt}\x00{jti}".encode()).hexdigest()
        ttl = int(self.max_age_seconds + self.leeway_seconds) + 1
        try:
            first_use = self.replay_store.add(key, ttl_seconds=ttl)
        except ReplayStoreFailed:
            # Fail closed: without the store a replay cannot be told from a first use.
            raise VerifierUnavailable("replay_store_unavailable") from None
        if not first_use:
            raise InvalidDPoPProof("replayed")


def _thumbprint(jwk: dict[str, Any]) -> str | None:
    try:
        return thumbprint(jwk)
    except UnusableKey:
        return None


def _same(claimed: object, expected: str | None) -> bool:
    """Constant-time equality; compared as bytes, since compare_digest refuses non-ASCII str."""
    if not isinstance(claimed, str) or expected is None:
        return False
    return hmac.compare_digest(claimed.encode(), expected.encode())
