"""The token-exchange grant at the token endpoint (RFC 8693 §2); the rules are in
oauth/token_exchange.py."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import UnauthorizedClientError
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc6749.hooks import hooked

from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.clients import TOKEN_EXCHANGE
from authserver.oauth.dpop.token_binding import token_request_jkt
from authserver.oauth.grants.common import CONFIDENTIAL_AUTH_METHODS, utcnow
from authserver.oauth.token_exchange import Exchange, check_exchange, issue_exchanged_token


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]  # no hints
    GRANT_TYPE = TOKEN_EXCHANGE
    # The client acts for the user with a token of the user's: it must prove who it is, so
    # that its exchange policy is its own (public clients cannot register the grant).
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_token_request(self) -> None:
        client: AuthlibClient = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            # RFC 6749 §5.2: authenticated, but not allowed this grant type.
            raise UnauthorizedClientError(
                f"The client is not authorized to use 'grant_type={self.GRANT_TYPE}'"
            )
        self.request.client = client
        # One clock for the checks and the issue: the new token's life is capped by the
        # subject token's, and a second read could find that life already over.
        self.now = utcnow()
        self.exchange: Exchange = check_exchange(client.model, self.request.form, now=self.now)

    @hooked  # type: ignore[untyped-decorator]  # Authlib's decorator has no hints
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # The DPoP binding's checks (server.py) run as this method's "before" hook.
        token = issue_exchanged_token(self.exchange, now=self.now, dpop_jkt=token_request_jkt())
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER
