"""Single-use tokens mailed to account owners: password reset, email verification, "not me".

Each purpose has its own table, and its own hash prefix (accounts/emailed_links.py), so a
token of one kind can never be looked up, let alone used, as the other. Only SHA-256 hashes are
stored: a database leak yields no usable link (DESIGN.md "Tokens").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime, utcnow


class PasswordResetToken(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EmailVerificationToken(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "email_verification_tokens"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The address the link was sent to: it verifies that address only, even if the account's
    # address has changed since.
    email: Mapped[str] = mapped_column(String(320))
    # A path on this site to continue at once verified (a sign-up from within an OAuth flow:
    # the authorize URL); checked when stored and again when used (security/redirects.py).
    next_target: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotMeToken(db.Model):  # type: ignore[name-defined,misc]
    """The "This wasn't me" link of a new-device sign-in notice (security/new_device_alerts.py):
    using it ends every session and token of the account and mails a password reset link."""

    __tablename__ = "not_me_tokens"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Invitation(db.Model):  # type: ignore[name-defined,misc]
    """A single-use link an operator mailed (``user invite``) to an address with no account yet;
    using it creates the account, address already verified (accounts/invitations.py)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # The account the invitation created; None until it is used.
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
