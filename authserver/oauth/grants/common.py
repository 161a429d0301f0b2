"""What the grants share: client authentication methods, clock, and Authlib adapters."""

from __future__ import annotations

from datetime import UTC, datetime

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin

from authserver.models.tokens import AuthorizationCode, RefreshToken
from authserver.models.users import User
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.refresh_rotation import Rotation
from authserver.oauth.tokens import Authentication

CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
ALL_AUTH_METHODS = [*CONFIDENTIAL_AUTH_METHODS, "none"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def authentication_of(row: AuthorizationCode | RefreshToken) -> Authentication:
    """Codes and refresh tokens both carry the sign-in they descend from."""
    return Authentication(row.auth_time, row.acr, tuple(row.amr), row.session_id)


class RedeemedCode(AuthorizationCodeMixin):  # type: ignore[misc]  # Authlib ships no type hints
    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row
        # Read by Authlib-style PKCE checks.
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    @property
    def authentication(self) -> Authentication:
        return authentication_of(self.row)


class RotatedRefreshToken(TokenMixin):  # type: ignore[misc]
    def __init__(self, rotation: Rotation) -> None:
        self.row: RefreshToken = rotation.row
        self.user: User = rotation.user
        self.successor = rotation.successor
        self.repeated = rotation.repeated

    def check_client(self, client: AuthlibClient) -> bool:
        return bool(client.model.id == self.row.client_pk)

    def get_scope(self) -> str:
        return self.row.scope

    @property
    def authentication(self) -> Authentication:
        return authentication_of(self.row)
