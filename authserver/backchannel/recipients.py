"""Remembering which clients received an ID token in which browser session.

OIDC Back-Channel Logout §2.1: the OP keeps track of the RPs a session has logged in to, so that
the end of the session can be announced to each. One row per (session, client), written when an
ID token naming the session's `sid` is issued (code exchange, refresh).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from authserver.extensions import db
from authserver.models.backchannel import SessionRelyingParty
from authserver.models.sessions import BrowserSessionRecord

# Only a session not ended yet: an ID token issued by refresh after the session ended (refresh
# tokens outlive a plain sign-out) must not put a finished session back on the list.
_OPEN_SESSION_BY_SID = select(BrowserSessionRecord.id).where(
    BrowserSessionRecord.public_id == bindparam("sid"),
    BrowserSessionRecord.revoked_at.is_(None),
)


def remember_id_token_recipient(*, client_pk: int, sid: str, now: datetime) -> None:
    """Note that client ``client_pk`` holds an ID token naming session ``sid``. Caller commits."""
    session_pk = db.session.scalar(_OPEN_SESSION_BY_SID, {"sid": sid})
    if session_pk is None:
        return
    values = {"session_pk": session_pk, "client_pk": client_pk, "first_issued_at": now}
    # Two token responses at once for the same pair must both succeed: the unique constraint
    # keeps one row, and the loser's insert does nothing instead of failing its response.
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(SessionRelyingParty).values(values).on_conflict_do_nothing()
    db.session.execute(statement)
