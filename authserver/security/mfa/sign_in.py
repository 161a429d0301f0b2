"""The second factor at sign-in: pending sign-ins, and stepping up a password-only session.

A correct password for an enrolled user gives a *pending sign-in* (:func:`begin_mfa_sign_in`),
not a session: a value signed for this purpose only (its own salt), valid for
AUTHSERVER_MFA_PENDING_TTL seconds, naming the user and never holding the password.
:func:`complete_mfa_sign_in` checks the code and uses the pending sign-in up; the caller then
starts the session. :func:`step_up` does the same for a session made with a password alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import CursorResult, Executable, select, update

from authserver.config import current_settings
from authserver.extensions import db
from authserver.models import TotpCredential, User
from authserver.security.devices import find_device_id
from authserver.security.errors import MfaNotEnrolled, PendingSignInInvalid, TooManyAttempts
from authserver.security.lockout import register_success
from authserver.security.mfa.codes import parse_submitted_code
from authserver.security.mfa.second_factor import find_active_credential, use_second_factor

# STYLE.md: tokens for different purposes never share a key or salt.
PENDING_SIGN_IN_SALT = "authserver.mfa-pending-sign-in.v1"
# Instances' clocks differ a little; a pending sign-in "from the future" beyond this is forged.
MAX_CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class PendingSignIn:
    """A correct password waiting for its second factor."""

    user_id: int
    # The authenticator's completed_challenges when the password was checked; completing the
    # sign-in requires it unchanged and bumps it, so each pending sign-in completes once.
    completed_challenges: int
    issued_at: datetime


def begin_mfa_sign_in(user: User, *, now: datetime) -> str:
    """The signed pending-sign-in value for a user whose password was just verified."""
    credential = find_active_credential(user.id)
    if credential is None:
        raise MfaNotEnrolled("this account has no authenticator app")
    # The subject, not the row id: the value is signed, not encrypted, and ids count accounts.
    payload = {"sub": user.subject, "n": credential.completed_challenges, "iat": now.timestamp()}
    return _pending_serializer().dumps(payload)


def find_pending_sign_in(value: str | None, *, now: datetime) -> PendingSignIn | None:
    """The pending sign-in ``value`` stands for, or None when it is missing, forged, expired,
    already completed, or its account has since been disabled or had its credentials ended."""
    pending = _load_pending(value)
    return pending if pending is not None and _is_live(pending, now=now) else None


def complete_mfa_sign_in(pending: PendingSignIn, code: str, *, now: datetime) -> User:
    """Check the second factor of a pending sign-in and use the pending sign-in up.

    Returns the user, for the caller to start the session. Raises MalformedMfaCode (nothing
    checked or recorded), PendingSignInInvalid (already completed elsewhere: sign in again),
    or InvalidMfaCode (recorded as an MFA failure). The caller commits, with the session it
    starts: the pending sign-in is used up only by a sign-in that happened.
    """
    submitted = parse_submitted_code(code)
    user = db.session.get(User, pending.user_id)
    credential = find_active_credential(pending.user_id)
    if user is None or credential is None or not _is_live(pending, now=now):
        raise PendingSignInInvalid("the sign-in expired; sign in again")

    def use_up_pending() -> None:
        used_up = _affected_rows(
            update(TotpCredential)
            .where(
                TotpCredential.id == credential.id,
                TotpCredential.completed_challenges == pending.completed_challenges,
            )
            .values(completed_challenges=pending.completed_challenges + 1)
        )
        if used_up != 1:  # completed by another request a moment ago: not a guess
            raise PendingSignInInvalid("the sign-in expired; sign in again")

    try:
        use_second_factor(
            user, credential, submitted, now=now, during="sign-in", first=use_up_pending
        )
    except TooManyAttempts:
        # Locked while the code was being typed (e.g. by wrong codes): start again at sign-in,
        # which gives the generic answer and, once the lock ends, a fresh attempt.
        raise PendingSignInInvalid("the sign-in expired; sign in again") from None
    # Both factors passed: now the failure counters start afresh.
    register_success(user, now=now, device=find_device_id(user))
    return user


def step_up(user: User, code: str, *, now: datetime) -> None:
    """Check a second factor for a user whose session was made with a password alone.

    The caller then restarts the session with the second factor in its ``amr``. Raises like
    :func:`complete_mfa_sign_in`, TooManyAttempts while the account is locked (the code is not
    looked at), and MfaNotEnrolled when the user has no authenticator.
    """
    submitted = parse_submitted_code(code)
    credential = find_active_credential(user.id)
    if credential is None:
        raise MfaNotEnrolled("this account has no authenticator app")
    use_second_factor(user, credential, submitted, now=now, during="step-up")
    # Pending sign-ins of this user made before the step-up cannot complete any more.
    db.session.execute(
        update(TotpCredential)
        .where(TotpCredential.id == credential.id)
        .values(completed_challenges=TotpCredential.completed_challenges + 1)
    )
    db.session.commit()


def _pending_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=PENDING_SIGN_IN_SALT)


def _is_live(pending: PendingSignIn, *, now: datetime) -> bool:
    ttl = timedelta(seconds=current_settings().mfa_pending_ttl)
    if not (now - ttl <= pending.issued_at <= now + MAX_CLOCK_SKEW):
        return False
    user = db.session.get(User, pending.user_id)
    if user is None or user.is_disabled:
        return False
    if user.tokens_valid_after is not None and pending.issued_at < user.tokens_valid_after:
        return False  # a password reset or "sign out everywhere" came after the password
    credential = find_active_credential(user.id)
    return (
        credential is not None and credential.completed_challenges == pending.completed_challenges
    )


def _load_pending(value: str | None) -> PendingSignIn | None:
    if not value:
        return None
    try:
        payload: Any = _pending_serializer().loads(value)  # Any: checked field by field below
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    subject, count, issued = payload.get("sub"), payload.get("n"), payload.get("iat")
    if not (isinstance(subject, str) and isinstance(count, int)):
        return None
    if not isinstance(issued, int | float):
        return None
    try:
        issued_at = datetime.fromtimestamp(issued, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    user_id = db.session.scalar(select(User.id).where(User.subject == subject))
    return None if user_id is None else PendingSignIn(user_id, count, issued_at)


def _affected_rows(statement: Executable) -> int:
    # UPDATE always produces a cursor result; the session's signature is wider.
    result = cast("CursorResult[Any]", db.session.execute(statement))
    return result.rowcount
