"""The logout token (Back-Channel Logout §2.4), a JWT signed like the client's ID tokens."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from authserver.config import current_settings
from authserver.keys.signing import sign_jwt
from authserver.models.clients import Client

# §2.4: explicit typing (RFC 8725 §3.11), so a logout token is never taken for an ID token.
LOGOUT_TOKEN_TYPE = "logout+jwt"
EVENT = "http://schemas.openid.net/event/backchannel-logout"
# §2.4 asks for a short life: it is signed just before each attempt, so two minutes is plenty.
LIFETIME_SECONDS = 120


def logout_token(client: Client, *, subject: str, sid: str, now: datetime) -> str:
    iat = int(now.timestamp())
    claims: dict[str, Any] = {  # Any: JSON claim values
        "iss": current_settings().issuer,
        "aud": client.client_id,
        "iat": iat,
        "exp": iat + LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(16),
        "events": {EVENT: {}},
        # §2.4: sub and/or sid. Both are sent: sid always (so a client that registered
        # backchannel_logout_session_required, §2.2, always has it), sub for clients that
        # track users rather than sessions. A nonce is never included (§2.4: MUST NOT).
        "sub": subject,
        "sid": sid,
    }
    return sign_jwt(claims, alg=client.id_token_signed_response_alg, typ=LOGOUT_TOKEN_TYPE)
