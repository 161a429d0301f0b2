"""`id_token_hint`: an ID token we issued earlier, naming the user a relying party means.

Shared by the authorization endpoint (OIDC Core §3.1.2.1) and RP-initiated logout (RP-Initiated
Logout 1.0 §2). Both take it as a statement about *who*, not as a credential, so only what makes
it ours is checked: our signature (keys/verification.py) and our issuer. Its expiry is not: an
RP commonly sends the ID token it got at sign-in, long after it expired, and both specs allow it.
"""

from __future__ import annotations

from typing import Any

from authserver.config import current_settings
from authserver.keys.verification import InvalidSignature, verify_compact_jws
from authserver.oauth.tokens import ID_TOKEN_TYPE


class InvalidIdTokenHint(Exception):
    """Not an ID token this server issued (forged, foreign, another kind of token, garbage)."""


def verified_id_token_hint(hint: str) -> dict[str, Any]:  # Any: JSON claim values
    """The hint's claims, with `sub` a string; raise InvalidIdTokenHint otherwise."""
    try:
        claims = verify_compact_jws(hint, expected_typ=ID_TOKEN_TYPE)
    except InvalidSignature:
        raise InvalidIdTokenHint from None
    settings = current_settings()
    if claims.get("iss") != settings.issuer or not isinstance(claims.get("sub"), str):
        raise InvalidIdTokenHint
    return claims
