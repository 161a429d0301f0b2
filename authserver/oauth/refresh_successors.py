"""A refresh token's successor: derived from the token it replaces, so it can be handed out twice.

When a rotation's response is lost (a mobile client on a bad network), the client presents the
old token again. Within the grace (oauth/refresh_rotation.py) it gets the same successor as the
first answer carried: the successor is an HMAC of the presented token under a key derived from
AUTHSERVER_SECRET_KEY, so it is worked out again from what the client sends rather than kept
anywhere. The database holds only its SHA-256 hash, like every refresh token; recomputing it
needs both the old token (held by the client alone) and the server's secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from authserver.security.derived_keys import derived_key

_PURPOSE = b"authserver refresh token successor v1"


def successor_token(presented: str) -> str:
    """The refresh token that replaces `presented`: 256 bits, base64url like a fresh one."""
    mac = hmac.new(derived_key(_PURPOSE), presented.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
