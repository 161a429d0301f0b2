"""Writing logout messages into the outbox, in the transaction that ends the session.

Called by every path that ends sessions (sessions/, accounts/): it looks at the user's sessions
that relying parties received ID tokens in, and for each one that has ended, turns the
(session, client) record into an outbox row when the client has a back-channel logout URI. The
record is consumed by a conditional DELETE, so two transactions ending the same session at once
announce it once, and calling this again after a later ending adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from authserver.config import current_settings
from authserver.extensions import db
from authserver.models.backchannel import LogoutMessage, SessionRelyingParty
from authserver.models.clients import Client
from authserver.models.sessions import BrowserSessionRecord
from authserver.models.users import User


def announce_ended_sessions(user_id: int, *, now: datetime, all_sessions: bool = False) -> int:
    """Queue a logout token for every client that got an ID token in an ended session of the
    user (every session with ``all_sessions``: the account is going). Returns how many were
    queued. The caller commits, together with the session's end."""
    db.session.flush()  # the ending itself may still be pending in the ORM session
    user = db.session.get(User, user_id)
    if user is None:
        return 0  # its sessions, and their records, went with it
    rows = db.session.execute(
        select(
            SessionRelyingParty.id,
            SessionRelyingParty.client_pk,
            BrowserSessionRecord,
            Client.backchannel_logout_uri,
        )
        .join(BrowserSessionRecord, BrowserSessionRecord.id == SessionRelyingParty.session_pk)
        .join(Client, Client.id == SessionRelyingParty.client_pk)
        .where(BrowserSessionRecord.user_id == user_id)
    ).all()
    queued = 0
    for record_id, client_pk, session, uri in rows:
        if not all_sessions and not _has_ended(session, user, now):
            continue
        consumed = db.session.execute(
            delete(SessionRelyingParty).where(SessionRelyingParty.id == record_id)
        )
        if consumed.rowcount != 1 or uri is None:  # type: ignore[attr-defined]  # CursorResult
            continue  # announced by another transaction, or the client wants no notice
        db.session.add(_message(client_pk, user.subject, session.public_id, now))
        queued += 1
    return queued


def _has_ended(session: BrowserSessionRecord, user: User, now: datetime) -> bool:
    """The opposite of sessions/service.py's ``is_live``, on the stored row (which that module,
    being one of our callers, cannot hand us without an import cycle)."""
    idle_limit = timedelta(seconds=current_settings().session_idle_ttl)
    return (
        session.revoked_at is not None
        or now >= session.expires_at
        or now >= session.last_seen_at + idle_limit
        or user.is_disabled
        or (user.tokens_valid_after is not None and session.created_at < user.tokens_valid_after)
    )


def _message(client_pk: int, subject: str, sid: str, now: datetime) -> LogoutMessage:
    retry_for = timedelta(seconds=current_settings().backchannel_logout_retry_seconds)
    return LogoutMessage(
        client_pk=client_pk,
        user_subject=subject,
        sid=sid,
        created_at=now,
        available_at=now,
        attempts=0,
        give_up_at=now + retry_for,
    )
