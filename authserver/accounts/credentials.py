"""Ending everything a user holds: every browser session, refresh token and access token.

Password reset, account disable and "sign out everywhere" all end here (DESIGN.md "Tokens").
One timestamp does most of the work: sessions, refresh tokens and access tokens issued before
`tokens_valid_after` are refused by every check that looks at the user. The refresh families
are also marked revoked, so introspection and listings say so without computing it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from authserver.backchannel.outbox import announce_ended_sessions
from authserver.extensions import db
from authserver.models.tokens import RefreshFamily, RefreshToken
from authserver.models.users import User


def end_all_credentials(user: User, *, now: datetime) -> None:
    """Invalidate everything issued to `user` until now. The caller commits (with its audit)."""
    user.tokens_valid_after = now
    db.session.execute(
        update(RefreshFamily)
        .where(RefreshFamily.user_id == user.id, RefreshFamily.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # Every session begun before now has ended with this (sessions/service.py's is_live).
    announce_ended_sessions(user.id, now=now)
