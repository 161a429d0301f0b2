"""Keys derived from AUTHSERVER_SECRET_KEY, one per purpose.

Each HMAC use gets a key of its own (HMAC of the secret key with a purpose label), so a value
made for one purpose (a client secret's hash, a DPoP nonce, a refresh token's successor) can
never be passed off as another's.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app


def derived_key(purpose: bytes) -> bytes:
    secret_key: str = current_app.config["SECRET_KEY"]
    return hmac.new(secret_key.encode(), purpose, hashlib.sha256).digest()
