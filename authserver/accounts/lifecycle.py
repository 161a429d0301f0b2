"""User accounts: creating them, finding them, and checking a sign-in."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from authserver.accounts.email_addresses import (
    has_refused_characters,
    imitated_address,
    mixed_script_part,
    normalise_email,
)
from authserver.accounts.registration import SIGN_UP
from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.mail_language import page_language
from authserver.models import User
from authserver.security.devices import find_device_id
from authserver.security.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidEmail,
    InvalidName,
    TooManyAttempts,
    UnknownUser,
)
from authserver.security.factor_checks import SIGN_IN, check_factor
from authserver.security.lockout import register_success
from authserver.security.passwords import (
    check_password_policy,
    dummy_verify,
    hash_password,
    matches_password,
    needs_rehash,
)

# RFC 5321 §4.5.3.1: 64 characters for the local part and 254 for a whole address in a path.
MAX_LOCAL_PART_LENGTH = 64
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200  # users.name
# Deliberately loose: one "@", no spaces, dot-separated non-empty domain labels. Whether an
# address really receives mail is for a confirmation message to find out, not for a regex.
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)*")


def check_email_shape(email: str) -> None:
    """Raise :class:`InvalidEmail` unless the (normalised) address looks like one.

    The messages are in the page's language (English in a command): pages show them.
    """
    if len(email) > MAX_EMAIL_LENGTH:
        raise InvalidEmail(
            gettext("email address must be at most %(num)d characters", num=MAX_EMAIL_LENGTH)
        )
    if has_refused_characters(email):
        raise InvalidEmail(
            gettext("email address must not contain spaces, invisible or control characters")
        )
    if not _EMAIL_SHAPE.fullmatch(email):
        raise InvalidEmail(gettext("email address must look like name@example.org"))
    if len(email.partition("@")[0]) > MAX_LOCAL_PART_LENGTH:
        raise InvalidEmail(
            gettext(
                "the part of an email address before the @ must be at most %(num)d characters",
                num=MAX_LOCAL_PART_LENGTH,
            )
        )


def clean_name(name: str | None) -> str | None:
    """The stored form of a display name: trimmed, None when blank; InvalidName if too long."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(gettext("name must be at most %(num)d characters", num=MAX_NAME_LENGTH))
    return name


def create_user(
    email: str,
    password: str | None,
    *,
    name: str | None = None,
    email_verified_at: datetime | None = None,
    created_via: str = "cli",
    subject: str | None = None,
    before_commit: Callable[[User], None] | None = None,
) -> User:
    """Register an account; raise InvalidEmail, PasswordPolicyError or EmailAlreadyRegistered.

    ``email_verified_at`` is for operators who know the address is right (``user create
    --verified``) and for invitations (the link was mailed to it); everyone else proves it with a
    verification link (accounts/email_verification.py). ``created_via`` says how the account
    came to be (``user list`` shows it). ``before_commit`` runs with the new row (id and subject
    set) inside the same transaction: the caller's audit row and links commit with the account
    or not at all.

    ``password`` None makes an account without one, which signs in with the passkey that
    ``before_commit`` stores (an invitation accepted with a passkey); ``subject`` is for that
    case too: the passkey was made for a subject chosen before the account existed.
    """
    email = normalise_email(email)
    check_email_shape(email)
    refuse_look_alikes(email)
    if password is not None:
        check_password_policy(password, email=email)
    name = clean_name(name)
    if find_user_by_email(email) is not None:
        raise EmailAlreadyRegistered(f"an account with email {email} already exists")
    user = User(
        email=email,
        name=name,
        password_hash=None if password is None else hash_password(password),
        email_verified_at=email_verified_at,
        created_via=created_via,
        # Sign-up and invitations: the page the account was made on; a command: not known yet.
        language=page_language(),
    )
    if subject is not None:
        user.subject = subject
    db.session.add(user)
    try:
        db.session.flush()
        if before_commit is not None:
            before_commit(user)
        db.session.commit()
    except IntegrityError:
        # Two registrations raced past the check above; the unique constraint decides.
        db.session.rollback()
        raise EmailAlreadyRegistered(f"an account with email {email} already exists") from None
    return user


def refuse_look_alikes(email: str) -> None:
    """Raise InvalidEmail for an address that could pass for another (accounts/email_addresses.py
    has the rules): letters of mixed scripts, or an imitation of an existing account's address."""
    part = mixed_script_part(email)
    if part is not None:
        raise InvalidEmail(
            gettext(
                "email address mixes Latin, Cyrillic or Greek letters in %(part)s; "
                "write each part in one script",
                part=repr(part),
            )
        )
    imitated = imitated_address(email)
    if imitated is not None and find_user_by_email(imitated) is not None:
        raise InvalidEmail(
            gettext(
                "email address looks like the address of an existing account "
                "(letters of another script that resemble Latin ones)"
            )
        )


def find_user_by_email(email: str) -> User | None:
    return db.session.scalars(select(User).where(User.email == normalise_email(email))).first()


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise UnknownUser(f"no user with id {user_id}")
    return user


def list_users(*, disabled: bool | None = None, limit: int | None = None) -> list[User]:
    """Accounts, oldest first; only disabled (or only enabled) ones, and at most ``limit``."""
    query = select(User).order_by(User.created_at, User.id)
    if disabled is not None:
        query = query.where(User.is_disabled == disabled)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def check_password(email: str, password: str, *, now: datetime) -> User:
    """The account these credentials open, or :class:`InvalidCredentials` for any failure.

    Unknown address, wrong password, disabled account and locked account look the same to the
    caller, and each costs one password verification. The password is checked through
    ``security/factor_checks.py`` like every other secret: counted against the account (or
    this browser's device) *before* it is looked at; a wrong one stays counted until a sign-in
    completes: :func:`authenticate` when the password is the whole sign-in, or
    ``lockout.register_success`` once a second factor has passed too.
    """
    user = find_user_by_email(email)
    if user is None:
        # Unknown users still pay the hash cost, so timing does not reveal which emails exist.
        dummy_verify(password)
        record_event(EventTag.LOGIN_FAILURE, outcome="failure", detail={"reason": "no account"})
        db.session.commit()
        raise InvalidCredentials()

    def check() -> bool | str:
        # An account with passkeys only: a wrong password, at the same cost (no enumeration).
        if not matches_password(user.password_hash, password):
            return False
        if user.is_disabled:
            return "disabled"
        # A signed-up account proves its address before it is used (accounts/sign_up.py).
        # Accounts operators made (`user create`) keep signing in unverified, as before.
        if user.created_via == SIGN_UP and not user.is_email_verified:
            return "unverified"
        return True

    try:
        # Locked: the same cost (a stand-in hash) and the same answer as a wrong password; the
        # password itself is never tried, so guessing during a lock learns nothing.
        passed = check_factor(
            user,
            check,
            factor="password",
            during=SIGN_IN,
            now=now,
            when_locked=lambda: dummy_verify(password),
        )
    except TooManyAttempts:
        raise InvalidCredentials() from None
    if not passed:
        raise InvalidCredentials()
    if user.password_hash is not None and needs_rehash(user.password_hash):
        # The only moment the plain password is at hand to upgrade an old hash.
        user.password_hash = hash_password(password)
        user.updated_at = now
    db.session.commit()
    return user


def authenticate(email: str, password: str, *, now: datetime) -> User:
    """A sign-in by password alone: :func:`check_password`, then the lockout counters reset."""
    user = check_password(email, password, now=now)
    register_success(user, now=now, device=find_device_id(user))
    db.session.commit()
    return user
