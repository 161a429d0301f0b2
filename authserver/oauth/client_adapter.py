"""Our Client model as Authlib's ClientMixin expects to see it."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import ClientMixin

from authserver.models.clients import Client
from authserver.oauth.client_secrets import is_client_secret_valid
from authserver.oauth.redirect_uris import matches_registered
from authserver.oauth.scopes import format_scope, parse_scope

# Endpoints other than the token endpoint that accept the client's own auth method.
_ENDPOINTS = (
    "token",
    "introspection",
    "revocation",
    "pushed_authorization",
    "device_authorization",
)


class AuthlibClient(ClientMixin):  # type: ignore[misc]  # Authlib ships no type hints
    def __init__(self, model: Client) -> None:
        self.model = model

    def get_client_id(self) -> str:
        return self.model.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core §3.1.2.1 makes redirect_uri REQUIRED, so there is no default to fall back on.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.model.allowed_scopes
        return format_scope(s for s in parse_scope(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return matches_registered(
            redirect_uri, self.model.redirect_uris, is_public_client=self.model.is_public
        )

    def check_client_secret(self, client_secret: str) -> bool:
        return is_client_secret_valid(client_secret, self.model.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A client authenticates one way only: the method it registered (RFC 7591 §2).
        return endpoint in _ENDPOINTS and method == self.model.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.model.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.model.grant_types
