"""Back-channel logout: which relying parties got an ID token in which browser session, and
the outbox of logout tokens still to be delivered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime


class SessionRelyingParty(db.Model):  # type: ignore[name-defined,misc]  # dynamic base
    """A client received an ID token naming this browser session (its `sid`).

    Written when the ID token is issued; consumed (deleted) when the session ends and its
    logout is announced, so a session's end is announced once. Goes with the session or the
    client (ON DELETE CASCADE).
    """

    __tablename__ = "session_relying_parties"
    __table_args__ = (UniqueConstraint("session_pk", "client_pk"),)

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    session_pk: Mapped[int] = mapped_column(ForeignKey("browser_sessions.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    first_issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LogoutMessage(db.Model):  # type: ignore[name-defined,misc]  # dynamic base
    """One logout token to deliver: the transactional outbox row.

    Written in the transaction that ends the session; the token itself is signed only when it
    is sent, so its `exp` is short from the moment it leaves. ``available_at`` is when any
    worker may next claim the row: a claim moves it forward by a lease (a conditional UPDATE,
    so one worker wins), a failed attempt by the back-off. Deleted when delivered or given up.
    No foreign key to the user: the message outlives an account deleted in the same breath.
    """

    __tablename__ = "logout_outbox"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    user_subject: Mapped[str] = mapped_column(String(36))
    sid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # Give up after this (AUTHSERVER_BACKCHANNEL_LOGOUT_RETRY_SECONDS from created_at).
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime())
