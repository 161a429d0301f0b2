"""Passkeys: a user's WebAuthn credentials, and the single-use challenges of the ceremonies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime, utcnow

# WebAuthn Level 3 §5.1: a credential id is at most 1023 bytes.
MAX_CREDENTIAL_ID_BYTES = 1023
MAX_PASSKEY_NAME_LENGTH = 64


class Passkey(db.Model):  # type: ignore[name-defined,misc]  # dynamic base
    """One registered WebAuthn credential (a discoverable one: resident key required)."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(MAX_CREDENTIAL_ID_BYTES), unique=True)
    # The COSE_Key the authenticator made; public, so stored as it came.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # WebAuthn §6.1.1: the last signature counter seen; 0 when the authenticator keeps none.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    backup_eligible: Mapped[bool] = mapped_column(default=False)
    backup_state: Mapped[bool] = mapped_column(default=False)  # synced to other devices
    name: Mapped[str] = mapped_column(String(MAX_PASSKEY_NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PasskeyChallenge(db.Model):  # type: ignore[name-defined,misc]  # dynamic base
    """A challenge handed to a browser, until it is answered or expires.

    In the database, so an answer reaching another instance finds it; deleted by the answer
    that uses it (one conditional DELETE, so of two answers exactly one wins).
    """

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    # SHA-256 of the challenge, hex: the row is found by what the browser signed.
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # register | sign-in | second-factor | invitation
    purpose: Mapped[str] = mapped_column(String(16))
    # Whose ceremony it is; None for a passwordless sign-in (the passkey says who) and for an
    # invitation (no account yet).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The invitation a passkey is being made for (purpose "invitation"): its answer is good
    # for that invitation only, and the challenge goes when the invitation is replaced.
    invitation_id: Mapped[int | None] = mapped_column(
        BigIntPrimaryKey, ForeignKey("invitations.id", ondelete="CASCADE")
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
