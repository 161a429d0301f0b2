"""Refresh token rotation with reuse detection (RFC 9700 §4.14.2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from authserver.audit import EventTag
from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.tokens import RefreshFamily, RefreshToken
from authserver.models.users import User
from authserver.oauth.grant_revocation import revoke_replayed_grant
from authserver.oauth.tokens import hash_refresh_token


def is_user_token_valid(user: User | None, issued_at: datetime) -> bool:
    """A disabled or deleted user, or one who reset everything since, holds no valid token."""
    if user is None or user.is_disabled:
        return False
    return user.tokens_valid_after is None or issued_at >= user.tokens_valid_after


def rotate_refresh_token(token: str, client: Client, *, now: datetime) -> RefreshToken | None:
    """Consume a refresh token for rotation; None when it cannot be used.

    The conditional UPDATE lets exactly one of two concurrent requests win; the loser finds the
    token already rotated and is treated as a reuse, which revokes the family (DESIGN.md).
    """
    token_hash = hash_refresh_token(token)
    row: RefreshToken | None = db.session.scalar(
        select(RefreshToken).where(
            RefreshToken.token_hash == token_hash, RefreshToken.client_pk == client.id
        )
    )
    if row is None or not is_user_token_valid(db.session.get(User, row.user_id), row.created_at):
        return None
    if not _lock_live_family(row.family_id):
        return None
    claimed = db.session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == row.id,
            RefreshToken.rotated_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
            RefreshToken.idle_expires_at > now,
        )
        .values(rotated_at=now)
    )
    if claimed.rowcount == 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
        db.session.refresh(row)
        return row
    db.session.refresh(row)
    if row.rotated_at is not None:
        # RFC 9700 §4.14.2: a rotated token presented again means the family has leaked.
        revoke_replayed_grant(
            row.family_id, user_id=row.user_id, client=client, tag=EventTag.REFRESH_REUSED, now=now
        )
    return None


def _lock_live_family(family_id: str) -> bool:
    """Hold the family row until commit; False when the family was revoked meanwhile."""
    family = db.session.scalar(
        select(RefreshFamily)
        .where(RefreshFamily.id == family_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # the locked, current row, not a cached one
    )
    return family is not None and family.revoked_at is None
