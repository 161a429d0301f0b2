"""Client secrets: 256-bit random values, stored as a keyed hash.

A password hash (argon2) would cost milliseconds on every token request for no gain: a random
256-bit secret cannot be guessed offline, so a fast HMAC is the right tool (DESIGN.md "Tokens").
The HMAC key is derived from AUTHSERVER_SECRET_KEY for this purpose only, so a stolen database
alone does not even allow checking a candidate secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from authserver.security.derived_keys import derived_key

_PURPOSE = b"authserver client secret v1"


def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str) -> str:
    return hmac.new(derived_key(_PURPOSE), secret.encode(), hashlib.sha256).hexdigest()


def is_client_secret_valid(secret: str, stored_hash: str | None) -> bool:
    if not stored_hash:
        return False
    return hmac.compare_digest(hash_client_secret(secret), stored_hash)
