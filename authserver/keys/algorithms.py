"""Per-algorithm key operations: generate, serialise, publish as a JWK, sign (RFC 7518, 8037).

Built on ``cryptography`` directly: it is a declared dependency, and the signing path then costs
one primitive call, with no JOSE key import or header validation per token.
"""

from __future__ import annotations

import base64
from typing import assert_never

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from authserver.keys.errors import CorruptKey, UnsupportedAlgorithm
from authserver.models.keys import SigningAlg

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

# 2048 bits: the fastest size that is still sound (NIST SP 800-57 accepts it through 2030), and
# every verifier supports it. A key signs for one rotation interval (90 days by default) and is
# removed minutes after, so its value to an attacker is short-lived; 3072 would make every RS256
# signature roughly three times slower for no gain within that window.
RSA_KEY_BITS = 2048
RSA_PUBLIC_EXPONENT = 65537
P256_COORDINATE_BYTES = 32
# The JWK members that may be published: identity and public parameters, never private ones.
PUBLIC_JWK_MEMBERS = frozenset({"kty", "kid", "alg", "use", "n", "e", "crv", "x", "y"})


def parse_alg(alg: str) -> SigningAlg:
    try:
        return SigningAlg(alg)
    except ValueError:
        raise UnsupportedAlgorithm(alg) from None


def generate_private_key(alg: SigningAlg) -> PrivateKey:
    match alg:
        case SigningAlg.RS256:
            return rsa.generate_private_key(
                public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_BITS
            )
        case SigningAlg.ES256:
            return ec.generate_private_key(ec.SECP256R1())
        case SigningAlg.EDDSA:
            return ed25519.Ed25519PrivateKey.generate()
        case _:  # a new SigningAlg member must be handled above; mypy checks that here
            assert_never(alg)


def private_key_to_der(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),  # the caller seals it with security.crypto
    )


def private_key_from_der(der: bytes, alg: SigningAlg) -> PrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if alg is SigningAlg.RS256 and isinstance(key, rsa.RSAPrivateKey):
        return key
    if (
        alg is SigningAlg.ES256
        and isinstance(key, ec.EllipticCurvePrivateKey)
        and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    if alg is SigningAlg.EDDSA and isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    # A row whose key does not fit its alg is corrupt; refuse it rather than sign wrongly.
    raise CorruptKey(alg.value)


def public_jwk(key: PrivateKey, *, alg: SigningAlg, kid: str) -> dict[str, str]:
    """The public half as a JWK (RFC 7517), labelled for signing with ``alg`` only."""
    return {"kid": kid, "alg": alg.value, "use": "sig", **_public_parameters(key)}


def _public_parameters(key: PrivateKey) -> dict[str, str]:
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        return {"kty": "RSA", "n": _b64_uint(numbers.n), "e": _b64_uint(numbers.e)}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        point = key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            # RFC 7518 §6.2.1.2: coordinates are padded to the full field size.
            "x": b64url(point.x.to_bytes(P256_COORDINATE_BYTES, "big")),
            "y": b64url(point.y.to_bytes(P256_COORDINATE_BYTES, "big")),
        }
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def sign(key: PrivateKey, data: bytes) -> bytes:
    """The JWS signature of ``data`` in the form its algorithm prescribes."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # RFC 7518 §3.4: ES256 is the fixed-size R || S, not the DER that cryptography returns.
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(P256_COORDINATE_BYTES, "big") + s.to_bytes(P256_COORDINATE_BYTES, "big")
    return key.sign(data)


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64_uint(value: int) -> str:
    # RFC 7518 §2: unsigned big-endian in the fewest octets.
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))
