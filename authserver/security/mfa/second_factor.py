"""TOTP multi-factor authentication: enrolment, second-factor checks and recovery codes.

A user has at most one authenticator (``totp_credentials``). It is *pending* from the moment the
set-up page shows its secret until a correct code confirms it; only then does it count
(:func:`is_enrolled`) and do ten recovery codes exist. Secrets are sealed at rest by
``security.crypto`` for the purpose ``totp-secret:<user subject>``.

Every accepted code is used up by a conditional UPDATE, never by read-then-write, so two
concurrent submissions of one code cannot both pass: a TOTP code moves ``last_used_step``
forward (RFC 6238 §5.2), a recovery code sets its ``used_at``.

Signing in with the second factor (pending sign-ins, step-up) is in ``security/mfa/sign_in.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import CursorResult, Executable, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from authserver.accounts.self_service import end_other_sessions
from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models import RecoveryCode, TotpCredential, User
from authserver.security import crypto
from authserver.security.errors import (
    InvalidMfaCode,
    MalformedMfaCode,
    MfaAlreadyEnrolled,
    MfaNotEnrolled,
)
from authserver.security.factor_checks import check_factor
from authserver.security.mfa.codes import (
    SubmittedCode,
    format_secret,
    hash_recovery_code,
    matching_step,
    new_recovery_codes,
    new_totp_secret,
    parse_submitted_code,
    provisioning_uri,
    secret_groups,
)

# A set-up page left open longer than this gets a new secret when it is opened again, so a
# secret glimpsed on a screen long ago cannot be the one that is finally confirmed.
PENDING_ENROLMENT_LIFETIME = timedelta(hours=1)


# --- looking things up -----------------------------------------------------------------------


def find_totp_credential(user_id: int) -> TotpCredential | None:
    """The user's authenticator, pending or active."""
    return db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user_id))


def find_active_credential(user_id: int) -> TotpCredential | None:
    """The user's confirmed authenticator; a pending one is not a second factor."""
    return db.session.scalar(
        select(TotpCredential).where(
            TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None)
        )
    )


def is_enrolled(user_id: int) -> bool:
    return find_active_credential(user_id) is not None


def count_unused_recovery_codes(user_id: int) -> int:
    count = db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    return count or 0


@dataclass(frozen=True)
class MfaStatus:
    """What the account pages show about a user's second factor."""

    enrolled_at: datetime | None
    recovery_codes_left: int

    @property
    def is_enrolled(self) -> bool:
        return self.enrolled_at is not None


def get_mfa_status(user_id: int) -> MfaStatus:
    credential = find_active_credential(user_id)
    if credential is None:
        return MfaStatus(enrolled_at=None, recovery_codes_left=0)
    return MfaStatus(credential.confirmed_at, count_unused_recovery_codes(user_id))


# --- enrolment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnrolmentKey:
    """What the set-up page shows: the secret three ways (QR code of `uri`, text, URI)."""

    secret: str
    uri: str

    @property
    def formatted_secret(self) -> str:
        return format_secret(self.secret)

    @property
    def groups(self) -> list[str]:
        """The secret in groups of four; the page keeps each group on one line."""
        return secret_groups(self.secret)


def begin_enrolment(user: User, *, now: datetime) -> EnrolmentKey:
    """The pending secret to show, made now unless a recent one exists; commits.

    Reopening the page shows the same secret, so an app that already scanned it keeps working.
    Raises MfaAlreadyEnrolled when an authenticator is active.
    """
    credential = find_totp_credential(user.id)
    if credential is not None and credential.confirmed_at is not None:
        raise MfaAlreadyEnrolled("an authenticator app is already set up")
    if credential is not None and now - credential.created_at < PENDING_ENROLMENT_LIFETIME:
        return _enrolment_key(user, _secret(credential, user))
    secret = new_totp_secret()
    if credential is None:
        credential = TotpCredential(user_id=user.id)
        db.session.add(credential)
    credential.secret_encrypted = crypto.encrypt(secret.encode(), purpose=_purpose(user))
    credential.created_at = now
    try:
        db.session.commit()
    except IntegrityError:
        # The page was opened twice at once and the other request stored its secret first.
        db.session.rollback()
        return begin_enrolment(user, now=now)
    return _enrolment_key(user, secret)


