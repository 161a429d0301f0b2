"""POST /oauth/revoke (RFC 7009)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.deny_list import JTI, deny
from authserver.oauth.grant_revocation import revoke_grant
from authserver.oauth.grants.common import ALL_AUTH_METHODS
from authserver.oauth.request_checks import protocol_request_problem
from authserver.oauth.server import error_response, oauth_server
from authserver.oauth.token_lookup import (
    ACCESS_TOKEN_HINT,
    FoundAccessToken,
    FoundRefreshToken,
    find_refresh_token,
    find_signed_access_token,
    looks_like_jwt,
)

bp = Blueprint("revocation", __name__)


class OwnedToken:
    """A found token with the check Authlib makes: was it issued to the caller?"""

    def __init__(self, found: FoundAccessToken | FoundRefreshToken) -> None:
        self.found = found

    def check_client(self, client: AuthlibClient) -> bool:
        if isinstance(self.found, FoundRefreshToken):
            return bool(self.found.row.client_pk == client.model.id)
        return self.found.token.client_id == client.model.client_id


class TokenRevocation(RevocationEndpoint):  # type: ignore[misc]  # Authlib has no hints
    # RFC 7009 §2.1: public clients may revoke their own tokens with just their client_id.
    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS

    def check_params(self, request: Any, client: AuthlibClient) -> None:
        """Only `token` is required; an unknown token_type_hint is ignored, as the RFC says."""
        if not request.form.get("token"):
            raise InvalidRequestError("Missing 'token'.")

    def query_token(self, token: str, token_type_hint: str | None) -> OwnedToken | None:
        now = datetime.now(UTC)
        access = find_signed_access_token(token, now=now) if looks_like_jwt(token) else None
        if token_type_hint == ACCESS_TOKEN_HINT:
            found = access or find_refresh_token(token)
        else:
            found = find_refresh_token(token) or access
        return OwnedToken(found) if found is not None else None

    def revoke_token(self, token: OwnedToken, request: Any) -> None:
        now = datetime.now(UTC)
        found = token.found
        if isinstance(found, FoundRefreshToken):
            # RFC 7009 §2.1: revoking a refresh token also ends the access tokens of its grant.
            revoke_grant(found.row.family_id, now=now)
            kind = "refresh_token"
        else:
            deny(JTI, found.token.jti, expires_at=found.token.expires_at)
            kind = "access_token"
        record_event(
            EventTag.TOKEN_REVOKED, client_id=request.client.get_client_id(), detail={"kind": kind}
        )
        db.session.commit()


@bp.post("/oauth/revoke")
def revoke() -> ResponseReturnValue:
    problem = protocol_request_problem(request)
    if problem is not None:
        return error_response(problem)
    response: Response = oauth_server().create_endpoint_response(TokenRevocation.ENDPOINT_NAME)
    return response
