"""What a signed-in user may change on their own account page: name, password, sessions.

Each public function is one unit of work and commits together with its audit event (sessions
are database rows too), so an error leaves the database untouched.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from authserver.accounts.credentials import end_all_credentials
from authserver.accounts.lifecycle import clean_name
from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail import render_mail, send_after_this_request
from authserver.mail_language import mail_language, written_time
from authserver.models import User
from authserver.security.errors import TooManyAttempts, WrongPassword
from authserver.security.factor_checks import check_password_again
from authserver.security.passwords import check_password_policy, hash_password
from authserver.security.recent_sign_in import check_recent_sign_in
from authserver.sessions import (
    UnknownSession,
    list_active_sessions,
    revoke_all_sessions,
    revoke_session,
)

PASSWORD_CHANGED_SUBJECT = _l("Your password was changed")


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

    Raises :class:`PasswordPolicyError` saying why the new one cannot be used (the current one
    is not checked then), :class:`WrongPassword` (counted toward the lockout; nothing else
    changes) or :class:`TooManyAttempts` (locked: nothing checked). Afterwards every
    session, refresh token and access token of the user is dead, this browser's too: the
    caller starts a fresh session for it. The owner is told by mail.
    """
    # Checked first: a new password that cannot be used costs no hashing, and the owner who
    # typed the right current password is not counted toward the lockout for a weak new one.
    check_password_policy(new_password, email=user.email)
    # Guesses here count toward the same lockout as at sign-in, or the form would be an
    # unlimited password oracle; while locked, the password is not even hashed.
    try:
        check_password_again(user, current_password, during="password-change", now=now)
    except (WrongPassword, TooManyAttempts):
        record_event(EventTag.PASSWORD_CHANGE_FAILED, outcome="failure", user_subject=user.subject)
        db.session.commit()
        raise
    _set_password(user, new_password, event=EventTag.PASSWORD_CHANGED, now=now)


def add_first_password(
    user: User, *, new_password: str, auth_time: datetime, now: datetime
) -> None:
    """Give an account that signs in with passkeys only (accounts/invitation_passkeys.py) a
    password as well; afterwards as :func:`change_password`: everything issued so far ends
    and the owner is mailed.

    There is no current password to prove, so a session that signed in a short while ago
    stands in for it, as for adding a passkey. Raises :class:`RecentSignInNeeded`,
    :class:`PasswordPolicyError`, or :class:`WrongPassword` when the account has a password
    already (only :func:`change_password`, which proves it, replaces one).
    """
    if user.has_password:
        raise WrongPassword()
    check_recent_sign_in(auth_time, now=now)
    check_password_policy(new_password, email=user.email)
    _set_password(user, new_password, event=EventTag.PASSWORD_ADDED, now=now)


def set_password_from_account_page(
    user: User,
    *,
    current_password: str | None,
    new_password: str,
    auth_time: datetime,
    now: datetime,
) -> None:
    """The account page's password form: changes a password the account has (proving the
    current one, :func:`change_password`) or adds the first one to an account that has none
    (a recent sign-in instead, :func:`add_first_password`). Raises as those do."""
    if user.has_password:
        change_password(
            user, current_password=current_password or "", new_password=new_password, now=now
        )
    else:
        add_first_password(user, new_password=new_password, auth_time=auth_time, now=now)


def _set_password(user: User, new_password: str, *, event: EventTag, now: datetime) -> None:
    """Store the new password; everything issued so far ends, and the owner is mailed."""
    user.password_hash = hash_password(new_password)
    user.updated_at = now
    end_all_credentials(user, now=now)
    record_event(event, user_subject=user.subject)
    revoke_all_sessions(user, now=now)
    db.session.commit()
    _notify_password_changed(user, now=now)


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


def end_other_sessions(user: User, *, keep_sid: str, now: datetime, after: str) -> int:
    """End every live browser session of the user except ``keep_sid`` (the asking browser).

    Offered when a second factor is set up or removed: a session someone else opened before
    the change would otherwise outlive it. ``after`` names the change in the audit row.
    Session stores may act at once (Redis): call this last, after everything that can fail.
    The caller commits. Returns how many sessions ended.
    """
    ended = 0
    for session in list_active_sessions(user, now=now, current_sid=keep_sid):
        if session.is_current:
            continue
        try:
            revoke_session(user, session.sid, now=now)
        except UnknownSession:
            continue  # ended by itself or elsewhere meanwhile
        ended += 1
    record_event(
        EventTag.SESSIONS_REVOKED_OTHERS,
        user_subject=user.subject,
        detail={"sessions": ended, "after": after},
    )
    return ended


def _notify_password_changed(user: User, *, now: datetime) -> None:
    settings = current_settings()
    mail = render_mail(
        user.email,
        PASSWORD_CHANGED_SUBJECT,
        "password_changed_in_account.txt",
        language=mail_language(user.language),
        email=user.email,
        when=written_time(now),
        login_link=settings.issuer + "/login",
    )
    # After the response: the SMTP round trip is no part of changing a password. A failure is
    # logged by mail.py; the change stands.
    send_after_this_request(mail)
