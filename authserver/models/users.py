"""People who sign in."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import UTCDateTime, utcnow


def new_subject() -> str:
    # OIDC Core §2: `sub` is never reassigned; a random UUID leaks nothing (not a row count).
    return str(uuid.uuid4())


class User(db.Model):  # type: ignore[name-defined,misc]  # Flask-SQLAlchemy's model base is dynamic
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(36), unique=True, default=new_subject)
    # Stored normalised (NFKC, case-folded: accounts/email_addresses.py), so uniqueness holds
    # across case and Unicode compatibility forms everywhere.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # None for an account that signs in with passkeys only (accepted an invitation with one,
    # accounts/invitation_passkeys.py): no password matches it until the owner sets one.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Tokens issued before this instant are dead (password reset, disable, sign out everywhere).
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Lockout for browsers this account has never signed in from (security/lockout.py): failed
    # attempts in a row, the end of the current lock, and how many locks since the last success
    # (each one lasts twice as long as the one before).
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lock_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # The last notice of a sign-in whose password was right and second factor wrong
    # (security/sign_in_notices.py): at most one an hour, on every instance together.
    partial_sign_in_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The account's first completed sign-in; None until then. Claimed by a conditional UPDATE
    # (security/new_device_alerts.py), so exactly one sign-in is the first: that one mails no
    # new-device notice (the owner has just been given the account), every later one may.
    first_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # When the owner proved they receive mail at `email`; None until then. Whatever changes
    # `email` must set this back to None: the proof was for the old address.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How the account came to be (accounts/registration.py's ORIGINS): "cli" (`user create`,
    # and every account older than registration), "invitation" or "sign-up".
    created_via: Mapped[str] = mapped_column(String(16), default="cli", server_default="cli")
    # The language of the pages the owner last used (mail_language.py): their mails are written
    # in it. None until they use the pages. A language code such as "de" or "pt-BR".
    language: Mapped[str | None] = mapped_column(String(16))

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None
