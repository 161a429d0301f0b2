"""The two DPoP error codes (RFC 9449 §12.2), as Authlib errors so the token endpoint renders
them like any other RFC 6749 §5.2 error; userinfo turns them into a ``DPoP`` challenge."""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import OAuth2Error


class InvalidDPoPProof(OAuth2Error):  # type: ignore[misc]  # Authlib ships no type hints
    """RFC 9449 §5: the proof is missing where required, malformed, or fails a §4.3 check."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDPoPNonce(OAuth2Error):  # type: ignore[misc]
    """RFC 9449 §8: the proof lacks a current server nonce; the response carries a new one."""

    error = "use_dpop_nonce"
    status_code = 400
