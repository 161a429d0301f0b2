"""Email verification: proving that the owner of an account receives mail at its address.

The same shape as password reset (accounts/password_reset.py), with its own table, its own
token purpose and a longer lifetime. A link verifies the address it was sent to, and only while
that is still the account's address. The confirmation is a POST from the link page: mail
scanners that fetch every link in a message must not verify anything by doing so.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from authserver.accounts.lifecycle import get_user
from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail import Mail, render_mail, send
from authserver.models import EmailVerificationToken, User
from authserver.security.errors import EmailAlreadyVerified, InvalidLink
from authserver.accounts.emailed_links import (
    TokenPurpose,
    has_token_shape,
    hash_token,
    issue_token,
)

PURPOSE = TokenPurpose.EMAIL_VERIFICATION
LINK_PATH = "/verify-email/"  # + token; the route is web/verify_email.py's


def verification_link(token: str) -> str:
    # From the configured issuer, never from a request's Host header.
    return current_settings().issuer + LINK_PATH + token


def issue_email_verification(user: User, *, now: datetime) -> Mail:
    """Mint a verification link for the account's current address; return the message.

    Earlier links of the account stop working. Raises :class:`EmailAlreadyVerified`.
    """
    if user.is_email_verified:
        raise EmailAlreadyVerified(f"{user.email} is already verified")
    ttl = current_settings().email_verification_ttl
    issued = issue_token(PURPOSE)
    db.session.execute(
        delete(EmailVerificationToken).where(EmailVerificationToken.user_id == user.id)
    )
    db.session.add(
        EmailVerificationToken(
            token_hash=issued.token_hash,
            user_id=user.id,
            email=user.email,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    record_event(EventTag.EMAIL_VERIFICATION_REQUESTED, user_subject=user.subject)
    db.session.commit()
    return render_mail(
        user.email,
        "Confirm your email address",
        "verify_email.txt",
        email=user.email,
        link=verification_link(issued.token),
        hours=max(1, ttl // 3600),
        issuer=current_settings().issuer,
    )


def send_email_verification(user: User, *, now: datetime) -> None:
    """Issue a verification link and mail it now (the CLI's way; raises MailDeliveryError)."""
    send(issue_email_verification(user, now=now))


def check_verification_link(token: str, *, now: datetime) -> None:
    """Raise :class:`InvalidLink` unless ``token`` can still verify (consumes nothing)."""
    try:
        _find_usable(token, now=now)
    except InvalidLink as error:
        _record_failure(error)
        db.session.commit()
        raise


def verify_email(token: str, *, now: datetime) -> User:
    """Mark the address the link was sent to as verified; raise :class:`InvalidLink`."""
    try:
        row, user = _find_usable(token, now=now)
    except InvalidLink as error:
        _record_failure(error)
        db.session.commit()
        raise
    claimed = db.session.execute(
        update(EmailVerificationToken)
        .where(
            EmailVerificationToken.id == row.id,
            EmailVerificationToken.used_at.is_(None),
            EmailVerificationToken.expires_at > now,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
        refused = InvalidLink("used", user_subject=user.subject)
        _record_failure(refused)
        db.session.commit()
        raise refused
    user.email_verified_at = now
    user.updated_at = now
    record_event(EventTag.EMAIL_VERIFIED, user_subject=user.subject)
    db.session.commit()
    return user


def _find_usable(token: str, *, now: datetime) -> tuple[EmailVerificationToken, User]:
    if not has_token_shape(token):
        raise InvalidLink("malformed")
    row = db.session.scalar(
        select(EmailVerificationToken).where(
            EmailVerificationToken.token_hash == hash_token(PURPOSE, token)
        )
    )
    if row is None:
        # Never issued, replaced by a newer link, or a token minted for another purpose.
        raise InvalidLink("unknown")
    user = get_user(row.user_id)
    if row.used_at is not None:
        raise InvalidLink("used", user_subject=user.subject)
    if row.expires_at <= now:
        raise InvalidLink("expired", user_subject=user.subject)
    if user.is_disabled:
        raise InvalidLink("disabled", user_subject=user.subject)
    if row.email != user.email:
        # The account's address changed after the link was sent: it proves nothing about the
        # new one.
        raise InvalidLink("address-changed", user_subject=user.subject)
    return row, user


def _record_failure(error: InvalidLink) -> None:
    record_event(
        EventTag.EMAIL_VERIFICATION_FAILED,
        outcome="failure",
        user_subject=error.user_subject,
        detail={"reason": error.reason},
    )
