"""DPoP proofs (RFC 9449 §4.2) made the way a client would, with PyJWT and `cryptography`.

Nothing here comes from the server's code: the proofs, the public JWK and the RFC 7638
thumbprint are all made independently, so the tests check the server against the RFC.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tests.support.oauth import ISSUER

TOKEN_URL = ISSUER + "/oauth/token"
USERINFO_URL = ISSUER + "/oauth/userinfo"
# RFC 7638 §3.2: the members a thumbprint is made from, per key type.
THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class ProofKey:
    """A client's DPoP key pair and the algorithm it signs with."""

    private_key: PrivateKey
    alg: str

    @classmethod
    def es256(cls) -> ProofKey:
        return cls(ec.generate_private_key(ec.SECP256R1()), "ES256")

    @classmethod
    def ed25519(cls) -> ProofKey:
        return cls(ed25519.Ed25519PrivateKey.generate(), "EdDSA")

    @classmethod
    def rs256(cls, bits: int = 2048) -> ProofKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits), "RS256")

    @property
    def public_jwk(self) -> dict[str, Any]:  # Any: JWK member values
        public = self.private_key.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            jwk: dict[str, Any] = ECAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ed25519.Ed25519PublicKey):
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        return jwk

    @property
    def private_jwk(self) -> dict[str, Any]:  # Any: JWK member values
        if isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            return dict(ECAlgorithm.to_jwk(self.private_key, as_dict=True))
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return dict(OKPAlgorithm.to_jwk(self.private_key, as_dict=True))
        return dict(RSAAlgorithm.to_jwk(self.private_key, as_dict=True))

    @property
    def thumbprint(self) -> str:
        """RFC 7638 §3: SHA-256 of the required members, sorted, without whitespace."""
        jwk = self.public_jwk
        members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
        canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
        return b64url(hashlib.sha256(canonical).digest())

    def proof(
        self,
        *,
        htm: str = "POST",
        htu: str = TOKEN_URL,
        iat: float | None = None,
        jti: str | None = None,
        access_token: str | None = None,
        nonce: str | None = None,
        header: dict[str, Any] | None = None,  # Any: header values; replaces the defaults
        claims: dict[str, Any] | None = None,  # Any: claim values; None values are removed
        signer: PrivateKey | None = None,
    ) -> str:
        payload: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": htm,
            "htu": htu,
            "iat": int(time.time()) if iat is None else iat,
        }
        if access_token is not None:
            payload["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        if nonce is not None:
            payload["nonce"] = nonce
        payload.update(claims or {})
        payload = {name: value for name, value in payload.items() if value is not None}
        headers = {"typ": "dpop+jwt", "jwk": self.public_jwk, **(header or {})}
        return jwt.encode(payload, signer or self.private_key, algorithm=self.alg, headers=headers)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:  # Any: JSON
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    return header, claims
