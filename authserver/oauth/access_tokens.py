"""Verifying our own access tokens: for userinfo, introspection and revocation.

Downstream services verify locally against the JWKS; here we can do more (DESIGN.md "Tokens"):
after the signature and claims, the deny list and the user's `tokens_valid_after` are checked,
so a revoked token is inactive here at once and everywhere within one token lifetime.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, exists, select

from authserver.config import current_settings
from authserver.database_reads import read_rows
from authserver.extensions import db
from authserver.keys.verification import InvalidSignature, verify_compact_jws
from authserver.models.clients import Client
from authserver.models.users import User
from authserver.oauth.deny_list import IS_DENIED
from authserver.oauth.refresh_rotation import is_issue_still_valid, is_user_token_valid
from authserver.oauth.scopes import parse_scope
from authserver.oauth.tokens import ACCESS_TOKEN_TYPE, GRANT_ID_CLAIM

CLOCK_SKEW_SECONDS = 30


class InvalidAccessToken(Exception):
    """Not an active access token of ours. Deliberately without detail for the caller."""


@dataclass(frozen=True)
class AccessToken:
    claims: dict[str, Any]  # Any: the verified JSON claims
    # The token's user, loaded by verify_access_token for a user's token; None otherwise.
    user: User | None = None

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def client_id(self) -> str:
        return str(self.claims["client_id"])

    @property
    def scopes(self) -> list[str]:
        return parse_scope(str(self.claims.get("scope", "")))

    @property
    def jti(self) -> str:
        return str(self.claims["jti"])

    @property
    def grant_id(self) -> str | None:
        value = self.claims.get(GRANT_ID_CLAIM)
        return str(value) if value is not None else None

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(int(self.claims["exp"]), UTC)

    @property
    def is_for_user(self) -> bool:
        # Client-credentials tokens carry no authentication event (RFC 9068 §2.2.1).
        return "auth_time" in self.claims


def verify_signed_access_token(
    token: str, *, now: datetime, any_audience: bool = False
) -> AccessToken:
    """Signature, type and standard claims: what any verifier can check (RFC 9068 §4).

    The token must be for the issuer itself (userinfo), unless ``any_audience``: introspection
    and revocation handle tokens for every API (RFC 8707) as well.
    """
    try:
        claims = verify_compact_jws(token, expected_typ=ACCESS_TOKEN_TYPE)
    except InvalidSignature:
        raise InvalidAccessToken from None
    settings = current_settings()
    audience = None if any_audience else settings.issuer
    if not _has_valid_claims(claims, settings.issuer, audience, now=now):
        raise InvalidAccessToken
    return AccessToken(claims)


# What the server knows beyond the signature, in one round trip (userinfo and introspection run
# this on every request): is the token denied, does its client still exist, and, for a user's
# token, the user (to check state, and for userinfo's claims). Built once, like find_client's.
_CLIENT_EXISTS = exists().where(Client.client_id == bindparam("client_id"))
_USER_TOKEN_STATE = select(
    User, IS_DENIED.label("denied"), _CLIENT_EXISTS.label("client_exists")
).where(User.subject == bindparam("subject"))
_CLIENT_TOKEN_STATE = select(IS_DENIED.label("denied"), _CLIENT_EXISTS.label("client_exists"))
# Introspection needs the user's state, not the user: two columns, no ORM object to build.
# Named by the table's columns, not the model's attributes: the same SQL, but a statement
# without an ORM entity skips the ORM's compile and result steps (database_reads.py).
_USERS = User.__table__.c
_USER_TOKEN_VALIDITY = select(
    _USERS.is_disabled,
    _USERS.tokens_valid_after,
    IS_DENIED.label("denied"),
    _CLIENT_EXISTS.label("client_exists"),
).where(_USERS.subject == bindparam("subject"))


def verify_access_token(
    token: str, *, now: datetime, load_user: bool = True, any_audience: bool = False
) -> AccessToken:
    """Everything: signature and claims, then deny list, user state and client existence.

    ``load_user=False`` checks the same and leaves ``user`` None (introspection's answer is
    made from the claims alone). ``any_audience`` as for :func:`verify_signed_access_token`.
    """
    access = verify_signed_access_token(token, now=now, any_audience=any_audience)
    parameters = {"jti": access.jti, "grant_id": access.grant_id, "client_id": access.client_id}
    if not access.is_for_user:
        denied, client_exists = read_rows(_CLIENT_TOKEN_STATE, parameters).one()
        if denied or not client_exists:
            raise InvalidAccessToken
        return access
    issued_at = datetime.fromtimestamp(int(access.claims["iat"]), UTC)
    parameters["subject"] = access.subject
    if not load_user:
        _check_user_token_state(parameters, issued_at)
        return access
    row = db.session.execute(_USER_TOKEN_STATE, parameters).first()
    if row is None:  # the user is gone
        raise InvalidAccessToken
    user, denied, client_exists = row
    if denied or not client_exists or not is_user_token_valid(user, issued_at):
        raise InvalidAccessToken
    return replace(access, user=user)


def _check_user_token_state(parameters: dict[str, str | None], issued_at: datetime) -> None:
    """verify_access_token's checks of a user's token, from the user's columns alone."""
    state = read_rows(_USER_TOKEN_VALIDITY, parameters).first()
    if state is None:  # the user is gone
        raise InvalidAccessToken
    is_disabled, tokens_valid_after, denied, client_exists = state
    if denied or not client_exists:
        raise InvalidAccessToken
    if not is_issue_still_valid(is_disabled, tokens_valid_after, issued_at):
        raise InvalidAccessToken


def _has_valid_claims(
    claims: dict[str, Any], issuer: str, audience: str | None, *, now: datetime
) -> bool:
    """``audience`` None: any audience (a string or list of strings, as we issue)."""
    required_strings = ("iss", "sub", "client_id", "jti")
    if not all(isinstance(claims.get(name), str) for name in required_strings):
        return False
    if not all(_is_number(claims.get(name)) for name in ("exp", "iat")):
        return False
    audiences = token_audiences(claims)
    timestamp = now.timestamp()
    return (
        claims["iss"] == issuer
        and bool(audiences)
        and (audience is None or audience in audiences)
        and claims["exp"] > timestamp
        and claims["iat"] <= timestamp + CLOCK_SKEW_SECONDS
    )


def token_audiences(claims: dict[str, Any]) -> list[str]:  # Any: the verified JSON claims
    """`aud` as a list (RFC 7519 §4.1.3: a string or an array of strings); [] if malformed."""
    audience = claims.get("aud")
    audiences: list[object] = audience if isinstance(audience, list) else [audience]
    return [each for each in audiences if isinstance(each, str)]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
