"""What a signed-in user may change on their own account page: name, password, sessions.

Each public function is one unit of work and commits together with its audit event (sessions
are database rows too), so an error leaves the database untouched.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app

from authserver.audit import EventTag, record_event
from authserver.config import Settings
from authserver.extensions import db
from authserver.mail import MailDeliveryError, send_mail
from authserver.models import User
from authserver.security.accounts import clean_name
from authserver.security.credentials import end_all_credentials
from authserver.security.devices import find_device_id
from authserver.security.errors import WrongPassword
from authserver.security.lockout import claim_attempt, is_locked, register_failure
from authserver.security.passwords import (
    check_password_policy,
    dummy_verify,
    hash_password,
    verify_password,
)
from authserver.sessions import revoke_all_sessions, revoke_session

log = logging.getLogger(__name__)

PASSWORD_CHANGED_SUBJECT = "Your password was changed"


def update_profile(user: User, *, name: str | None, now: datetime) -> None:
    """Set the display name (blank clears it); :class:`InvalidName` when it is too long."""
    cleaned = clean_name(name)
    if cleaned == user.name:
        return  # nothing changed, nothing to record
    user.name = cleaned
    user.updated_at = now
    record_event(EventTag.PROFILE_UPDATED, user_subject=user.subject, detail={"fields": ["name"]})
    db.session.commit()


def change_password(user: User, *, current_password: str, new_password: str, now: datetime) -> None:
    """Replace the password, after proving the current one, and end everything issued so far.

    Raises :class:`WrongPassword` (recorded as a failure; nothing else changes) or
    :class:`PasswordPolicyError` saying why the new one cannot be used. Afterwards every
    session, refresh token and access token of the user is dead, this browser's too: the
    caller starts a fresh session for it. The owner is told by mail.
    """
    # Asking for the current password again means a session left open on a shared computer,
    # or a stolen cookie, is not enough to take the account over. Guesses here count toward the
    # same lockout as at sign-in, or the form would be an unlimited password oracle; while
    # locked, the password is not even looked at.
    device = find_device_id(user)
    if is_locked(user, now=now, device=device):
        dummy_verify(current_password)
        _record_wrong_current_password(user, now=now, device=device)
        raise WrongPassword()
    if not verify_password(user.password_hash, current_password):
        _record_wrong_current_password(user, now=now, device=device)
        raise WrongPassword()
    check_password_policy(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    user.updated_at = now
    end_all_credentials(user, now=now)
    record_event(EventTag.PASSWORD_CHANGED, user_subject=user.subject)
    revoke_all_sessions(user, now=now)
    db.session.commit()
    _notify_password_changed(user, now=now)


def _record_wrong_current_password(user: User, *, now: datetime, device: str | None) -> None:
    record_event(EventTag.PASSWORD_CHANGE_FAILED, outcome="failure", user_subject=user.subject)
    db.session.commit()
    attempt = claim_attempt(user, now=now, device=device)
    register_failure(attempt, now=now, reason="password-change")


def sign_out_session(user: User, sid: str, *, now: datetime) -> None:
    """End one of the user's sessions; :class:`UnknownSession` if it is not live or not theirs."""
    revoke_session(user, sid, now=now)
    record_event(EventTag.SESSION_REVOKED, user_subject=user.subject, detail={"sid": sid})
    db.session.commit()


def sign_out_everywhere(user: User, *, now: datetime) -> None:
    """End every session of the user (this browser's too) and every refresh and access token."""
    end_all_credentials(user, now=now)
    ended = revoke_all_sessions(user, now=now)
    record_event(
        EventTag.SESSIONS_REVOKED_ALL, user_subject=user.subject, detail={"sessions": ended}
    )
    db.session.commit()


def _notify_password_changed(user: User, *, now: datetime) -> None:
    settings: Settings = current_app.extensions["authserver.settings"]
    body = (
        f"The password of your account {user.email} was changed on "
        f"{now:%Y-%m-%d at %H:%M} UTC.\n\n"
        "Every other device was signed out, and apps you use will ask you to sign in again.\n\n"
        "If you did not change it, someone else may have your password: reset it now with "
        f'"Forgot password?" on the sign-in page, {settings.issuer}/login\n'
    )
    try:
        send_mail(user.email, PASSWORD_CHANGED_SUBJECT, body)
    except MailDeliveryError:
        # The change stands; mail.py has logged why the notice could not be sent.
        log.warning("password-change notice for user %s not sent", user.subject)
