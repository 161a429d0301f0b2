"""Refresh token rotation with reuse detection (RFC 9700 §4.14.2), forgiving one lost response.

A rotated token presented again means the family has leaked, and revokes it; except once,
within AUTHSERVER_REFRESH_REUSE_GRACE_SECONDS of the rotation, while the successor is unused:
that is a client retrying after the first answer was lost, and it gets the same successor again
(oauth/refresh_successors.py) with a fresh access token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from authserver.audit.events import EventTag
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.tokens import RefreshFamily, RefreshToken
from authserver.models.users import User
from authserver.oauth.grant_revocation import revoke_replayed_grant
from authserver.oauth.refresh_successors import successor_token
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


@dataclass(frozen=True)
class Rotation:
    """A refresh token accepted for rotation, and the successor to hand out for it."""

    row: RefreshToken  # the presented token, now rotated
    user: User
    successor: str  # derived from the presented token: the same for a retry
    # True for a forgiven retry: the successor is stored already; hand it out again as it is.
    repeated: bool


def rotate_refresh_token(
    token: str, client: Client, *, now: datetime, jkt: str | None
) -> Rotation | None:
    """Consume a refresh token for rotation; None when it cannot be used.

    The user comes back too because the session's identity map holds loaded objects weakly:
    dropped here, it would be read again (a second SELECT) by whoever needs it next. `jkt` is
    the thumbprint of the request's DPoP proof key, if any.

    The conditional UPDATE lets exactly one of two concurrent requests win; the loser finds the
    token already rotated and is treated as a retry (forgiven once, see the module docstring)
    or a reuse, which revokes the family (DESIGN.md).
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
        return Rotation(row, user, successor_token(token), repeated=False)
    db.session.refresh(row)
    if row.rotated_at is None:
        return None  # revoked or expired, never rotated: nothing leaked
    successor = successor_token(token)
    if _forgive_lost_response(row, successor, jkt=jkt, now=now):
        return Rotation(row, user, successor, repeated=True)
    # RFC 9700 §4.14.2: a rotated token presented again means the family has leaked.
    revoke_replayed_grant(
        row.family_id, user_id=row.user_id, client=client, tag=EventTag.REFRESH_REUSED, now=now
    )
    return None


_UNUSED_SUCCESSOR = select(RefreshToken.id).where(
    RefreshToken.token_hash == bindparam("token_hash"),
    RefreshToken.rotated_at.is_(None),
    RefreshToken.revoked_at.is_(None),
)
# Once per token, whichever instance gets there first: a third presentation finds it set.
_FORGIVE_ONCE = (
    update(RefreshToken)
    .where(RefreshToken.id == bindparam("token_id"), RefreshToken.reuse_forgiven_at.is_(None))
    .values(reuse_forgiven_at=bindparam("now"))
    .returning(RefreshToken.id)
    .execution_options(synchronize_session=False)
)


def _forgive_lost_response(
    rotated: RefreshToken, successor: str, *, jkt: str | None, now: datetime
) -> bool:
    """True when this presentation of a rotated token is a client's retry after a lost answer.

    That is: within the grace of the rotation, by the same client (the token was found by its
    client), with the same DPoP key for a bound token (RFC 9449 §5), while the successor is
    unused, and only once. Anything else is a reuse.
    """
    grace = current_settings().refresh_reuse_grace_seconds
    assert rotated.rotated_at is not None
    if grace == 0 or now - rotated.rotated_at > timedelta(seconds=grace):
        return False
    if rotated.dpop_jkt is not None and rotated.dpop_jkt != jkt:
        return False
    unused = db.session.execute(
        _UNUSED_SUCCESSOR, {"token_hash": hash_refresh_token(successor)}
    ).first()
    if unused is None:
        return False  # the successor has been used (or revoked): the old token is a reuse
    forgiven = db.session.execute(_FORGIVE_ONCE, {"token_id": rotated.id, "now": now}).first()
    return forgiven is not None


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
