"""The refresh token grant with rotation (RFC 6749 §6, RFC 9700 §4.14.2)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants

from authserver.models.users import User
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.dpop.token_binding import token_request_jkt
from authserver.oauth.grants.common import ALL_AUTH_METHODS, RotatedRefreshToken, utcnow
from authserver.oauth.refresh_rotation import rotate_refresh_token
from authserver.oauth.resources import RESOURCE_PARAMETER, token_target
from authserver.oauth.scopes import parse_scope
from authserver.oauth.tokens import Issue, issue_token_response


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RotatedRefreshToken | None:
        client: AuthlibClient = self.request.client
        rotation = rotate_refresh_token(
            refresh_token, client.model, now=utcnow(), jkt=token_request_jkt()
        )
        return RotatedRefreshToken(rotation) if rotation is not None else None

    def authenticate_user(self, refresh_token: RotatedRefreshToken) -> User | None:
        return refresh_token.user  # read with the token, in the same statement

    def revoke_old_credential(self, refresh_token: RotatedRefreshToken) -> None:
        """Already done: the token was marked rotated atomically when it was accepted."""

    def generate_token(self, user: User, scope: str, **_: Any) -> dict[str, Any]:
        # Authlib has checked that a requested scope only narrows the original one.
        parent: RotatedRefreshToken = self.request.refresh_token
        client: AuthlibClient = self.request.client
        scopes = _still_allowed(scope, client)
        # RFC 8707 §2.2: a refresh request may narrow the token to one of the grant's APIs.
        target = token_target(
            client.model,
            self.request.form.getlist(RESOURCE_PARAMETER),
            parent.row.resources,
            scopes,
        )
        return issue_token_response(
            Issue(
                client=client.model,
                scopes=scopes,
                now=utcnow(),
                grant_type=self.GRANT_TYPE,
                user=user,
                authentication=parent.authentication,
                grant_id=parent.row.family_id,
                refresh_parent=parent.row,
                include_refresh_token=True,
                refresh_token_value=parent.successor,
                refresh_token_stored=parent.repeated,
                refresh_scopes=_still_allowed(parent.row.scope, client),
                api=target.api,
                access_scopes=target.scopes,
                resources=tuple(parent.row.resources),
                dpop_jkt=token_request_jkt(),
            )
        )


def _still_allowed(scope: str | None, client: AuthlibClient) -> tuple[str, ...]:
    """Scopes an administrator has since removed from the client (`client update`) are dropped:
    narrowing is always allowed on refresh (RFC 6749 §6), widening never."""
    allowed = client.model.allowed_scopes
    return tuple(each for each in parse_scope(scope) if each in allowed)
