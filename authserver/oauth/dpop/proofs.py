"""Checking one DPoP proof JWT (RFC 9449 §4.2, §4.3).

The JWS work is joserfc's: reading the compact form, importing the header's `jwk`, verifying
the signature and computing the RFC 7638 thumbprint. What is ours is the list of checks, in
§4.3's order, and which algorithms and keys we accept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from flask import Request
from joserfc import jws
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

from authserver.config import current_settings
from authserver.oauth.dpop.errors import InvalidDPoPProof, UseDPoPNonce
from authserver.oauth.dpop.nonces import is_current_nonce
from authserver.oauth.dpop.replay import spend_jti

PROOF_HEADER = "DPoP"
PROOF_TYPE = "dpop+jwt"
# Asymmetric only (§4.3 check 5). Discovery advertises this tuple as-is.
DPOP_ALGORITHMS = ("ES256", "EdDSA", "PS256", "RS256")
# The key each algorithm needs: its `kty`, and the curves allowed (None: no curve).
_KEY_FOR_ALGORITHM: dict[str, tuple[str, frozenset[str] | None]] = {
    "ES256": ("EC", frozenset({"P-256"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "PS256": ("RSA", None),
    "RS256": ("RSA", None),
}
MIN_RSA_BITS = 2048
# JWK members that only a private (or symmetric) key has (RFC 7518 §6, RFC 8037 §2).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# §4.3 check 11: how far `iat` may be from our clock, either way. A proof is a few seconds
# old when it arrives; the rest is room for clocks that disagree.
IAT_WINDOW_SECONDS = 60
MAX_PROOF_LENGTH = 8 * 1024  # a proof with an RSA-4096 `jwk` is under 2 KB
MAX_JTI_LENGTH = 255  # the column's size


class _ProofRegistry(jws.JWSRegistry):
    # The `jwk` header makes a proof's protected header larger than joserfc's 512-byte default
    # allows for RSA keys (about 700 bytes for RSA-2048, 1 KB for RSA-4096).
    max_header_length = 2048


_REGISTRY = _ProofRegistry(algorithms=DPOP_ALGORITHMS)


@dataclass(frozen=True)
class VerifiedProof:
    jkt: str  # RFC 7638 SHA-256 thumbprint of the proof's key: what tokens are bound to
    jti: str


def presented_proof(request: Request) -> str | None:
    """The request's DPoP header, None without one; §4.3 check 1: exactly one.

    A WSGI server folds repeated header fields into one value joined by commas, and a JWT
    never holds a comma, so a comma means two headers were sent.
    """
    values = request.headers.getlist(PROOF_HEADER)
    if not values:
        return None
    if len(values) > 1 or "," in values[0]:
        raise InvalidDPoPProof("Send exactly one DPoP header.")
    return values[0].strip()


def verify_proof(
    proof: str, *, method: str, url: str, now: datetime, access_token: str | None = None
) -> VerifiedProof:
    """All of §4.3 for a proof sent with ``method`` to ``url`` (as the issuer publishes it).

    ``access_token`` is the token the proof accompanies at a protected resource (§7): its hash
    must be the proof's `ath`. The jti is spent last, so a proof refused for another reason
    (a missing nonce, most often) does not fill the store.
    """
    claims, key = _verified_jws(proof)
    jti, iat = claims.get("jti"), claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH or not _is_number(iat):
        raise InvalidDPoPProof("The proof needs a jti (at most 255 characters) and an iat.")
    if claims.get("htm") != method:
        raise InvalidDPoPProof("The proof's htm is not this request's method.")  # check 8
    if normalised_uri(claims.get("htu")) != normalised_uri(url):
        raise InvalidDPoPProof("The proof's htu is not this endpoint's URL.")  # check 9
    if abs(now.timestamp() - iat) > IAT_WINDOW_SECONDS:
        raise InvalidDPoPProof("The proof's iat is not recent.")  # check 11
    if access_token is not None and not _ath_matches(claims.get("ath"), access_token):
        raise InvalidDPoPProof("The proof's ath does not match the access token.")  # check 12
    if current_settings().dpop_nonce_required and not is_current_nonce(
        claims.get("nonce"), now=now
    ):
        raise UseDPoPNonce("Use the DPoP-Nonce this response carries.")  # check 10, §8
    jkt = key.thumbprint()
    # A proof stays fresh until iat + the window: its jti must be remembered that long.
    expires_at = datetime.fromtimestamp(iat, UTC) + timedelta(seconds=IAT_WINDOW_SECONDS)
    if not spend_jti(jkt, jti, expires_at=expires_at):
        raise InvalidDPoPProof("The proof was used before.")  # §11.1
    return VerifiedProof(jkt=jkt, jti=jti)


Key = ECKey | OKPKey | RSAKey


def _verified_jws(proof: str) -> tuple[dict[str, Any], Key]:  # Any: JSON claim values
    """Checks 2 to 7: a JWS of type dpop+jwt, an allowed algorithm, a public `jwk` that
    verifies the signature. Returns the claims and the key."""
    if len(proof) > MAX_PROOF_LENGTH or not proof.isascii() or proof.count(".") != 2:
        raise InvalidDPoPProof("The DPoP proof is not a JWT.")
    try:
        compact = jws.extract_compact(proof.encode("ascii"), registry=_REGISTRY)
        header: dict[str, Any] = dict(compact.headers())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, TypeError):
        raise InvalidDPoPProof("The DPoP proof is not a JWT.") from None
    if not isinstance(claims, dict):
        raise InvalidDPoPProof("The DPoP proof is not a JWT.")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
        raise InvalidDPoPProof("The proof's typ must be dpop+jwt.")  # check 4
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in _KEY_FOR_ALGORITHM:
        raise InvalidDPoPProof(f"Sign the proof with one of {' '.join(DPOP_ALGORITHMS)}.")
    key = _public_key(header.get("jwk"), alg)
    try:
        with warnings.catch_warnings():
            # RFC 9864 deprecates the name "EdDSA" (for "Ed25519"), not the algorithm; it is
            # the name clients send today (as in client_assertion.py).
            warnings.simplefilter("ignore", SecurityWarning)
            is_valid = jws.validate_compact(compact, key, algorithms=[alg], registry=_REGISTRY)
    except JoseError:
        is_valid = False
    if not is_valid:
        raise InvalidDPoPProof("The proof's signature does not verify.")  # check 6
    return claims, key


def _public_key(jwk: object, alg: str) -> Key:
    """The header's `jwk` (check 3), public (check 7), of the kind ``alg`` needs (check 5)."""
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("The proof's header needs a jwk.")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise InvalidDPoPProof("The proof's jwk must be a public key.")
    kty, curves = _KEY_FOR_ALGORITHM[alg]
    # Checked before importing: joserfc would accept an `oct` (HMAC) key, which proves nothing.
    crv = jwk.get("crv")
    if jwk.get("kty") != kty or (
        curves is not None and not (isinstance(crv, str) and crv in curves)
    ):
        raise InvalidDPoPProof(f"The proof's jwk is not a key for {alg}.")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError):
        raise InvalidDPoPProof("The proof's jwk is not a valid key.") from None
    if not isinstance(key, ECKey | OKPKey | RSAKey) or key.is_private:
        raise InvalidDPoPProof("The proof's jwk must be a public key.")
    if isinstance(key, RSAKey) and key.public_key.key_size < MIN_RSA_BITS:
        raise InvalidDPoPProof(f"RSA proof keys need at least {MIN_RSA_BITS} bits.")
    return key


