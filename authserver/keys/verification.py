"""Verifying compact JWS tokens we signed ourselves (access tokens, ID token hints).

Only our own published keys are ever used, looked up by `kid`; the header cannot bring its own
key (`jwk`, `jku`, `x5u`, `x5c` are refused), cannot pick `none` or an HMAC algorithm, and must
name the algorithm its key was made for, which rules out algorithm-confusion forgeries.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from flask import current_app
from sqlalchemy import select

from authserver.extensions import db
from authserver.models.keys import SigningAlg, SigningKey

MAX_TOKEN_LENGTH = 16 * 1024
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
# A removed key stops verifying within this time in every process.
KEY_CACHE_TTL_SECONDS = 60.0
CACHE_EXTENSION = "authserver.keys.verification"

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class InvalidSignature(Exception):
    """Not a well-formed token signed by one of our published keys."""


@dataclass(frozen=True)
class VerificationKey:
    alg: SigningAlg
    key: PublicKey
    loaded_at: float


class VerificationKeyCache:
    def __init__(self) -> None:
        self.keys: dict[str, VerificationKey | None] = {}


def verify_compact_jws(token: str, *, expected_typ: str) -> dict[str, Any]:  # Any: JSON claims
    """Return the claims of a token signed by one of our keys; raise InvalidSignature."""
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or token.count(".") != 2:
        raise InvalidSignature
    encoded_header, encoded_claims, encoded_signature = token.split(".")
    header = _decode_json(encoded_header)
    if FORBIDDEN_HEADERS & header.keys() or not _typ_matches(header.get("typ"), expected_typ):
        raise InvalidSignature
    kid, alg = header.get("kid"), header.get("alg")
    if not isinstance(kid, str) or not isinstance(alg, str):
        raise InvalidSignature
    found = _find_key(kid)
    if found is None or found.alg.value != alg:
        raise InvalidSignature
    signing_input = f"{encoded_header}.{encoded_claims}".encode("ascii")
    _verify(found, signing_input, _decode(encoded_signature))
    return _decode_json(encoded_claims)


def _typ_matches(typ: object, expected: str) -> bool:
    # RFC 7515 §4.1.9: "application/" may be omitted from a media type; compare case-insensitively.
    if not isinstance(typ, str):
        return False
    return typ.lower().removeprefix("application/") == expected.lower()


def _decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSignature from None


def _decode_json(segment: str) -> dict[str, Any]:  # Any: JSON values
    try:
        value = json.loads(_decode(segment))
    except (UnicodeError, ValueError, RecursionError):
        # RecursionError: deeply nested JSON ("[[[[...") exhausts the parser's stack.
        raise InvalidSignature from None
    if not isinstance(value, dict):
        raise InvalidSignature
    return value


def _verify(found: VerificationKey, data: bytes, signature: bytes) -> None:
    try:
        if isinstance(found.key, rsa.RSAPublicKey):
            found.key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(found.key, ec.EllipticCurvePublicKey):
            # RFC 7518 §3.4: ES256 signatures are the 64-byte R || S.
            if len(signature) != 64:
                raise InvalidSignature
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            found.key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        else:
            found.key.verify(signature, data)
    except CryptographyInvalidSignature:
        raise InvalidSignature from None


def _find_key(kid: str) -> VerificationKey | None:
    cache: VerificationKeyCache = current_app.extensions[CACHE_EXTENSION]
    cached = cache.keys.get(kid)
    if cached is not None and time.monotonic() - cached.loaded_at < KEY_CACHE_TTL_SECONDS:
        return cached
    row = db.session.scalar(select(SigningKey).where(SigningKey.kid == kid))
    loaded = _load(row) if row is not None else None
    if loaded is not None:
        cache.keys[kid] = loaded
    else:
        cache.keys.pop(kid, None)  # unknown kids are not remembered: no cache flooding
    return loaded


def _load(row: SigningKey) -> VerificationKey:
    jwk = row.public_jwk
    key: PublicKey
    if row.alg is SigningAlg.RS256:
        key = rsa.RSAPublicNumbers(_uint(jwk["e"]), _uint(jwk["n"])).public_key()
    elif row.alg is SigningAlg.ES256:
        numbers = ec.EllipticCurvePublicNumbers(_uint(jwk["x"]), _uint(jwk["y"]), ec.SECP256R1())
        key = numbers.public_key()
    else:
        key = ed25519.Ed25519PublicKey.from_public_bytes(_decode(jwk["x"]))
    return VerificationKey(alg=row.alg, key=key, loaded_at=time.monotonic())


def _uint(value: str) -> int:
    return int.from_bytes(_decode(value), "big")


def init_app_cache(extensions: dict[str, Any]) -> None:  # Any: Flask's extensions registry
    extensions[CACHE_EXTENSION] = VerificationKeyCache()
