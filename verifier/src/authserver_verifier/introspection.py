"""Asking the issuer whether a token is still active (RFC 7662), for routes that must see a
revocation at once rather than when the token expires.

Used after the local checks, so a forged or expired token never costs a round trip. The service
authenticates as a confidential client with client_secret_basic (RFC 6749 §2.3.1). Any failure
to get an answer refuses the request: an unknown answer is not "active".
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus, urlencode

from authserver_verifier.errors import ConfigurationError, InvalidToken, VerifierUnavailable
from authserver_verifier.http import FetchFailed, check_url, post_form
from authserver_verifier.keys import IssuerKeys


class Introspector:
    def __init__(
        self, keys: IssuerKeys, *, client_id: str, client_secret: str, timeout_seconds: float = 5.0
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigurationError("introspection needs a client_id and a client_secret")
        self._keys = keys
        self._timeout_seconds = timeout_seconds
        # RFC 6749 §2.3.1: each part is form-urlencoded before they are joined and encoded.
        pair = f"{quote_plus(client_id, safe='')}:{quote_plus(client_secret, safe='')}"
        self._authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")

    def __repr__(self) -> str:  # never show the credentials
        return f"Introspector(issuer={self._keys.issuer!r})"

    def require_active(self, access_token: str) -> None:
        """Raise InvalidToken unless the issuer says the token is active right now."""
        endpoint = self._endpoint()
        form = urlencode({"token": access_token, "token_type_hint": "access_token"}).encode()
        try:
            answer = post_form(
                endpoint,
                form,
                headers={"Authorization": self._authorization},
                timeout_seconds=self._timeout_seconds,
            )
        except FetchFailed:
            raise VerifierUnavailable("introspection_unavailable") from None
        # RFC 7662 §2.2: `active` is a boolean; only a literal true means the token may be used.
        if answer.document.get("active") is not True:
            raise InvalidToken("inactive")

    def _endpoint(self) -> str:
        endpoint = self._keys.discovery().get("introspection_endpoint")
        if not isinstance(endpoint, str):
            raise VerifierUnavailable("no_introspection_endpoint")
        try:
            return check_url(endpoint, what="introspection_endpoint")
        except ConfigurationError:
            raise VerifierUnavailable("introspection_endpoint_not_https") from None
