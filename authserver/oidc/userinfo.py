"""GET/POST /oauth/userinfo (OIDC Core §5.3): RFC 6750 bearer tokens and RFC 9449 DPoP tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from authserver.accounts.roles import roles_claim
from authserver.models.users import User
from authserver.oauth.access_tokens import InvalidAccessToken, verify_access_token
from authserver.oauth.dpop.errors import InvalidDPoPProof, UseDPoPNonce
from authserver.oauth.dpop.resource import (
    DPOP_SCHEME,
    BoundTokenMisused,
    check_token_binding,
    dpop_challenge,
)
from authserver.oauth.dpop.token_binding import with_nonce
from authserver.oauth.scopes import OPENID
from authserver.observability.request_log import note_request_party

bp = Blueprint("userinfo", __name__)
REALM = "authserver"
USERINFO_PATH = "/oauth/userinfo"
BEARER_SCHEME = "Bearer"


@dataclass(frozen=True)
class UserAccessToken:
    user: User
    scopes: list[str]


class BearerError(Exception):
    """An error answered with a challenge in ``scheme`` (the one the request used); None when
    the request had no credentials, which is challenged in both schemes (RFC 9449 §7.2)."""

    def __init__(
        self,
        status: int,
        error: str | None,
        description: str | None = None,
        *,
        scheme: str | None = BEARER_SCHEME,
    ) -> None:
        super().__init__(error)
        self.status, self.error, self.description = status, error, description
        self.scheme = scheme


@bp.route(USERINFO_PATH, methods=["GET", "POST"])
def userinfo() -> ResponseReturnValue:
    try:
        access = _authorised_access_token()
    except BearerError as error:
        return with_nonce(_bearer_error(error))
    response = jsonify(claims_for(access.user, access.scopes))
    response.headers["Cache-Control"] = "no-store"
    return with_nonce(response)


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
    scheme, token = _presented_token()
    now = datetime.now(UTC)
    try:
        access = verify_access_token(token, now=now)
    except InvalidAccessToken:
        raise BearerError(
            401, "invalid_token", "The access token is not active.", scheme=scheme
        ) from None
    try:
        check_token_binding(
            request, scheme=scheme, token=token, claims=access.claims, path=USERINFO_PATH, now=now
        )
    except BoundTokenMisused as error:
        raise BearerError(401, "invalid_token", error.description, scheme=DPOP_SCHEME) from None
    except (InvalidDPoPProof, UseDPoPNonce) as error:
        # RFC 9449 §7.1, §9: proof problems are a 401 with a DPoP challenge at a resource.
        raise BearerError(401, error.error, error.description, scheme=DPOP_SCHEME) from None
    if access.user is None or OPENID not in access.scopes:
        # OIDC Core §5.3: userinfo needs a user's access token issued with the openid scope.
        raise BearerError(
            403, "insufficient_scope", "The token lacks the openid scope.", scheme=scheme
        )
    note_request_party(user_subject=access.subject, client_id=access.client_id)
    return UserAccessToken(access.user, access.scopes)


def _presented_token() -> tuple[str, str]:
    """The scheme and the token: RFC 6750 §2.1 header or §2.2 form body (using both is
    invalid_request, §2), or RFC 9449 §7.1 ``Authorization: DPoP`` (a header only)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == DPOP_SCHEME.lower() and credentials.strip():
        return DPOP_SCHEME, credentials.strip()
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
        raise BearerError(401, None, scheme=None)
    return BEARER_SCHEME, token


def _bearer_error(error: BearerError) -> Response:
    body: dict[str, str] = {}
    if error.error:
        body["error"] = error.error
        if error.description:
            body["error_description"] = error.description
    response = jsonify(body)
    response.status_code = error.status
    if error.scheme in (None, BEARER_SCHEME):
        response.headers.add("WWW-Authenticate", _bearer_challenge(error))
    if error.scheme in (None, DPOP_SCHEME):
        response.headers.add("WWW-Authenticate", dpop_challenge(error.error, error.description))
    response.headers["Cache-Control"] = "no-store"
    return response


def _bearer_challenge(error: BearerError) -> str:
    challenge = f'Bearer realm="{REALM}"'
    if error.error:
        challenge += f', error="{error.error}"'
        if error.description:
            challenge += f', error_description="{error.description}"'
    return challenge
