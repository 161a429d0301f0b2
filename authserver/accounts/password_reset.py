"""Password reset by email (DESIGN.md "Accounts", "Tokens").

1. :func:`request_password_reset` mints a single-use link for the account at an address and
   returns the message to send, or None when there is no account that may reset. The page
   answers before calling it, identically for every address (no enumeration, in content or in
   time), and sends the message after its response.
2. :func:`check_reset_link` tells the link page whether to show the form.
3. :func:`reset_password` sets the new password, ends every session and token of the account,
   and returns the notification to send.

What every emailed link shares (the token, its URL, using it once) is accounts/emailed_links.py's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from authserver.accounts.credentials import end_all_credentials
from authserver.accounts.email_addresses import normalise_email
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
from authserver.mail import Mail, render_mail
from authserver.mail_language import mail_language
from authserver.models import PasswordResetToken, User
from authserver.security.errors import InvalidLink
from authserver.security.lockout import clear_locks
from authserver.security.passwords import check_password_policy, hash_password

PURPOSE = LinkPurpose.PASSWORD_RESET
FAILED = EventTag.PASSWORD_RESET_FAILED


def request_password_reset(email: str, *, now: datetime) -> Mail | None:
    """The reset message for the account at ``email``, or None if no account there may reset.

    A new link replaces every earlier one of the account: only the newest message works.

    ASVS 5.0 V6.3.8: the time of the answer must not tell whether the address has an account.
    The page calls this only after its response has gone out (web/reset.py), so nothing done
    here, for an account or not, is in the answer's time. The link is committed before the
    message is sent: a crash in between loses a message, never sends a link that cannot work.
    """
    found = db.session.execute(
        select(User.id, User.email, User.subject, User.is_disabled, User.language).where(
            User.email == normalise_email(email)
        )
    ).one_or_none()
    if found is None or found.is_disabled:
        record_event(
            EventTag.PASSWORD_RESET_REQUESTED,
            outcome="failure",
            user_subject=None if found is None else found.subject,
            detail={"reason": "no-account" if found is None else "disabled"},
        )
        db.session.commit()
        return None
    ttl = current_settings().reset_token_ttl
    token = store_new_link(
        PasswordResetToken,
        PURPOSE,
        found.id,
        now=now,
        expires_at=now + timedelta(seconds=ttl),
        replace_earlier=True,
    )
    record_event(EventTag.PASSWORD_RESET_REQUESTED, user_subject=found.subject)
    db.session.commit()
    return render_mail(
        found.email,
        _l("Reset your password"),
        "password_reset.txt",
        language=mail_language(found.language),
        email=found.email,
        link=link_url(PURPOSE, token),
        minutes=max(1, ttl // 60),
    )


def check_reset_link(token: str, *, now: datetime) -> str:
    """Raise :class:`InvalidLink` unless ``token`` may still set a password (consumes nothing);
    return the account's address, which the page names for password managers."""
    _row, user = _find_usable(token, now=now)
    return user.email


def reset_password(token: str, new_password: str, *, now: datetime) -> Mail:
    """Set the account's password with a reset link; return the "password changed" message.

    Raises :class:`InvalidLink` (nothing changes) or PasswordPolicyError (the link stays usable,
    so the person can choose another password).
    """
    row, user = _find_usable(token, now=now)
    check_password_policy(new_password, email=user.email)
    # Hashed before the token is claimed, so the claim and the commit are moments apart.
    password_hash = hash_password(new_password)
    if not claim_link(PasswordResetToken, row.id, now=now):
        # Another request used the link between our read and this update: exactly one wins.
        raise refuse(InvalidLink("used", user_subject=user.subject), audit_as=FAILED)
    user.password_hash = password_hash
    user.updated_at = now
    if user.email_verified_at is None:
        # The link reached the account's address: as good a proof as a verification link. It
        # also ends a sign-up someone else made with this address (accounts/sign_up.py): their
        # password is gone, and the owner's account is usable.
        user.email_verified_at = now
    _end_what_the_old_password_held(user, now=now)
    record_event(EventTag.PASSWORD_RESET, user_subject=user.subject)
    db.session.commit()
    return render_mail(
        user.email,
        _l("Your password was changed"),
        "password_changed.txt",
        language=mail_language(user.language),
        email=user.email,
        forgot_link=current_settings().issuer + "/reset",
    )


def _end_what_the_old_password_held(user: User, *, now: datetime) -> None:
    """The one place that ends what a completed reset ends, inside the reset's transaction.

    Sessions, refresh tokens and access tokens of the account die here (whoever knew the old
    password may hold some). The sign-in lockout of ``security/lockout.py`` is cleared here too:
    the owner has just proved control of the mailbox.
    """
    end_all_credentials(user, now=now)
    clear_locks(user, now=now)


def _find_usable(token: str, *, now: datetime) -> tuple[PasswordResetToken, User]:
    """The usable link and its account; a refusal is audited, then raised."""
    try:
        row, user = find_usable_link(PasswordResetToken, PURPOSE, token, now=now)
        if user.tokens_valid_after is not None and row.created_at < user.tokens_valid_after:
            # Issued before the account's credentials were last ended (disable, sign out
            # everywhere).
            raise InvalidLink("revoked", user_subject=user.subject)
    except InvalidLink as error:
        raise refuse(error, audit_as=FAILED) from None
    return row, user