def access_token_hash(access_token: str) -> str:
    """§4.2 `ath`: base64url of the SHA-256 of the token's ASCII octets."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _ath_matches(ath: object, access_token: str) -> bool:
    if not isinstance(ath, str) or not ath.isascii():
        return False
    return hmac.compare_digest(ath, access_token_hash(access_token))


def _is_number(value: object) -> TypeGuard[int | float]:
    # JSON parsing lets NaN through, and NaN compares as inside any window.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT_ENCODED = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def normalised_uri(uri: object) -> str | None:
    """An http(s) URI without query and fragment, normalised as §4.3 asks (RFC 3986 §6.2.2
    and §6.2.3): scheme and host in lower case, the default port dropped, percent-encoding
    made canonical, dot segments removed, an empty path made "/". None: not such a URI."""
    if not isinstance(uri, str) or not uri.isascii():
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    authority = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{authority}{_normalised_path(parts.path)}"


def _normalised_path(path: str) -> str:
    def canonical(match: re.Match[str]) -> str:
        character = chr(int(match.group(1), 16))
        return character if character in _UNRESERVED else match.group(0).upper()

    path = _PERCENT_ENCODED.sub(canonical, path) or "/"
    # RFC 3986 §5.2.4, for the absolute paths an http(s) URI has.
    kept: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    trailing = path.endswith(("/.", "/.."))
    return "/" + "/".join(kept) + ("/" if trailing and kept else "")