def confirm_enrolment(
    user: User, code: str, *, now: datetime, end_sessions_except: str | None = None
) -> list[str]:
    """Activate the pending authenticator with a code from it; returns the recovery codes.

    The codes are returned once, to be shown once; only their hashes are kept. The confirming
    code counts as used (its time step cannot be replayed). With ``end_sessions_except`` (the
    asking browser's sid), every other session of the user ends too. Commits with the audit
    events.

    The code proves the app holds the secret this page showed; it is not a sign-in factor yet,
    so a wrong one is not counted toward the lockout (whoever sees the page knows the secret).
    """
    credential = find_totp_credential(user.id)
    if credential is None:
        raise MfaNotEnrolled("no authenticator set-up is in progress")
    if credential.confirmed_at is not None:
        raise MfaAlreadyEnrolled("an authenticator app is already set up")
    submitted = parse_submitted_code(code)
    if submitted.is_recovery_code:
        raise MalformedMfaCode("enter the 6-digit code your authenticator app shows")
    step = matching_step(_secret(credential, user), submitted.value, now=now)
    if step is None:
        raise InvalidMfaCode()
    confirmed = _affected_rows(
        update(TotpCredential)
        .where(TotpCredential.id == credential.id, TotpCredential.confirmed_at.is_(None))
        .values(confirmed_at=now, last_used_step=step)
    )
    if confirmed != 1:
        db.session.rollback()  # confirmed by a concurrent request a moment ago
        raise MfaAlreadyEnrolled("an authenticator app is already set up")
    codes = _replace_recovery_codes(user, now=now)
    record_event(EventTag.MFA_ENROLLED, user_subject=user.subject)
    _end_other_sessions(user, end_sessions_except, now=now, after="mfa-enrol")
    db.session.commit()
    return codes


# --- using the second factor (sign-in itself is in security/mfa/sign_in.py) ------------------


def use_second_factor(
    user: User,
    credential: TotpCredential,
    submitted: SubmittedCode,
    *,
    now: datetime,
    during: str,
    first: Callable[[], None] | None = None,
) -> None:
    """Check and use up the code through the lockout's gate (``security/factor_checks.py``),
    in the caller's transaction, and audit it. For the services of this package only: they
    commit (a sign-in's commit is the session's, made by its caller), and stage nothing of
    their own before calling this (the gate commits its count).

    Raises TooManyAttempts while the account is locked (the code is not looked at, right or
    wrong) and InvalidMfaCode (recorded, counted toward the lockout) for a wrong code; either
    way the caller's transaction is rolled back. ``first`` runs inside the check before the
    code is looked at; it may raise to abandon the check (the attempt is then not counted).
    """

    def check() -> bool:
        if first is not None:
            first()
        if submitted.is_recovery_code:
            return _use_recovery_code(user, submitted.value, now=now)
        return _use_totp_code(user, credential, submitted.value, now=now)

    if not check_factor(user, check, factor="mfa", during=during, now=now):
        raise InvalidMfaCode()
    method = "recovery-code" if submitted.is_recovery_code else "totp"
    detail = {"method": method, "during": during}
    record_event(EventTag.MFA_VERIFIED, user_subject=user.subject, detail=detail)


def _use_totp_code(user: User, credential: TotpCredential, code: str, *, now: datetime) -> bool:
    step = matching_step(_secret(credential, user), code, now=now)
    if step is None:
        return False
    # RFC 6238 §5.2: the verifier MUST NOT accept the second attempt of an OTP after the first
    # succeeded. Only a later step than the last accepted one passes, and the condition is
    # checked by the UPDATE itself, so of two concurrent uses of one code exactly one wins.
    accepted = _affected_rows(
        update(TotpCredential)
        .where(
            TotpCredential.id == credential.id,
            TotpCredential.confirmed_at.is_not(None),
            or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step),
        )
        .values(last_used_step=step)
    )
    return accepted == 1


