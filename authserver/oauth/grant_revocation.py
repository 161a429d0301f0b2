"""Revoking a whole grant: every refresh token of the family and every access token of it."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update

from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.tokens import RefreshFamily, RefreshToken
from authserver.models.users import User
from authserver.oauth.deny_list import deny_grant

log = logging.getLogger(__name__)


def revoke_grant(grant_id: str, *, now: datetime) -> int:
    """Revoke everything issued under `grant_id`; returns how many refresh tokens it ended.

    Refresh tokens carry the grant id as their family id, and access tokens as their `gid`
    claim, so one UPDATE and one deny-list row cover all of them. The caller commits.
    """
    # First the family row: this waits for a rotation in flight (it holds the row FOR UPDATE),
    # so the token UPDATE below, a new statement, sees the token that rotation created.
    db.session.execute(
        update(RefreshFamily)
        .where(RefreshFamily.id == grant_id, RefreshFamily.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    result = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == grant_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    deny_grant(grant_id, now=now)
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount


def revoke_replayed_grant(
    grant_id: str, *, user_id: int, client: Client, tag: EventTag, now: datetime
) -> None:
    """A single-use credential came back: revoke its grant, audit it, and commit at once.

    The commit outlives the failing request on purpose: the request answers invalid_grant and
    rolls back, but the revocation must stick (the replayer may be an attacker).
    """
    revoked = revoke_grant(grant_id, now=now)
    user = db.session.get(User, user_id)
    record_event(
        tag,
        outcome="failure",
        user_subject=user.subject if user else None,
        client_id=client.client_id,
        detail={"grant_id": grant_id, "refresh_tokens_revoked": revoked},
    )
    db.session.commit()
    log.warning("%s: grant %s revoked", tag, grant_id)
