"""Deleting an account (GDPR Art. 17): everything about the person goes, the security record stays.

What happens, in one transaction:

- every row that belongs to the account is deleted: sessions (either store), refresh tokens and
  their families, authorization and device codes, consents, the authenticator and recovery codes,
  recognised browsers, unlock, reset and verification links, and the ``users`` row itself;
- the audit rows about the account are kept but pseudonymised (``audit/privacy.py``):
  a random stand-in for the subject, no IP address or user agent, no identifiers in ``detail``;
- one ``user:delete`` row records the deletion, under the same stand-in and without the
  request's address.

Access tokens already handed out die with the row: every check of a user's token looks the
subject up (``oauth.refresh_rotation.is_user_token_valid``), and a subject that no longer
exists is never valid. Subjects are random UUIDs, never reused, so a new account with the same
e-mail address gets a new subject and inherits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, delete

from authserver.audit.events import EventTag, record_event
from authserver.audit.privacy import new_pseudonym, pseudonymise_audit_rows
from authserver.backchannel.outbox import announce_ended_sessions
from authserver.extensions import db
from authserver.models import (
    AuthorizationCode,
    BrowserSessionRecord,
    Consent,
    DeviceCode,
    EmailVerificationToken,
    Invitation,
    LoginDevice,
    NotMeToken,
    Passkey,
    PasskeyChallenge,
    PasswordResetToken,
    RecoveryCode,
    RefreshFamily,
    RefreshToken,
    TotpCredential,
    UnlockToken,
    User,
    UserRole,
)
from authserver.security.errors import MalformedMfaCode
from authserver.security.factor_checks import check_password_again
from authserver.security.mfa.codes import parse_submitted_code
from authserver.security.mfa.second_factor import find_active_credential, use_second_factor
from authserver.security.recent_sign_in import check_recent_sign_in
from authserver.sessions.service import session_store

DELETION_STEP = "account-delete"  # names the step in audit rows of failed re-authentication
# Tables whose rows belong to one user (column user_id), children before parents.
OWNED_TABLES: tuple[Any, ...] = (  # Any: model classes of different types
    AuthorizationCode,
    DeviceCode,
    RefreshToken,
    RefreshFamily,
    Consent,
    RecoveryCode,
    TotpCredential,
    LoginDevice,
    UnlockToken,
    NotMeToken,
    PasswordResetToken,
    EmailVerificationToken,
    Invitation,  # the one that made the account: it holds the address
    UserRole,
    BrowserSessionRecord,  # rows the database store kept, whichever store is in use now
    Passkey,
    PasskeyChallenge,  # unanswered ceremonies of the account (sign-in ones name nobody)
)


@dataclass(frozen=True)
class DeletionReport:
    """What a deletion removed: counts only, nothing that names the person."""

    sessions: int  # not signed out and not past their absolute end
    refresh_tokens: int
    consents: int
    audit_rows_pseudonymised: int


def check_may_ask_to_delete(user: User, *, auth_time: datetime, now: datetime) -> None:
    """Before the deletion form is even shown: an account without a password will be asked
    for no secret, so its session must have signed in a short while ago, or
    ``RecentSignInNeeded`` (the person signs in again first, rather than after filling the
    form in). An account with a password proves itself on the form."""
    if not user.has_password:
        check_recent_sign_in(auth_time, now=now)


def delete_own_account(
    user: User, *, password: str | None, code: str | None, auth_time: datetime, now: datetime
) -> DeletionReport:
    """The account page's deletion: prove it is the owner again, then :func:`delete_account`.

    A signed-in browser is not enough: the current password is asked, and the second factor
    when one is set up. Raises :class:`MalformedMfaCode` (nothing counted, nothing changed),
    ``TooManyAttempts`` (locked: nothing checked), ``WrongPassword`` (counted toward lockout
    like a failed sign-in) or ``InvalidMfaCode`` (counted too); in every case the account stays
    as it was. An account without a password (passkeys only) has none to ask for: its session
    must have signed in a short while ago (``auth_time``), with the passkey, instead, or
    ``RecentSignInNeeded``.
    """
    credential = find_active_credential(user.id)
    submitted = None
    if credential is not None:
        if not code:
            raise MalformedMfaCode()
        submitted = parse_submitted_code(code)  # before anything is counted
    # Through the lockout's gate: this form is no way around the lockout for someone who has
    # found an open session, and a locked account costs no hashing here.
    if user.has_password:
        check_password_again(user, password or "", during=DELETION_STEP, now=now)
    else:
        check_recent_sign_in(auth_time, now=now)
    if credential is not None and submitted is not None:
        use_second_factor(user, credential, submitted, now=now, during=DELETION_STEP)
    return delete_account(user, now=now, via="account-page")


def delete_account(user: User, *, now: datetime, via: str) -> DeletionReport:
    """Delete the account and everything that belongs to it; pseudonymise its audit rows.

    ``via`` names the surface ("account-page", "cli") in the audit row. One transaction,
    committed at the end, so a failure before it leaves everything as it was.
    """
    subject, email, user_id = user.subject, user.email, user.id
    # Before anything is deleted: the records of who got ID tokens go with the sessions.
    announce_ended_sessions(user_id, now=now, all_sessions=True)
    sessions = session_store().list_all_for_user(user_id)
    removed = {model.__tablename__: _delete_rows_of(model, user_id) for model in OWNED_TABLES}
    db.session.execute(delete(User).where(User.id == user_id))
    pseudonym = new_pseudonym()
    audit_rows = pseudonymise_audit_rows(subject, email=email, pseudonym=pseudonym)
    record_event(
        EventTag.ACCOUNT_DELETED,
        user_subject=pseudonym,
        detail={"via": via, "audit_rows_pseudonymised": audit_rows},
        include_origin=False,  # the request's address would point straight back at the person
    )
    session_store().forget_all_for_user(user_id)
    db.session.commit()
    return DeletionReport(
        sessions=sum(1 for s in sessions if s.revoked_at is None and s.expires_at > now),
        refresh_tokens=removed[RefreshToken.__tablename__],
        consents=removed[Consent.__tablename__],
        audit_rows_pseudonymised=audit_rows,
    )


def _delete_rows_of(model: Any, user_id: int) -> int:  # Any: one of OWNED_TABLES
    return _affected_rows(delete(model).where(model.user_id == user_id))


def _affected_rows(statement: Executable) -> int:
    result = cast("CursorResult[Any]", db.session.execute(statement))
    return result.rowcount
