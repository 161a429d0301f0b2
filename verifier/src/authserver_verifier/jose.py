"""Reading a compact JWS (RFC 7515 §7.1) once, strictly, and checking its signature.

Our own few lines rather than PyJWT's reader: PyJWT 2.15 checks each base64url segment one
character at a time in Python, and reading the header and then the whole token through it cost
over half of a verification (bench/verifier_rate.py). One regular expression does the same
check. The signature itself is still PyJWT's algorithm objects over cryptography.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from jwt.algorithms import Algorithm, get_default_algorithms

from authserver_verifier.jwk import SUPPORTED_ALGORITHMS

# RFC 7515 §2: base64url without padding; RFC 7515 §7.1: three segments, dot-separated.
_COMPACT = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)")
# Our tokens and proofs are a few KB; anything far larger is refused before any decoding, so a
# hostile header cannot make every request parse megabytes.
MAX_JWS_LENGTH = 16 * 1024
_ALGORITHMS: dict[str, Algorithm] = {
    name: algorithm
    for name, algorithm in get_default_algorithms().items()
    if name in SUPPORTED_ALGORITHMS
}


class MalformedJws(Exception):
    """Not a compact JWS whose header and payload are JSON objects."""


@dataclass(frozen=True)
class CompactJws:
    header: dict[str, Any]  # Any: JSON values
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    def is_signed_by(self, key: Any, alg: str) -> bool:  # Any: a cryptography public key
        algorithm = _ALGORITHMS.get(alg)
        return algorithm is not None and algorithm.verify(self.signing_input, key, self.signature)


def parse_jws(token: str) -> CompactJws:
    if len(token) > MAX_JWS_LENGTH:
        raise MalformedJws("too long")
    match = _COMPACT.fullmatch(token)
    if match is None:
        raise MalformedJws("not three base64url segments")
    header, payload, signature = match.groups()
    return CompactJws(
        header=_json_object(header),
        payload=_json_object(payload),
        signing_input=f"{header}.{payload}".encode("ascii"),
        signature=_decode(signature),
    )


def _decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise MalformedJws("bad base64url") from None


def _json_object(segment: str) -> dict[str, Any]:
    try:
        document = json.loads(_decode(segment), object_pairs_hook=_unique_members)
    except ValueError:  # also UnicodeDecodeError and our duplicate-member refusal
        raise MalformedJws("not JSON") from None
    if not isinstance(document, dict):
        raise MalformedJws("not a JSON object")
    return document


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §4: a header with a repeated name MUST be rejected (or read last-wins); which
    # `alg` or `kid` counts should never depend on the parser, so repeats are refused.
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("repeated member name")
    return document
