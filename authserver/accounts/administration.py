"""What an administrator may do to an account (the ``authserver user`` commands).

Each public function is one unit of work: it changes the account, writes an ``admin:*`` audit
event in the same transaction and commits; sessions are rows of the same database, so they end
in the same transaction.

Ending access is always complete: disabling an account, setting its password or revoking its
sessions ends every browser session *and* every refresh and access token
(:func:`~authserver.accounts.credentials.end_all_credentials`). An administrator acts because
something is wrong; a refresh token left alive would let whoever holds it carry on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from flask_babel import lazy_gettext as _l

from authserver.accounts.credentials import end_all_credentials
from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail import MailDeliveryError, render_mail, send
from authserver.mail_language import mail_language, written_time
from authserver.models import User
from authserver.security.errors import AccountStateUnchanged
from authserver.security.lockout import clear_locks
from authserver.security.passwords import check_password_policy, hash_password
from authserver.sessions import revoke_all_sessions

log = logging.getLogger(__name__)

PASSWORD_SET_SUBJECT = _l("Your password was changed by an administrator")


@dataclass(frozen=True)
class CredentialsEnded:
    """What ending an account's access touched: how many browser sessions were still open,
    and whether the owner could be told by mail (for the changes that tell them)."""

    sessions: int
    owner_notified: bool = True


def disable_user(user: User, *, now: datetime, via: str) -> CredentialsEnded:
    """Stop the account from signing in and end everything it holds, at once.

    :class:`AccountStateUnchanged` when it is disabled already (nothing is changed or recorded).
    """
    if user.is_disabled:
        raise AccountStateUnchanged(f"{user.email} is disabled already")
    user.is_disabled = True
    user.updated_at = now
    ended = _end_everything(user, EventTag.ADMIN_USER_DISABLED, now=now, via=via)
    db.session.commit()
    return ended


def enable_user(user: User, *, now: datetime, via: str) -> None:
    """Let a disabled account sign in again. What disabling ended stays ended."""
    if not user.is_disabled:
        raise AccountStateUnchanged(f"{user.email} is not disabled")
    user.is_disabled = False
    user.updated_at = now
    record_event(EventTag.ADMIN_USER_ENABLED, user_subject=user.subject, detail={"via": via})
    db.session.commit()


def set_password(user: User, new_password: str, *, now: datetime, via: str) -> CredentialsEnded:
    """Give the account a new password chosen by an administrator.

    The policy applies as to anyone (:class:`PasswordPolicyError`, nothing changes). Whoever
    knew the old password may hold sessions and tokens: they all end, and sign-in locks are
    lifted (the locks guarded the old password). The owner is told by mail.
    """
    check_password_policy(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    user.updated_at = now
    clear_locks(user, now=now)
    ended = _end_everything(user, EventTag.ADMIN_PASSWORD_SET, now=now, via=via)
    db.session.commit()
    return replace(ended, owner_notified=_notify_password_set(user, now=now))


def revoke_user_sessions(user: User, *, now: datetime, via: str) -> CredentialsEnded:
    """Sign the account out everywhere: every browser session, refresh token and access token.

    Tokens go too, on purpose: ending the sessions alone would leave an intruder's refresh
    token working, and the account page's "sign out everywhere" means the same.
    """
    ended = _end_everything(user, EventTag.ADMIN_SESSIONS_REVOKED, now=now, via=via)
    db.session.commit()
    return ended


def _end_everything(user: User, tag: EventTag, *, now: datetime, via: str) -> CredentialsEnded:
    """End every token and session of ``user`` and stage the audit event; the caller commits."""
    end_all_credentials(user, now=now)
    ended = revoke_all_sessions(user, now=now)
    record_event(
        tag,
        user_subject=user.subject,
        detail={"via": via, "sessions_ended": ended, "tokens_ended": True},
    )
    return CredentialsEnded(sessions=ended)


def _notify_password_set(user: User, *, now: datetime) -> bool:
    """Mail the owner now (this runs in a command); False when the mail could not be sent."""
    mail = render_mail(
        user.email,
        PASSWORD_SET_SUBJECT,
        "password_set_by_administrator.txt",
        language=mail_language(user.language),
        email=user.email,
        when=written_time(now),
        login_link=current_settings().issuer + "/login",
    )
    try:
        send(mail)
    except MailDeliveryError:
        # The change stands; mail.py has logged why the notice could not be sent.
        log.warning("password-set notice for user %s not sent", user.subject)
        return False
    return True
