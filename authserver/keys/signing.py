"""Compact JWS (RFC 7515) signed with the active key: how every token gets its signature."""

from __future__ import annotations

import json
from typing import Any

from authserver.keys.algorithms import b64url
from authserver.keys.manager import get_signing_key

# `typ` header values, not secrets (S105 guesses from the names).
ACCESS_TOKEN_TYP = "at+jwt"
ID_TOKEN_TYP = "JWT"


def sign_jwt(claims: dict[str, Any], *, alg: str, typ: str) -> str:  # Any: JSON claim values
    """Sign ``claims`` with the active ``alg`` key; the header names the key by its kid."""
    handle = get_signing_key(alg)
    header = {"alg": handle.alg.value, "kid": handle.kid, "typ": typ}
    signing_input = f"{_encode_json(header)}.{_encode_json(claims)}"
    signature = handle.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def _encode_json(value: dict[str, Any]) -> str:  # Any: JSON values
    # Compact separators: tokens travel in headers, every byte counts.
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))
