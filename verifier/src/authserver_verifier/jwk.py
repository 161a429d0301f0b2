"""Public JWKs: which key fits which algorithm, turning one into a key, and its thumbprint.

A JWS names its algorithm in its own header, so the key must be checked against it: an RSA key
offered for ES256, or any key for an HMAC algorithm, is refused before a signature is looked at.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

# Asymmetric algorithms only: `none` and every HS* are absent, so no header can select them.
# Each maps to the key type (RFC 7518 §6.1, RFC 8037 §2) and the curves it may be used with.
SUPPORTED_ALGORITHMS: Mapping[str, tuple[str, frozenset[str] | None]] = {
    "RS256": ("RSA", None),
    "PS256": ("RSA", None),
    "ES256": ("EC", frozenset({"P-256"})),  # RFC 7518 §3.4: ES256 is P-256 with SHA-256
    "ES384": ("EC", frozenset({"P-384"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),  # RFC 8037 §3.1
}
# NIST SP 800-57: smaller RSA moduli are no longer sound.
MIN_RSA_BITS = 2048
# RFC 7517 §9.2 / RFC 7518 §6: members that only a private (or symmetric) key has.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 §3.2: the required members hashed for each key type, in lexicographic order.
THUMBPRINT_MEMBERS: Mapping[str, tuple[str, ...]] = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


class UnusableKey(Exception):
    """The JWK does not fit the algorithm, or is not a valid public key."""


def public_key_for(jwk: Mapping[str, Any], alg: str) -> Any:  # Any: a cryptography public key
    """The verification key for ``alg``; raises UnusableKey unless the JWK is fit for it."""
    fit = SUPPORTED_ALGORITHMS.get(alg)
    if fit is None:
        raise UnusableKey("algorithm not supported")
    kty, curves = fit
    if jwk.get("kty") != kty or (curves is not None and jwk.get("crv") not in curves):
        raise UnusableKey("key type does not fit the algorithm")
    if PRIVATE_MEMBERS & jwk.keys():
        raise UnusableKey("not a public key")
    # RFC 7517 §4.4 / §4.2 / §4.3: a key labelled for another algorithm or use is not for this.
    if "alg" in jwk and jwk["alg"] != alg:
        raise UnusableKey("key is labelled for another algorithm")
    if "use" in jwk and jwk["use"] != "sig":
        raise UnusableKey("key is not for signatures")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise UnusableKey("key is not for verification")
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
        raise UnusableKey("not a valid key") from error
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise UnusableKey("RSA key too small")
    return key


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 §3: base64url SHA-256 of the required members, sorted, without whitespace."""
    members = THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or any(not isinstance(jwk.get(name), str) for name in members):
        raise UnusableKey("cannot take a thumbprint")
    canonical = json.dumps(
        {name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
