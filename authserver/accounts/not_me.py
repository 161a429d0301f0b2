"""The "This wasn't me" link of a new-device notice (security/new_device_alerts.py).

The owner did not make that sign-in, so whoever did holds the password (or, after a passkey
sign-in, one of the passkeys: the mail says so, and to remove it). Using the link:

1. spends it (accounts/emailed_links.py's conditional UPDATE: of two clicks exactly one acts);
2. forgets every recognised browser of the account (``login_devices``): the stranger's browser
   keeps no lockout quota of its own and a later sign-in from it mails the owner again;
3. ends every session, refresh token and access token of the account: "sign out everywhere"
   (accounts/self_service.py), the same service the account page uses;
4. mints a password-reset link for the account and returns its message (accounts/
   password_reset.py), since the password is what let the stranger in.

The link is 256 random bits stored as a hash, good for 24 hours, once. It names an account the
holder was mailed about, so nothing here can tell anyone which addresses have accounts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from authserver.accounts.emailed_links import LinkPurpose, claim_link, find_usable_link, refuse
from authserver.accounts.password_reset import request_password_reset
from authserver.accounts.self_service import sign_out_everywhere
from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.mail import Mail
from authserver.models import LoginDevice, NotMeToken, User
from authserver.security.errors import InvalidLink

PURPOSE = LinkPurpose.NOT_ME


def is_not_me_link_usable(token: str, *, now: datetime) -> bool:
    """Whether the confirmation page may offer the button (reads only: mail scanners GET)."""
    try:
        find_usable_link(NotMeToken, PURPOSE, token, now=now)
    except InvalidLink:
        db.session.rollback()
        return False
    return True


def act_on_not_me(token: str, *, now: datetime) -> Mail | None:
    """Use the link: see the module's steps. Returns the password-reset message to send.

    Raises :class:`InvalidLink` (audited, nothing changed) for a malformed, unknown, used or
    expired link, or one of a disabled account.
    """
    try:
        row, user = find_usable_link(NotMeToken, PURPOSE, token, now=now)
    except InvalidLink as error:
        raise refuse(error, audit_as=EventTag.NOT_ME_FAILED) from None
    if not claim_link(NotMeToken, row.id, now=now):
        db.session.rollback()
        raise refuse(
            InvalidLink("used", user_subject=user.subject), audit_as=EventTag.NOT_ME_FAILED
        )
    forgotten = _forget_devices(user)
    record_event(EventTag.NOT_ME, user_subject=user.subject, detail={"devices": forgotten})
    # Commits the claim, the forgotten devices and both audit rows together.
    sign_out_everywhere(user, now=now)
    # None only for a disabled account, which find_usable_link has refused already.
    return request_password_reset(user.email, now=now)


def _forget_devices(user: User) -> int:
    """Every recognised browser of ``user`` becomes unknown (the caller commits)."""
    result = db.session.execute(delete(LoginDevice).where(LoginDevice.user_id == user.id))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount
