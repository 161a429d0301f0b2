"""A user's browser sessions as the account page shows them, and ending them one or all at once.

Only the public id (``sid``) leaves this module; the token hashes the stores key sessions by
stay inside. These are building blocks for service functions that commit together with their
audit event (:mod:`authserver.accounts.self_service`); nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from authserver.backchannel.outbox import announce_ended_sessions
from authserver.models import User
from authserver.sessions.errors import UnknownSession
from authserver.sessions.service import is_live, session_store
from authserver.sessions.user_agents import device_label


@dataclass(frozen=True)
class ActiveSession:
    """One signed-in browser of a user, for display."""

    sid: str
    device: str  # e.g. "Firefox on Linux", in the language of the page that lists it
    ip: str | None
    signed_in_at: datetime
    last_seen_at: datetime
    is_current: bool


def list_active_sessions(
    user: User, *, now: datetime, current_sid: str | None
) -> list[ActiveSession]:
    """The user's live sessions, the current one first, then the most recently seen."""
    sessions = [
        ActiveSession(
            sid=stored.public_id,
            device=str(device_label(stored.user_agent)),  # in the page's language
            ip=stored.ip,
            signed_in_at=stored.created_at,
            last_seen_at=stored.last_seen_at,
            is_current=stored.public_id == current_sid,
        )
        for _token_hash, stored in session_store().list_for_user(user.id, now=now)
        if is_live(stored, user, now=now)
    ]
    return sorted(sessions, key=lambda s: (not s.is_current, -s.last_seen_at.timestamp(), s.sid))


def revoke_session(user: User, sid: str, *, now: datetime) -> None:
    """End the user's live session ``sid``; :class:`UnknownSession` when there is none.

    Looked up among this user's sessions only, so nobody can end another person's session
    by guessing or copying an id. The caller commits.
    """
    for token_hash, stored in session_store().list_for_user(user.id, now=now):
        if stored.public_id == sid and is_live(stored, user, now=now):
            session_store().revoke(token_hash, revoked_at=now)
            announce_ended_sessions(user.id, now=now)
            return
    raise UnknownSession("no live session with this id")


def revoke_all_sessions(user: User, *, now: datetime) -> int:
    """End every session of the user; returns how many were still open. The caller commits."""
    ended = session_store().revoke_all_for_user(user.id, revoked_at=now)
    announce_ended_sessions(user.id, now=now)
    return ended
