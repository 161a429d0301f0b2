"""Account lockout that an attacker cannot turn into a denial of service against the owner.

The rules (OWASP "Slow Down Online Guessing Attacks with Device Cookies"; NIST SP 800-63B
§5.2.2 asks for a limit on consecutive failed attempts):

- A browser that has signed in to the account before (a recognised device, security/devices.py)
  counts its own failures: after AUTHSERVER_LOCKOUT_DEVICE_THRESHOLD in a row only that device
  is locked. Guessing elsewhere never locks it.
- Every other browser shares the account's counter: after AUTHSERVER_LOCKOUT_THRESHOLD failures
  in a row, sign-in to the account from unrecognised browsers is locked.
- A lock lasts AUTHSERVER_LOCKOUT_SECONDS and doubles with each further lock, up to
  AUTHSERVER_LOCKOUT_MAX_SECONDS; it always ends. While it lasts even the right password fails,
  with the same answer as a wrong one. Only a successful sign-in resets the doubling.
- The owner is mailed a single-use link that lifts the lock (valid while the lock lasts);
  operators have ``authserver user unlock``.

Every attempt is counted *before* any secret is looked at: :func:`claim_attempt` is one
conditional UPDATE that increments the counter only while it is below the threshold and no lock
is running, and returns the new count. The database decides, so parallel guesses (on any number
of instances) cannot get more than the threshold of attempts past it. Each claimed attempt
then ends in :func:`register_failure` (it stays counted), :func:`release_attempt` (its secret
was right, but more is to come: a second factor, or the change a signed-in form asks for) or
:func:`register_success` (a sign-in completed: every counter restarts). Every check of a
password or a second factor goes through ``security/factor_checks.py``, which does this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from flask import has_request_context
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from authserver.accounts.emailed_links import (
    LinkPurpose,
    claim_link,
    find_link,
    link_url,
    store_new_link,
)
from authserver.audit.events import EventTag, record_event
from authserver.config import Settings, current_settings
from authserver.extensions import db
from authserver.mail_language import mail_language
from authserver.models import LoginDevice, UnlockToken, User
from authserver.security.devices import find_device, remember_device
from authserver.security.new_device_alerts import note_completed_sign_in
from authserver.security.sign_in_notices import mail_lock_notice

log = logging.getLogger(__name__)

UNLOCK = LinkPurpose.UNLOCK

# 2**32 lock lengths are far beyond any maximum; the cap only keeps the arithmetic small.
MAX_DOUBLINGS = 32

Scope = Literal["account", "device"]


@dataclass(frozen=True)
class Attempt:
    """One counted sign-in attempt, from :func:`claim_attempt`."""

    user_id: int
    user_subject: str
    email: str
    language: str  # of the lock notice, should this attempt lock the account (mail_language.py)
    has_password: bool  # the lock notice speaks of passwords only to accounts that have one
    # The recognised device it was counted on; None means the account's shared counter.
    device_id: str | None
    failures: int  # the counter including this attempt (0 when refused)
    is_allowed: bool  # False: locked; check no secret, answer as for a wrong one

    @property
    def scope(self) -> Scope:
        return "account" if self.device_id is None else "device"


@dataclass(frozen=True)
class LockState:
    """What a failure left behind."""

    scope: Scope
    is_locked: bool
    locked_until: datetime | None
    just_locked: bool  # this failure started the lock


def _not_locked(
    column: InstrumentedAttribute[datetime | None], now: datetime
) -> ColumnElement[bool]:
    return or_(column.is_(None), column <= now)


def _counters(model: type[User] | type[LoginDevice], **values: Any) -> dict[str, Any]:
    """UPDATE values for lockout counters (Any: SQL expressions as well as plain values)."""
    if model is User:
        # Counters are not changes to the account: users.updated_at must not move (onupdate).
        values["updated_at"] = User.updated_at
    return values


def claim_attempt(user: User, *, now: datetime, device: str | None) -> Attempt:
    """Count one attempt against ``user`` before any secret is checked; commits at once.

    Committed at once so every instance sees it, and so no transaction stays open while the
    password is hashed. ``device`` is :func:`security.devices.find_device_id`'s answer.
    """
    settings = current_settings()
    known = find_device(user, device, now=now)
    if known is not None:
        counted: int | None = db.session.execute(
            update(LoginDevice)
            .where(
                LoginDevice.id == known.id,
                LoginDevice.failed_logins < settings.lockout_device_threshold,
                _not_locked(LoginDevice.locked_until, now),
            )
            .values(failed_logins=LoginDevice.failed_logins + 1)
            .returning(LoginDevice.failed_logins)
            .execution_options(synchronize_session=False)
        ).scalar()
    else:
        counted = db.session.execute(
            update(User)
            .where(
                User.id == user.id,
                User.failed_logins < settings.lockout_threshold,
                _not_locked(User.locked_until, now),
            )
            .values(_counters(User, failed_logins=User.failed_logins + 1))
            .returning(User.failed_logins)
            .execution_options(synchronize_session=False)
        ).scalar()
    attempt = Attempt(
        user_id=user.id,
        user_subject=user.subject,
        email=user.email,
        language=mail_language(user.language),
        has_password=user.has_password,
        device_id=None if known is None else known.device_id,
        failures=counted or 0,
        is_allowed=counted is not None,
    )
    db.session.commit()
    return attempt


def register_failure(
    attempt: Attempt, *, now: datetime, factor: str, reason: str, during: str | None = None
) -> LockState:
    """A claimed attempt failed (wrong password, wrong code, disabled account, or refused).

    Audits it; the attempt that used up the quota locks the account (or device), audits the lock
    and mails the owner an unlock link once the response has gone out, saying what was tried
    (``factor``: "password", "mfa" or "passkey", security/factor_checks.py). Commits.
    ``during`` names a step other than signing in that asked for the password again (such as
    deleting the account); it is recorded with the failure.
    """
    state = _lock_if_due(attempt, now=now)
    detail: dict[str, Any] = {
        # "locked": refused without looking at the secret. The concurrency test counts the
        # other reasons to prove how many guesses were really evaluated.
        "reason": reason if attempt.is_allowed else "locked",
        "scope": attempt.scope,
        "failures": attempt.failures,
    }
    if during is not None:
        detail["during"] = during
    record_event(
        EventTag.LOGIN_FAILURE,
        outcome="failure",
        user_subject=attempt.user_subject,
        detail=detail,
    )
    if state.just_locked:
        assert state.locked_until is not None
        record_event(
            EventTag.LOCKOUT,
            user_subject=attempt.user_subject,
            detail={"scope": attempt.scope, "locked_until": state.locked_until.isoformat()},
        )
        token = _issue_unlock_token(attempt.user_id, expires_at=state.locked_until, now=now)
        mail_lock_notice(
            email=attempt.email,
            language=attempt.language,
            scope=attempt.scope,
            link=link_url(UNLOCK, token),
            locked_until=state.locked_until,
            failed_with=what_failed(factor, reason, has_password=attempt.has_password),
            has_password=attempt.has_password,
        )
    db.session.commit()
    return state


def what_failed(factor: str, reason: str, *, has_password: bool) -> str:
    """What the lock notice tells the owner was tried, so it never blames a password that was
    right, or one the account does not have: ``code`` or ``passkey-step`` (the password was
    right, the second step failed), ``password`` (wrong passwords), or ``sign-in`` (passkeys,
    or guesses at an account that has no password)."""
    if factor == "mfa" and has_password:
        # Only a pending sign-in (made with the password) or a session gets to a second step.
        return "passkey-step" if reason.startswith("passkey") else "code"
    if factor == "password" and has_password:
        return "password"
    return "sign-in"


def register_success(
    user: User, *, now: datetime, device: str | None, password_used: bool = True
) -> None:
    """The sign-in is complete (every factor passed): the counters and the doubling restart.

    In a request, the browser gets a fresh device id for this account (the one it presented is
    replaced), and a browser new to the account mails the owner (security/new_device_alerts.py;
    ``password_used`` False for a passkey alone, so the mail does not blame a password).
    Audits the sign-in; the caller commits, together with the session it starts, so
    that a sign-in cut off before its commit leaves no trace of having happened.
    """
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(_counters(User, failed_logins=0, locked_until=None, lock_count=0))
        .execution_options(synchronize_session=False)
    )
    known = find_device(user, device, now=now)
    if has_request_context():
        remember_device(user, now=now, replacing=None if known is None else known.device_id)
    elif known is not None:
        known.failed_logins, known.locked_until, known.lock_count = 0, None, 0
    record_event(
        EventTag.LOGIN,
        user_subject=user.subject,
        detail={"device": "new" if known is None else "recognised"},
    )
    # A browser new to the account tells the owner (unless it is the account's first sign-in).
    note_completed_sign_in(user, now=now, recognised=known is not None, password_used=password_used)


def release_attempt(attempt: Attempt, *, now: datetime) -> None:
    """The secret of a claimed attempt was right: it no longer counts. The caller commits.

    Only this attempt is taken back; failures before it stay counted (a final sign-in success
    zeroes them, :func:`register_success`). A lock that started meanwhile stands.
    """
    if not attempt.is_allowed:
        return
    model: type[User] | type[LoginDevice]
    if attempt.device_id is None:
        model, row = User, User.id == attempt.user_id
    else:
        model, row = LoginDevice, LoginDevice.device_id == attempt.device_id
    db.session.execute(
        update(model)
        .where(row, model.failed_logins > 0, _not_locked(model.locked_until, now))
        .values(_counters(model, failed_logins=model.failed_logins - 1))
        .execution_options(synchronize_session=False)
    )


def is_locked(user: User, *, now: datetime, device: str | None) -> bool:
    """Whether sign-in to ``user`` from this browser is locked right now (read afresh)."""
    known = find_device(user, device, now=now)
    if known is not None:
        until = db.session.scalar(
            select(LoginDevice.locked_until).where(LoginDevice.id == known.id)
        )
    else:
        until = db.session.scalar(select(User.locked_until).where(User.id == user.id))
    return until is not None and until > now


def lock_duration(lock_count: int, settings: Settings) -> timedelta:
    """The length of the next lock after ``lock_count`` earlier ones: doubling, capped."""
    seconds = settings.lockout_seconds * 2 ** min(lock_count, MAX_DOUBLINGS)
    return timedelta(seconds=min(seconds, settings.lockout_max_seconds))


def _lock_if_due(attempt: Attempt, *, now: datetime) -> LockState:
    """Lock when the counter has reached the threshold and no lock is running.

    Conditional on the lock count read just before, so of two failures racing here one locks
    and the other changes nothing. Also heals a counter left at the threshold without a lock
    (a request that died between counting and locking, or a lowered threshold): a refused
    attempt locks it then, so no counter refuses forever. (A refusal racing the last allowed
    attempt may so lock a moment early; if that attempt had the right password, its success
    lifts the lock again.)
    """
    settings = current_settings()
    model: type[User] | type[LoginDevice]
    if attempt.device_id is None:
        model, threshold = User, settings.lockout_threshold
        row = User.id == attempt.user_id
    else:
        model, threshold = LoginDevice, settings.lockout_device_threshold
        row = LoginDevice.device_id == attempt.device_id
    current = db.session.execute(
        select(model.lock_count, model.locked_until, model.failed_logins).where(row)
    ).one_or_none()
    if current is None:  # the device record was replaced by a sign-in meanwhile
        return LockState(attempt.scope, False, None, False)
    lock_count, locked_until, failures = current
    if locked_until is not None and locked_until > now:
        return LockState(attempt.scope, True, locked_until, False)
    if failures < threshold:
        return LockState(attempt.scope, False, None, False)
    until = now + lock_duration(lock_count, settings)
    locked = db.session.execute(
        update(model)
        .where(
            row,
            model.lock_count == lock_count,
            model.failed_logins >= threshold,
            _not_locked(model.locked_until, now),
        )
        .values(
            _counters(model, failed_logins=0, locked_until=until, lock_count=model.lock_count + 1)
        )
        .execution_options(synchronize_session=False)
    )
    # Zero rows: a racing failure locked it a moment ago (with the same length).
    just_locked = locked.rowcount == 1  # type: ignore[attr-defined]  # CursorResult has rowcount
    return LockState(attempt.scope, True, until, just_locked)


# --- unlocking ----------------------------------------------------------------------------------


def _issue_unlock_token(user_id: int, *, expires_at: datetime, now: datetime) -> str:
    # Earlier links stay: a lock of the account and a lock of one browser each send one.
    return store_new_link(
        UnlockToken, UNLOCK, user_id, now=now, expires_at=expires_at, replace_earlier=False
    )


def is_unlock_token_valid(token: str, *, now: datetime) -> bool:
    """Whether ``token`` would unlock something now (for the confirmation page; uses nothing)."""
    row = find_link(UnlockToken, UNLOCK, token)
    return row is not None and row.used_at is None and row.expires_at > now


def unlock_with_token(token: str, *, now: datetime) -> bool:
    """Use an emailed unlock link: True if it was valid (it is spent now), False otherwise.

    Of two clicks racing, exactly one succeeds (accounts/emailed_links.py's claim).
    """
    row = find_link(UnlockToken, UNLOCK, token)
    if row is None or not claim_link(UnlockToken, row.id, now=now):
        db.session.rollback()
        return False
    user = db.session.get(User, row.user_id)
    assert user is not None  # the token row cascades away with its user
    unlock(user, now=now, by="owner")
    return True


def unlock(user: User, *, now: datetime, by: str) -> bool:
    """Lift every lock on ``user`` and its devices and zero their counters; audit; commit.

    ``by`` is recorded in the audit row: "owner" (the emailed link), "admin" (the CLI).
    Returns whether anything was locked.
    """
    was_locked = clear_locks(user, now=now)
    record_event(
        EventTag.UNLOCK, user_subject=user.subject, detail={"by": by, "was_locked": was_locked}
    )
    db.session.commit()
    return was_locked


def clear_locks(user: User, *, now: datetime) -> bool:
    """Zero the counters and lift the locks of ``user`` and its devices. The caller commits.

    For services that end in a state no lock should survive (a password reset) and audit it
    their own way. The doubling history stays: if the guessing goes on, the next lock is still
    longer than the last. Returns whether anything was locked.
    """
    device_locks = db.session.scalar(
        select(LoginDevice.id).where(LoginDevice.user_id == user.id, LoginDevice.locked_until > now)
    )
    account_until = db.session.scalar(select(User.locked_until).where(User.id == user.id))
    was_locked = device_locks is not None or (account_until is not None and account_until > now)
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(_counters(User, failed_logins=0, locked_until=None))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(LoginDevice)
        .where(LoginDevice.user_id == user.id)
        .values(failed_logins=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return was_locked
