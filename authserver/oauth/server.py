"""Authlib's authorization server, wired to our storage, grants and endpoints."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Flask, Response, current_app

from authserver.extensions import db
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.client_assertion import PrivateKeyJwt
from authserver.oauth.clients import find_client_snapshot
from authserver.oauth.dpop.token_binding import DPoPBinding
from authserver.oauth.grants.authorization_code import (
    AuthorizationCodeGrant,
    ProofKeyForCodeExchange,
)
from authserver.oauth.grants.client_credentials import ClientCredentialsGrant
from authserver.oauth.grants.device_code import DeviceCodeGrant
from authserver.oauth.grants.refresh_token import RefreshTokenGrant
from authserver.oauth.grants.token_exchange import TokenExchangeGrant
from authserver.observability.request_log import note_request_party

SERVER_EXTENSION = "authserver.oauth_server"


def _query_client(client_id: str) -> AuthlibClient | None:
    client = find_client_snapshot(client_id) if isinstance(client_id, str) else None
    return AuthlibClient(client) if client is not None else None


def _save_token(token: dict[str, Any], request: Any) -> None:  # Any: Authlib's request type
    """Issuing already staged what must be stored (the refresh token row): commit it."""
    db.session.commit()


class _AuthorizationServer(AuthorizationServer):  # type: ignore[misc]  # Authlib has no hints
    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Any:
        """Authlib's client authentication (token, introspection, revocation), noting the
        client for the request's log line."""
        client = super().authenticate_client(request, methods, endpoint)
        note_request_party(client_id=client.get_client_id())
        return client


def build_server(app: Flask) -> AuthorizationServer:
    server = _AuthorizationServer()
    server.init_app(app, query_client=_query_client, save_token=_save_token)
    server.register_client_auth_method(PrivateKeyJwt.CLIENT_AUTH_METHOD, PrivateKeyJwt())
    server.register_grant(AuthorizationCodeGrant, [ProofKeyForCodeExchange(), DPoPBinding()])
    server.register_grant(RefreshTokenGrant, [DPoPBinding()])
    server.register_grant(ClientCredentialsGrant, [DPoPBinding()])
    server.register_grant(TokenExchangeGrant, [DPoPBinding()])
    server.register_grant(DeviceCodeGrant, [DPoPBinding()])
    return server


def oauth_server() -> AuthorizationServer:
    server: AuthorizationServer = current_app.extensions[SERVER_EXTENSION]
    return server


def error_response(error: OAuth2Error) -> Response:
    """An RFC 6749 §5.2 error response (with Cache-Control: no-store) from Authlib's error."""
    response: Response = oauth_server().handle_error_response(None, error)
    return response