def _use_recovery_code(user: User, code: str, *, now: datetime) -> bool:
    used = _affected_rows(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == hash_recovery_code(code, user_subject=user.subject),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if used != 1:
        return False
    record_event(
        EventTag.RECOVERY_CODE_USED,
        user_subject=user.subject,
        detail={"remaining": count_unused_recovery_codes(user.id)},
    )
    return True


# --- managing it -----------------------------------------------------------------------------


def regenerate_recovery_codes(
    user: User, code: str, *, now: datetime, end_sessions_except: str | None = None
) -> list[str]:
    """A new set of recovery codes, after a fresh second factor; the old set stops working.

    Raises MalformedMfaCode, InvalidMfaCode (recorded), TooManyAttempts (locked) or
    MfaNotEnrolled. With ``end_sessions_except``, every other session ends too. Commits.
    """
    credential = _require_active(user)
    use_second_factor(
        user, credential, parse_submitted_code(code), now=now, during="regenerate-recovery-codes"
    )
    codes = _replace_recovery_codes(user, now=now)
    record_event(EventTag.RECOVERY_CODES_REGENERATED, user_subject=user.subject)
    _end_other_sessions(user, end_sessions_except, now=now, after="recovery-codes-regenerate")
    db.session.commit()
    return codes


def remove_mfa(
    user: User, code: str, *, now: datetime, end_sessions_except: str | None = None
) -> None:
    """Remove the authenticator and recovery codes, after a fresh second factor. Commits.

    Raises like :func:`regenerate_recovery_codes`; ``end_sessions_except`` likewise.
    """
    credential = _require_active(user)
    use_second_factor(user, credential, parse_submitted_code(code), now=now, during="remove")
    _delete_second_factor(user)
    record_event(EventTag.MFA_REMOVED, user_subject=user.subject)
    _end_other_sessions(user, end_sessions_except, now=now, after="mfa-remove")
    db.session.commit()


def reset_mfa(user: User, *, via: str) -> None:
    """Support's reset for someone who lost their authenticator and recovery codes.

    Removes the authenticator (pending or active) and every recovery code; the user signs in
    with the password alone until they set up a new one. ``via`` names the admin surface.
    Raises MfaNotEnrolled when there is nothing to reset. Commits with the audit event.
    """
    if find_totp_credential(user.id) is None:
        raise MfaNotEnrolled(f"{user.email} has no authenticator app")
    _delete_second_factor(user)
    record_event(EventTag.MFA_RESET, user_subject=user.subject, detail={"via": via})
    db.session.commit()


# --- helpers ---------------------------------------------------------------------------------


def _end_other_sessions(user: User, keep_sid: str | None, *, now: datetime, after: str) -> None:
    # Last before the commit: a Redis session store acts at once (accounts/self_service.py).
    if keep_sid is not None:
        end_other_sessions(user, keep_sid=keep_sid, now=now, after=after)


def _require_active(user: User) -> TotpCredential:
    credential = find_active_credential(user.id)
    if credential is None:
        raise MfaNotEnrolled("no authenticator app is set up")
    return credential


def _replace_recovery_codes(user: User, *, now: datetime) -> list[str]:
    codes = new_recovery_codes()
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.add_all(
        RecoveryCode(
            user_id=user.id,
            code_hash=hash_recovery_code(code, user_subject=user.subject),
            created_at=now,
        )
        for code in codes
    )
    return codes


def _delete_second_factor(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))


def _affected_rows(statement: Executable) -> int:
    # UPDATE and DELETE always produce a cursor result; the session's signature is wider.
    result = cast("CursorResult[Any]", db.session.execute(statement))
    return result.rowcount


def _purpose(user: User) -> str:
    return totp_secret_purpose(user.subject)


def totp_secret_purpose(subject: str) -> str:
    """What a TOTP secret is sealed for (security.crypto): bound to its owner."""
    return f"totp-secret:{subject}"


def _secret(credential: TotpCredential, user: User) -> str:
    return crypto.decrypt(credential.secret_encrypted, purpose=_purpose(user)).decode()


def _enrolment_key(user: User, secret: str) -> EnrolmentKey:
    return EnrolmentKey(secret, provisioning_uri(secret, account=user.email, issuer=totp_issuer()))


def totp_issuer() -> str:
    """The name authenticator apps list our codes under: AUTHSERVER_TOTP_ISSUER, else the
    brand's name (the name people know the service by), else the issuer's host name."""
    settings = current_settings()
    if settings.totp_issuer:
        return settings.totp_issuer
    if settings.brand_name:
        # The app's label is "issuer:account", split at the colon (Google Authenticator's Key
        # Uri Format: neither part may hold one), so a colon in a brand name becomes a space.
        return " ".join(settings.brand_name.replace(":", " ").split())
    return urlsplit(settings.issuer).hostname or settings.issuer
