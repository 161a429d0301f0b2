"""The client credentials grant (RFC 6749 §4.4): confidential clients acting for themselves."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidScopeError

from authserver.extensions import db
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.dpop.token_binding import token_request_jkt
from authserver.oauth.grants.common import CONFIDENTIAL_AUTH_METHODS, utcnow
from authserver.oauth.resources import RESOURCE_PARAMETER, token_target
from authserver.oauth.scopes import (
    STANDARD_SCOPES,
    is_valid_scope_string,
    parse_scope,
)
from authserver.oauth.tokens import Issue, issue_token_response


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    # RFC 6749 §4.4: MUST only be used by confidential clients.
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def validate_requested_scope(self) -> None:
        """Only the client's own API scopes; user scopes such as openid mean nothing here."""
        client: AuthlibClient = self.request.client
        raw = self.request.payload.scope
        if raw is None:
            return
        if not is_valid_scope_string(raw):
            raise InvalidScopeError("The scope is malformed.")
        allowed = _api_scopes(client)
        if not set(parse_scope(raw)) <= allowed:
            raise InvalidScopeError("The requested scope is not allowed for this client.")

    def save_token(self, token: dict[str, Any]) -> None:
        """The token itself is not stored (a signed JWT, DESIGN.md "Tokens") and its audit
        event is a log line, not a row: usually nothing is staged, and an empty commit is a
        round trip for nothing (BENCHMARKS.md). Commit only what something did stage."""
        session = db.session
        if session.new or session.dirty or session.deleted:
            session.commit()

    def generate_token(self, scope: str | None, **_: Any) -> dict[str, Any]:
        client: AuthlibClient = self.request.client
        scopes = tuple(parse_scope(scope) or sorted(_api_scopes(client)))
        # No grant limits the APIs here: any the client may use (RFC 8707 §2).
        target = token_target(
            client.model, self.request.form.getlist(RESOURCE_PARAMETER), None, scopes
        )
        return issue_token_response(
            Issue(
                client=client.model,
                scopes=scopes,
                now=utcnow(),
                grant_type=self.GRANT_TYPE,
                api=target.api,
                access_scopes=target.scopes,
                dpop_jkt=token_request_jkt(),
            )
        )


def _api_scopes(client: AuthlibClient) -> set[str]:
    return {scope for scope in client.model.allowed_scopes if scope not in STANDARD_SCOPES}
