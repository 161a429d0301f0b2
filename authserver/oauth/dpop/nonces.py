"""Server-provided DPoP nonces (RFC 9449 §8), valid on every instance with nothing shared.

A nonce is an HMAC of the current time window under a key derived from AUTHSERVER_SECRET_KEY
for this purpose only (STYLE.md: tokens for different purposes never share a key). Every
instance computes the same value, so no store is needed; a nonce is accepted in its own
window and the next, so one handed out just before a window ends still works for at least
one full window. Nothing about the client is in it: the nonce limits how long a proof can be
prepared in advance (§11.2), and the jti store (replay.py) stops reuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from authserver.security.derived_keys import derived_key

NONCE_WINDOW_SECONDS = 300
_PURPOSE = b"authserver dpop nonce v1"


def current_nonce(*, now: datetime) -> str:
    return _nonce_for(_window(now))


def is_current_nonce(nonce: object, *, now: datetime) -> bool:
    """The nonce of this window or the one before (so windows can roll under a client)."""
    if not isinstance(nonce, str) or not nonce.isascii():
        return False
    window = _window(now)
    # Both compared, in constant time: which window matched is nobody's business.
    matches = [hmac.compare_digest(nonce, _nonce_for(each)) for each in (window, window - 1)]
    return any(matches)


def _window(now: datetime) -> int:
    return int(now.timestamp()) // NONCE_WINDOW_SECONDS


def _nonce_for(window: int) -> str:
    mac = hmac.new(derived_key(_PURPOSE), window.to_bytes(8, "big", signed=True), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
