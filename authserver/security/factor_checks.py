"""The one gate in front of every check of a password or a second factor (ASVS 5.0 V6.3.1).

Signing in (the password, then the code of a pending sign-in), stepping up a session,
replacing recovery codes, removing the authenticator, changing the password and deleting the
account all check their secret through :func:`check_factor`, so the lockout of
``security/lockout.py`` holds for each of them alike:

1. the attempt is counted before the secret is looked at (``claim_attempt``: one conditional
   UPDATE, so parallel guesses on any number of instances cannot pass the threshold);
2. while the account (or this browser) is locked the secret is not checked at all, right or
   wrong: :class:`TooManyAttempts`. No password is hashed either, so a locked account cannot be
   used to keep the CPU busy; only the sign-in page, where an unknown address must cost the
   same as a locked account, asks for a stand-in hash (``when_locked``);
3. a wrong secret stays counted and may lock (the owner is mailed); a wrong second factor after
   the right password is also told to the owner below the threshold (ASVS V6.3.5,
   ``security/sign_in_notices.py``);
4. a right secret gives its attempt back (``release_attempt``), in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.models import User
from authserver.security.devices import find_device_id
from authserver.security.errors import TooManyAttempts, WrongPassword
from authserver.security.lockout import claim_attempt, register_failure, release_attempt
from authserver.security.passwords import matches_password
from authserver.security.sign_in_notices import SIGN_IN_STEPS, notify_partial_sign_in

# "passkey": a passwordless sign-in (a second factor after a password is "mfa").
Factor = Literal["password", "mfa", "passkey"]
SIGN_IN = "sign-in"


def check_factor(
    user: User,
    check: Callable[[], bool | str],
    *,
    factor: Factor,
    during: str,
    now: datetime,
    when_locked: Callable[[], None] | None = None,
) -> bool:
    """Whether ``check()`` accepted the secret, counted against the lockout as above.

    ``check`` answers True (right), False (wrong) or a reason to refuse a right secret anyway
    (such as "disabled"), which is recorded as that failure.

    ``during`` names the step ("sign-in", "step-up", "password-change", ...) in the audit rows.
    Raises :class:`TooManyAttempts` while locked (``check`` is not called). The attempt is
    committed before ``check`` runs, so the caller must not have staged work of its own;
    ``check`` may stage writes (using up a code): they are rolled back when it answers False
    or raises (a raise also gives the attempt back), and committed by the caller on True.
    """
    attempt = claim_attempt(user, now=now, device=find_device_id(user))
    if not attempt.is_allowed:
        if when_locked is not None:
            when_locked()
        register_failure(attempt, now=now, factor=factor, reason="locked", during=during)
        raise TooManyAttempts()
    try:
        passed = check()
    except BaseException:
        db.session.rollback()
        release_attempt(attempt, now=now)
        db.session.commit()
        raise
    if passed is True:
        release_attempt(attempt, now=now)
        return True
    db.session.rollback()  # whatever the check staged
    reason = factor if passed is False else passed
    if factor == "mfa":
        record_event(
            EventTag.MFA_FAILURE,
            outcome="failure",
            user_subject=attempt.user_subject,
            detail={"during": during},
        )
    state = register_failure(
        attempt,
        now=now,
        factor=factor,
        reason=reason,
        during=None if during == SIGN_IN else during,
    )
    if reason == "mfa" and during in SIGN_IN_STEPS and not state.is_locked:
        # The lock notice already says it when this failure locked.
        notify_partial_sign_in(attempt.user_id, now=now)
    return False


def check_password_again(user: User, password: str, *, during: str, now: datetime) -> None:
    """A signed-in form asks for the current password again (changing it, deleting the account).

    Asking again means an open session on a shared computer, or a stolen cookie, is not enough;
    going through the gate means the form is no way around the lockout. Raises
    :class:`TooManyAttempts` (locked: nothing hashed) or :class:`WrongPassword` (counted).
    """
    if not check_factor(
        user,
        lambda: matches_password(user.password_hash, password),
        factor="password",
        during=during,
        now=now,
    ):
        raise WrongPassword()
