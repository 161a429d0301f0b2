"""Signing in: the one sequence of password, second factor, lockout and session.

The pages (web/login.py, web/mfa.py) only read forms and choose responses; the order of the
steps, which decides what an attacker can learn or skip, is kept here:

1. :func:`sign_in_with_password` checks the password (through security/factor_checks.py, so a
   locked account answers like a wrong password). An account without a second factor is
   signed in; one with an authenticator gets a *pending sign-in* and no session.
2. :func:`complete_sign_in` checks the code of a pending sign-in and signs in with both
   (after a recovery code, security/mfa/recovery_notices.py counts what is left and mails).
3. :func:`step_up_session` checks a code for a session made with a password alone and
   restarts it with the second factor (a client asked for MFA).

A passkey (security/passkey_ceremonies.py, user verification required) is two factors by
itself: :func:`sign_in_with_passkey` signs in without a password, and
:func:`complete_sign_in_with_passkey` / :func:`step_up_with_passkey` use one as the second
factor instead of a code. Their ``amr`` is in security/passkeys.py.

Every success starts a new session (a new id: no fixation) and commits once, with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update

from authserver.accounts.lifecycle import check_password, get_user
from authserver.extensions import db
from authserver.models import TotpCredential, User
from authserver.security.devices import find_device_id
from authserver.security.errors import PendingSignInInvalid
from authserver.security.lockout import register_success
from authserver.security.mfa.recovery_notices import recovery_codes_left_after
from authserver.security.mfa.second_factor import is_enrolled
from authserver.security.mfa.sign_in import (
    PendingSignIn,
    begin_mfa_sign_in,
    complete_mfa_sign_in,
    step_up,
)
from authserver.security.passkey_ceremonies import verify_assertion
from authserver.security.passkeys import passkey_amr
from authserver.sessions import BrowserSession, start_session

# Authentication method references (RFC 8176 §2) a session records.
PASSWORD = "pwd"
ONE_TIME_CODE = "otp"


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: BrowserSession
    # When a recovery code was the second factor: how many are left (the page says so).
    recovery_codes_left: int | None = None


@dataclass(frozen=True)
class SecondFactorNeeded:
    """A correct password for an account with an authenticator: no session yet."""

    user: User
    pending: str  # the signed pending sign-in, for the browser to bring to the challenge


def sign_in_with_password(
    email: str, password: str, *, now: datetime
) -> SignedIn | SecondFactorNeeded:
    """Raises InvalidCredentials for any failure (unknown address, wrong password, disabled or
    locked account alike: the page must not tell them apart)."""
    user = check_password(email, password, now=now)
    if is_enrolled(user.id):
        # The failure count stays until the second factor passes too, or the 6-digit code
        # could be guessed forever behind a right password.
        return SecondFactorNeeded(user, begin_mfa_sign_in(user, now=now))
    register_success(user, now=now, device=find_device_id(user))
    return SignedIn(user, start_session(user, amr=[PASSWORD], now=now))


def complete_sign_in(pending: PendingSignIn, code: str, *, now: datetime) -> SignedIn:
    """Raises like security/mfa/sign_in.py's complete_mfa_sign_in; nothing starts then."""
    user = complete_mfa_sign_in(pending, code, now=now)
    session = start_session(user, amr=[PASSWORD, ONE_TIME_CODE], now=now)
    return SignedIn(user, session, recovery_codes_left_after(user, code, now=now))


def step_up_session(user: User, session: BrowserSession, code: str, *, now: datetime) -> SignedIn:
    """Raises like security/mfa/sign_in.py's step_up; the session stays as it was then."""
    step_up(user, code, now=now)
    stepped_up = start_session(user, amr=amr_with_one_time_code(session.amr), now=now)
    return SignedIn(user, stepped_up, recovery_codes_left_after(user, code, now=now))


def amr_with_one_time_code(amr: tuple[str, ...]) -> tuple[str, ...]:
    """A session's methods once a one-time code has been given too, without repeats."""
    return tuple(dict.fromkeys((*amr, ONE_TIME_CODE)))


def sign_in_with_passkey(credential: str, *, now: datetime) -> SignedIn:
    """A passwordless sign-in; ``credential`` is the browser's answer (JSON text). Raises
    PasskeyRefused (any failure alike) or TooManyAttempts (the account is locked)."""
    passkey = verify_assertion(credential, "sign-in", user=None, during="sign-in", now=now)
    user = get_user(passkey.user_id)
    register_success(user, now=now, device=find_device_id(user), password_used=False)
    return SignedIn(user, start_session(user, amr=passkey_amr(passkey), now=now))


def complete_sign_in_with_passkey(
    pending: PendingSignIn, credential: str, *, now: datetime
) -> SignedIn:
    """A passkey instead of the code of a pending sign-in. Raises PasskeyRefused,
    TooManyAttempts, or PendingSignInInvalid (completed elsewhere meanwhile)."""
    user = get_user(pending.user_id)
    passkey = verify_assertion(credential, "second-factor", user=user, during="sign-in", now=now)
    # As for a code (security/mfa/sign_in.py): each pending sign-in completes once.
    used_up = cast(
        "CursorResult[Any]",
        db.session.execute(
            update(TotpCredential)
            .where(
                TotpCredential.user_id == user.id,
                TotpCredential.completed_challenges == pending.completed_challenges,
            )
            .values(completed_challenges=pending.completed_challenges + 1)
        ),
    ).rowcount
    if used_up != 1:
        db.session.rollback()
        raise PendingSignInInvalid("the sign-in expired; sign in again")
    register_success(user, now=now, device=find_device_id(user))
    amr = [PASSWORD, *passkey_amr(passkey)]
    return SignedIn(user, start_session(user, amr=amr, now=now))


def step_up_with_passkey(
    user: User, session: BrowserSession, credential: str, *, now: datetime
) -> SignedIn:
    """A passkey for a session made with a password alone; raises like verify_assertion."""
    passkey = verify_assertion(credential, "second-factor", user=user, during="step-up", now=now)
    amr = tuple(dict.fromkeys((*session.amr, *passkey_amr(passkey))))
    return SignedIn(user, start_session(user, amr=amr, now=now))
