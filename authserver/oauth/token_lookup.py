"""Finding what a presented token is, for introspection and revocation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select

from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.tokens import RefreshToken
from authserver.models.users import User
from authserver.oauth.access_tokens import (
    AccessToken,
    InvalidAccessToken,
    verify_access_token,
    verify_signed_access_token,
)
from authserver.oauth.refresh_rotation import is_user_token_valid
from authserver.oauth.tokens import hash_refresh_token

ACCESS_TOKEN_HINT = "access_token"
REFRESH_TOKEN_HINT = "refresh_token"


@dataclass(frozen=True)
class FoundAccessToken:
    token: AccessToken


@dataclass(frozen=True)
class FoundRefreshToken:
    row: RefreshToken


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def find_active_access_token(token: str, *, now: datetime) -> FoundAccessToken | None:
    try:
        return FoundAccessToken(
            verify_access_token(token, now=now, load_user=False, any_audience=True)
        )
    except InvalidAccessToken:
        return None


def find_signed_access_token(token: str, *, now: datetime) -> FoundAccessToken | None:
    """A token we signed and that has not expired, whether or not it was revoked already."""
    try:
        return FoundAccessToken(verify_signed_access_token(token, now=now, any_audience=True))
    except InvalidAccessToken:
        return None


# The token with its user in one round trip: the user then sits in the session's identity map,
# so the state check and introspection's `sub` (db.session.get) cost no further query.
_REFRESH_TOKEN_WITH_USER = (
    select(RefreshToken, User)
    .join(User, User.id == RefreshToken.user_id)
    .where(RefreshToken.token_hash == bindparam("token_hash"))
)


def find_refresh_token(token: str) -> FoundRefreshToken | None:
    found = db.session.execute(
        _REFRESH_TOKEN_WITH_USER, {"token_hash": hash_refresh_token(token)}
    ).first()
    return FoundRefreshToken(found[0]) if found is not None else None


def is_refresh_token_active(row: RefreshToken, *, now: datetime) -> bool:
    if row.rotated_at is not None or row.revoked_at is not None:
        return False
    if row.expires_at <= now or row.idle_expires_at <= now:
        return False
    return is_user_token_valid(db.session.get(User, row.user_id), row.created_at)


def refresh_token_owner(row: RefreshToken) -> Client | None:
    return db.session.get(Client, row.client_pk)
