"""Server-side browser sessions (the database session store's table)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime


class BrowserSessionRecord(db.Model):  # type: ignore[name-defined,misc]  # dynamic base
    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    # SHA-256 of the cookie's token: a copy of this table cannot be replayed as cookies.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Random and unrelated to the token: safe to show (account page) and to put in ID tokens.
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    amr: Mapped[list[str]] = mapped_column(JSON)
    acr: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The absolute limit; indexed for `maintenance purge`.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
