"""What account lockout keeps beyond the users table: recognised browsers and unlock links.

A recognised browser (OWASP's "device cookie") has signed in to one account before; it keeps a
failure counter and lock of its own, so that guessing from elsewhere cannot lock its owner out.
Unlock links are single-use and stored as SHA-256 hashes, like every other bearer secret here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime, utcnow


class LoginDevice(db.Model):  # type: ignore[name-defined,misc]  # Flask-SQLAlchemy's base is dynamic
    __tablename__ = "login_devices"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    # The random id the signed device cookie carries; new at every successful sign-in.
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lock_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UnlockToken(db.Model):  # type: ignore[name-defined,misc]  # Flask-SQLAlchemy's base is dynamic
    __tablename__ = "unlock_tokens"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The end of the lock it was sent for: after that there is nothing left to unlock.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
