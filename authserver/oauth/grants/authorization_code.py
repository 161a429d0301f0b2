"""The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636)."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from authserver.extensions import db
from authserver.models.users import User
from authserver.oauth.client_adapter import AuthlibClient
from authserver.oauth.code_exchange import redeem_code
from authserver.oauth.dpop.token_binding import token_request_jkt
from authserver.oauth.grants.common import ALL_AUTH_METHODS, RedeemedCode, utcnow
from authserver.oauth.refresh_rotation import is_user_token_valid
from authserver.oauth.resources import RESOURCE_PARAMETER, token_target
from authserver.oauth.scopes import OFFLINE_ACCESS, OPENID, parse_scope
from authserver.oauth.tokens import Issue, issue_token_response

CODE_VERIFIER_CHARACTERS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def query_authorization_code(self, code: str, client: AuthlibClient) -> RedeemedCode | None:
        row = redeem_code(code, client.model, now=utcnow())
        return RedeemedCode(row) if row is not None else None

    def delete_authorization_code(self, authorization_code: RedeemedCode) -> None:
        """Nothing to delete: the row stays marked used, so a replay is recognised."""

    def authenticate_user(self, authorization_code: RedeemedCode) -> User | None:
        user = db.session.get(User, authorization_code.row.user_id)
        return user if is_user_token_valid(user, authorization_code.row.created_at) else None

    def generate_token(self, user: User, scope: str, **_: Any) -> dict[str, Any]:
        code: RedeemedCode = self.request.authorization_code
        client: AuthlibClient = self.request.client
        scopes = tuple(parse_scope(scope))
        target = token_target(
            client.model,
            self.request.form.getlist(RESOURCE_PARAMETER),
            code.row.resources,
            scopes,
        )
        return issue_token_response(
            Issue(
                client=client.model,
                scopes=scopes,
                now=utcnow(),
                grant_type=self.GRANT_TYPE,
                user=user,
                authentication=code.authentication,
                grant_id=code.row.grant_id,
                nonce=code.row.nonce,
                include_refresh_token=should_issue_refresh_token(client, scopes),
                api=target.api,
                access_scopes=target.scopes,
                resources=tuple(code.row.resources),
                dpop_jkt=token_request_jkt(),
            )
        )


def should_issue_refresh_token(client: AuthlibClient, scopes: tuple[str, ...]) -> bool:
    """OIDC Core §11: OpenID requests get a refresh token only with offline_access."""
    if not client.check_grant_type("refresh_token"):
        return False
    return OPENID not in scopes or OFFLINE_ACCESS in scopes


class ProofKeyForCodeExchange:
    """RFC 7636 §4.6 verification at the token endpoint, S256 only (RFC 9700 §2.1.1)."""

    def __call__(self, grant: grants.AuthorizationCodeGrant) -> None:
        grant.register_hook("after_validate_token_request", self.verify)

    def verify(self, grant: grants.AuthorizationCodeGrant, *_: Any) -> None:
        verifier = grant.request.form.get("code_verifier")
        code: RedeemedCode = grant.request.authorization_code
        if code.code_challenge is None:
            if verifier:
                # RFC 9700 §2.1.1: a verifier without a challenge is a PKCE downgrade attempt.
                raise InvalidRequestError("code_verifier sent, but no code_challenge was.")
            return
        if not verifier:
            raise InvalidRequestError("Missing 'code_verifier'.")
        # RFC 7636 §4.1: 43 to 128 unreserved characters.
        if not 43 <= len(verifier) <= 128 or not set(verifier) <= CODE_VERIFIER_CHARACTERS:
            raise InvalidRequestError("Malformed 'code_verifier'.")
        if create_s256_code_challenge(verifier) != code.code_challenge:
            raise InvalidGrantError("The code_verifier does not match the code_challenge.")
