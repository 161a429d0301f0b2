"""Telling the owner about suspicious sign-ins (ASVS 5.0 V6.3.5), by mail.

Two notices, each a template in ``templates/mail/``, sent once the response has gone out
(sending inside the request would make exactly these requests slower: a timing signal that
says the account exists):

- the **lock notice**, when failures lock the account or a browser, with the unlock link. It
  says what failed: wrong passwords, or the right password followed by wrong second-factor
  codes, in which case the owner is told to change the password;
- the **partial sign-in notice**, when the right password is followed by a wrong second factor
  below the lock threshold. At most one an hour per account: the last one's time is in
  ``users.partial_sign_in_notified_at``, claimed by a conditional UPDATE, so the limit holds
  across instances and of two racing failures exactly one mails.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, or_, update

from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail import render_mail, send_after_this_request
from authserver.mail_language import mail_language, written_time
from authserver.models import User

LOCK_SUBJECT = _l("Sign-in to your account was paused")
PARTIAL_SIGN_IN_SUBJECT = _l("Someone signed in with your password but failed the second step")
PARTIAL_SIGN_IN_INTERVAL = timedelta(hours=1)
# The steps in which a wrong second factor follows a password given for signing in: a
# pending sign-in, or stepping up a session made with the password alone.
SIGN_IN_STEPS = frozenset({"sign-in", "step-up"})


def mail_lock_notice(
    *,
    email: str,
    language: str,
    scope: str,
    link: str,
    locked_until: datetime,
    failed_with: str,
    has_password: bool,
) -> None:
    """Mail the owner that sign-in is paused, after the response. The caller commits."""
    settings = current_settings()
    send_after_this_request(
        render_mail(
            email,
            LOCK_SUBJECT,
            "lock_notice.txt",
            language=language,
            email=email,
            scope=scope,
            link=link,
            until=written_time(locked_until),
            failed_with=failed_with,
            has_password=has_password,
            forgot_link=settings.issuer + "/reset",
        )
    )


def notify_partial_sign_in(user_id: int, *, now: datetime) -> bool:
    """After a wrong second factor that followed the right password: mail the owner, unless
    a notice went out in the last hour. Audits a notice it sends; commits. Returns whether
    it mailed."""
    claimed = cast(
        "CursorResult[Any]",
        db.session.execute(
            update(User)
            .where(
                User.id == user_id,
                or_(
                    User.partial_sign_in_notified_at.is_(None),
                    User.partial_sign_in_notified_at <= now - PARTIAL_SIGN_IN_INTERVAL,
                ),
            )
            # A notice is not a change to the account: users.updated_at must not move.
            .values(partial_sign_in_notified_at=now, updated_at=User.updated_at)
            .returning(User.email, User.subject, User.language)
            .execution_options(synchronize_session=False)
        ),
    ).one_or_none()
    if claimed is None:
        db.session.commit()
        return False
    email, subject = claimed.email, claimed.subject
    language = mail_language(claimed.language)
    record_event(EventTag.PARTIAL_SIGN_IN_NOTICE, user_subject=subject)
    db.session.commit()
    settings = current_settings()
    send_after_this_request(
        render_mail(
            email,
            PARTIAL_SIGN_IN_SUBJECT,
            "partial_sign_in.txt",
            language=language,
            email=email,
            when=written_time(now),
            forgot_link=settings.issuer + "/reset",
        )
    )
    return True
