"""GET/POST /oauth/userinfo (OIDC Core §5.3) with RFC 6750 bearer-token errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from authserver.accounts.roles import roles_claim
from authserver.models.users import User
from authserver.oauth.access_tokens import InvalidAccessToken, verify_access_token
from authserver.oauth.scopes import OPENID
from authserver.observability.request_log import note_request_party

bp = Blueprint("userinfo", __name__)
REALM = "authserver"


@dataclass(frozen=True)
class UserAccessToken:
    user: User
    scopes: list[str]


class BearerError(Exception):
    def __init__(self, status: int, error: str | None, description: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.description = status, error, description


@bp.route("/oauth/userinfo", methods=["GET", "POST"])
def userinfo() -> ResponseReturnValue:
    try:
        access = _authorised_access_token()
    except BearerError as error:
        return _bearer_error(error)
    response = jsonify(claims_for(access.user, access.scopes))
    response.headers["Cache-Control"] = "no-store"
    return response


def claims_for(user: User, scopes: list[str]) -> dict[str, Any]:  # Any: JSON claim values
    """OIDC Core §5.4: profile, email (and our roles) scopes unlock their claims; sub always."""
    claims: dict[str, Any] = {"sub": user.subject}
    if "profile" in scopes and user.name:
        claims["name"] = user.name
    if "email" in scopes:
        claims["email"] = user.email
        # True only once the owner followed a verification link sent to this very address.
        claims["email_verified"] = user.is_email_verified
    claims.update(roles_claim(user, scopes))
    return claims


def _authorised_access_token() -> UserAccessToken:
    token = _bearer_token()
    try:
        access = verify_access_token(token, now=datetime.now(UTC))
    except InvalidAccessToken:
        raise BearerError(401, "invalid_token", "The access token is not active.") from None
    if access.user is None or OPENID not in access.scopes:
        # OIDC Core §5.3: userinfo needs a user's access token issued with the openid scope.
        raise BearerError(403, "insufficient_scope", "The token lacks the openid scope.")
    note_request_party(user_subject=access.subject, client_id=access.client_id)
    return UserAccessToken(access.user, access.scopes)


def _bearer_token() -> str:
    """RFC 6750 §2.1 header or §2.2 form body; using both is invalid_request (§2)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    from_header = credentials.strip() if scheme.lower() == "bearer" else None
    from_body = (
        request.form.get("access_token")
        if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded"
        else None
    )
    if from_header and from_body:
        raise BearerError(400, "invalid_request", "Send the token one way only.")
    token = from_header or from_body
    if not token:
        # RFC 6750 §3.1: with no credentials at all, the challenge carries no error code.
        raise BearerError(401, None)
    return token


def _bearer_error(error: BearerError) -> Response:
    challenge = f'Bearer realm="{REALM}"'
    body: dict[str, str] = {}
    if error.error:
        challenge += f', error="{error.error}"'
        body["error"] = error.error
        if error.description:
            challenge += f', error_description="{error.description}"'
            body["error_description"] = error.description
    response = jsonify(body)
    response.status_code = error.status
    response.headers["WWW-Authenticate"] = challenge
    response.headers["Cache-Control"] = "no-store"
    return response
