"""Second factors: a user's TOTP authenticator and their single-use recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime, utcnow


class TotpCredential(db.Model):  # type: ignore[name-defined,misc]  # dynamic base
    """One authenticator per user: pending until a first code confirms it, then active."""

    __tablename__ = "totp_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    # The base32 secret, sealed by security.crypto for "totp-secret:<user subject>".
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # None while enrolment is pending: a pending secret never counts as a second factor.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # RFC 6238 §5.2: the time step of the last accepted code; only later steps are accepted.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    # Sign-ins completed with a second factor. A pending sign-in remembers the value it began
    # with and completing it bumps it, so each pending sign-in completes at most once.
    completed_challenges: Mapped[int] = mapped_column(default=0)


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]  # dynamic base
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # A keyed hash (security/mfa/second_factor.py says why a fast one is right), never the code.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
