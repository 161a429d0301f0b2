"""Refresh token rotation with reuse detection (RFC 9700 §4.14.2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from authserver.audit.events import EventTag
from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.tokens import RefreshFamily, RefreshToken
from authserver.models.users import User
from authserver.oauth.grant_revocation import revoke_replayed_grant
from authserver.oauth.tokens import hash_refresh_token


def is_user_token_valid(user: User | None, issued_at: datetime) -> bool:
    """A disabled or deleted user, or one who reset everything since, holds no valid token."""
    if user is None:
        return False
    return is_issue_still_valid(user.is_disabled, user.tokens_valid_after, issued_at)


def is_issue_still_valid(
    is_disabled: bool, tokens_valid_after: datetime | None, issued_at: datetime
) -> bool:
    """:func:`is_user_token_valid` from the user's two columns, for callers that read only those."""
    if is_disabled:
        return False
    return tokens_valid_after is None or issued_at >= tokens_valid_after


# Built once (token requests are the hot path): the presented token of this client with its
# user, in one round trip.
_CLIENTS_TOKEN_WITH_USER = (
    select(RefreshToken, User)
    .join(User, User.id == RefreshToken.user_id)
    .where(
        RefreshToken.token_hash == bindparam("token_hash"),
        RefreshToken.client_pk == bindparam("client_pk"),
    )
)
_CLAIM_FOR_ROTATION = (
    update(RefreshToken)
    .where(
        RefreshToken.id == bindparam("token_id"),
        RefreshToken.rotated_at.is_(None),
        RefreshToken.revoked_at.is_(None),
        RefreshToken.expires_at > bindparam("now"),
        RefreshToken.idle_expires_at > bindparam("now"),
    )
    .values(rotated_at=bindparam("now"))
    .returning(RefreshToken.id)
    # The caller's copy of the row is brought up to date below, without another SELECT.
    .execution_options(synchronize_session=False)
)


def rotate_refresh_token(
    token: str, client: Client, *, now: datetime
) -> tuple[RefreshToken, User] | None:
    """Consume a refresh token for rotation: the row and its user; None when it cannot be used.

    The user comes back too because the session's identity map holds loaded objects weakly:
    dropped here, it would be read again (a second SELECT) by whoever needs it next.

    The conditional UPDATE lets exactly one of two concurrent requests win; the loser finds the
    token already rotated and is treated as a reuse, which revokes the family (DESIGN.md).
    """
    found = db.session.execute(
        _CLIENTS_TOKEN_WITH_USER,
        {"token_hash": hash_refresh_token(token), "client_pk": client.id},
    ).first()
    if found is None:
        return None
    row, user = found
    if not is_user_token_valid(user, row.created_at):
        return None
    if not _lock_live_family(row.family_id):
        return None
    claimed = db.session.execute(_CLAIM_FOR_ROTATION, {"token_id": row.id, "now": now}).first()
    if claimed is not None:
        # What the UPDATE wrote, recorded as loaded state: nothing left for the flush to write.
        set_committed_value(row, "rotated_at", now)
        return row, user
    db.session.refresh(row)
    if row.rotated_at is not None:
        # RFC 9700 §4.14.2: a rotated token presented again means the family has leaked.
        revoke_replayed_grant(
            row.family_id, user_id=row.user_id, client=client, tag=EventTag.REFRESH_REUSED, now=now
        )
    return None


# Built once, and a column rather than the entity: the locked, current value straight from the
# row (no identity map that could hold an older copy), without building an ORM object.
_LOCK_FAMILY = (
    select(RefreshFamily.revoked_at)
    .where(RefreshFamily.id == bindparam("family_id"))
    .with_for_update()
)


def _lock_live_family(family_id: str) -> bool:
    """Hold the family row until commit; False when the family was revoked meanwhile."""
    family = db.session.execute(_LOCK_FAMILY, {"family_id": family_id}).first()
    return family is not None and family.revoked_at is None
