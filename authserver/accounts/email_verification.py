"""Email verification: proving that the owner of an account receives mail at its address.

The same shape as password reset (accounts/password_reset.py), with its own table, its own
token purpose and a longer lifetime. A link verifies the address it was sent to, and only while
that is still the account's address. The confirmation is a POST from the link page: mail
scanners that fetch every link in a message must not verify anything by doing so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l

from authserver.accounts.emailed_links import (
    LinkPurpose,
    claim_link,
    find_usable_link,
    link_url,
    refuse,
    store_new_link,
)
from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail import Mail, render_mail, send
from authserver.mail_language import mail_language
from authserver.models import EmailVerificationToken, User
from authserver.security.errors import EmailAlreadyVerified, InvalidLink
from authserver.security.redirects import is_local_path

# Longer targets are not ours to carry (a pushed request's authorize URL is short).
MAX_NEXT_TARGET_LENGTH = 2048

PURPOSE = LinkPurpose.EMAIL_VERIFICATION
FAILED = EventTag.EMAIL_VERIFICATION_FAILED


@dataclass(frozen=True)
class Verified:
    user: User
    next_target: str | None  # a path on this site to continue at, or None


def issue_email_verification(user: User, *, now: datetime, next_target: str | None = None) -> Mail:
    """Mint a verification link for the account's current address; return the message.

    ``next_target`` (a sign-up's OAuth flow) is kept with the link when it is a path on this
    site, and dropped otherwise. Earlier links of the account stop working. Raises
    :class:`EmailAlreadyVerified`.
    """
    if user.is_email_verified:
        raise EmailAlreadyVerified(f"{user.email} is already verified")
    ttl = current_settings().email_verification_ttl
    token = store_new_link(
        EmailVerificationToken,
        PURPOSE,
        user.id,
        now=now,
        expires_at=now + timedelta(seconds=ttl),
        replace_earlier=True,
        email=user.email,
        next_target=_local_or_none(next_target),
    )
    record_event(EventTag.EMAIL_VERIFICATION_REQUESTED, user_subject=user.subject)
    db.session.commit()
    return render_mail(
        user.email,
        _l("Confirm your email address"),
        "verify_email.txt",
        language=mail_language(user.language),
        email=user.email,
        link=link_url(PURPOSE, token),
        hours=max(1, ttl // 3600),
    )


def send_email_verification(user: User, *, now: datetime) -> None:
    """Issue a verification link and mail it now (the CLI's way; raises MailDeliveryError)."""
    send(issue_email_verification(user, now=now))


def check_verification_link(token: str, *, now: datetime) -> None:
    """Raise :class:`InvalidLink` unless ``token`` can still verify (consumes nothing)."""
    _find_usable(token, now=now)


def verify_email(token: str, *, now: datetime) -> Verified:
    """Mark the address the link was sent to as verified; raise :class:`InvalidLink`."""
    row, user = _find_usable(token, now=now)
    if not claim_link(EmailVerificationToken, row.id, now=now):
        raise refuse(InvalidLink("used", user_subject=user.subject), audit_as=FAILED)
    user.email_verified_at = now
    user.updated_at = now
    record_event(EventTag.EMAIL_VERIFIED, user_subject=user.subject)
    db.session.commit()
    return Verified(user=user, next_target=_local_or_none(row.next_target))


def _local_or_none(target: str | None) -> str | None:
    """``target`` if it is a path on this site (checked on the way in and again on the way out,
    as every ``next`` is), else None."""
    if target and len(target) <= MAX_NEXT_TARGET_LENGTH and is_local_path(target):
        return target
    return None


def _find_usable(token: str, *, now: datetime) -> tuple[EmailVerificationToken, User]:
    """The usable link and its account; a refusal is audited, then raised."""
    try:
        row, user = find_usable_link(EmailVerificationToken, PURPOSE, token, now=now)
        if row.email != user.email:
            # The account's address changed after the link was sent: it proves nothing about
            # the new one.
            raise InvalidLink("address-changed", user_subject=user.subject)
    except InvalidLink as error:
        raise refuse(error, audit_as=FAILED) from None
    return row, user
