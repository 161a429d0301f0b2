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

Every success starts a new session (a new id: no fixation) and commits once, with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from authserver.accounts.lifecycle import check_password
from authserver.models import User
from authserver.security.devices import find_device_id
from authserver.security.lockout import register_success
from authserver.security.mfa.recovery_notices import recovery_codes_left_after
from authserver.security.mfa.second_factor import is_enrolled
from authserver.security.mfa.sign_in import (
    PendingSignIn,
    begin_mfa_sign_in,
    complete_mfa_sign_in,
    step_up,
)
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
