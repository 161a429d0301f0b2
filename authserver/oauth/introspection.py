"""POST /oauth/introspect (RFC 7662)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from authserver.extensions import db
from authserver.models.users import User
from authserver.oauth.access_tokens import token_audiences
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.dpop.resource import confirmed_jkt
from authserver.oauth.dpop.token_binding import DPOP_TOKEN_TYPE
from authserver.oauth.grants.common import CONFIDENTIAL_AUTH_METHODS
from authserver.oauth.request_checks import protocol_request_problem
from authserver.oauth.server import error_response, oauth_server
from authserver.oauth.token_lookup import (
    REFRESH_TOKEN_HINT,
    FoundAccessToken,
    FoundRefreshToken,
    find_active_access_token,
    find_refresh_token,
    is_refresh_token_active,
    looks_like_jwt,
    refresh_token_owner,
)

bp = Blueprint("introspection", __name__)
Found = FoundAccessToken | FoundRefreshToken


class TokenIntrospection(IntrospectionEndpoint):  # type: ignore[misc]  # Authlib has no hints
    # RFC 7662 §2.1: the caller must be authorized; only confidential clients can prove who
    # they are, so public clients cannot introspect.
    CLIENT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def check_params(self, request: Any, client: AuthlibClient) -> None:
        """Only `token` is required; an unknown token_type_hint is ignored, as the RFC says."""
        if not request.form.get("token"):
            raise InvalidRequestError("Missing 'token'.")

    def query_token(self, token: str, token_type_hint: str | None) -> Found | None:
        # RFC 7662 §2.1: the hint is only a hint; look everywhere if it is wrong.
        now = datetime.now(UTC)
        if looks_like_jwt(token) and token_type_hint != REFRESH_TOKEN_HINT:
            return find_active_access_token(token, now=now) or find_refresh_token(token)
        return find_refresh_token(token) or (
            find_active_access_token(token, now=now) if looks_like_jwt(token) else None
        )

    def check_permission(self, token: Found, client: AuthlibClient, request: Any) -> bool:
        """RFC 7662 §4: who may learn about a token. Its own client may; an access token also
        to the resource servers of its audience (clients registered with `--introspect-api`).
        A refresh token is for nobody else. Anyone else gets exactly ``{"active": false}``,
        so they cannot even tell whether the token exists."""
        if isinstance(token, FoundRefreshToken):
            return bool(token.row.client_pk == client.model.id)
        if token.token.client_id == client.model.client_id:
            return True
        audiences = token_audiences(token.token.claims)
        return not set(audiences).isdisjoint(client.model.introspect_apis)

    def create_introspection_payload(self, token: Found | None) -> dict[str, Any]:
        if isinstance(token, FoundAccessToken):
            # RFC 9449 §6.2: a bound token's `cnf` (in _access_fields), and its type, DPoP.
            bound = confirmed_jkt(token.token.claims) is not None
            token_type = DPOP_TOKEN_TYPE if bound else "Bearer"
            return {"active": True, "token_type": token_type, **_access_fields(token)}
        if isinstance(token, FoundRefreshToken) and is_refresh_token_active(
            token.row, now=datetime.now(UTC)
        ):
            return {"active": True, "token_type": "refresh_token", **_refresh_fields(token)}
        # RFC 7662 §2.2: for anything else, nothing but "active": false.
        return {"active": False}


def _access_fields(found: FoundAccessToken) -> dict[str, Any]:
    claims = found.token.claims
    names = (
        "scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "auth_time", "acr", "cnf",
        "act",  # RFC 8693 §4.1: who acts for the subject, for an exchanged token
    )  # fmt: skip
    return {name: claims[name] for name in names if name in claims}


def _refresh_fields(found: FoundRefreshToken) -> dict[str, Any]:
    row = found.row
    user = db.session.get(User, row.user_id)
    client = refresh_token_owner(row)
    return {
        "scope": row.scope,
        "client_id": client.client_id if client else None,
        "sub": user.subject if user else None,
        "exp": int(row.expires_at.timestamp()),
        "iat": int(row.created_at.timestamp()),
    }


@bp.post("/oauth/introspect")
def introspect() -> ResponseReturnValue:
    problem = protocol_request_problem(request)
    if problem is not None:
        return error_response(problem)
    response: Response = oauth_server().create_endpoint_response(TokenIntrospection.ENDPOINT_NAME)
    return response
