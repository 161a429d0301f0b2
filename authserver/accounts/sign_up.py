"""Sign-up (``AUTHSERVER_REGISTRATION=open``): anybody may ask for an account for an address.

The page answers every acceptable request the same way ("check your mail"), before the address
is even looked up, and everything that depends on the address runs after the response has gone
out (serving/after_response.py), as for password reset: neither the page nor its timing tells
whether the address already has an account (ASVS 5.0 V6.3.8). Then:

- a new address gets an account (``created_via`` "sign-up", not verified) and a verification
  link, which carries the OAuth flow the person came from (accounts/email_verification.py);
- an address that has an account gets no second one: its owner is told by mail instead.

An account made here cannot sign in until its address is verified (accounts/lifecycle.py), so
nobody can use an address they do not receive mail at. Someone who registered another person's
address first (pre-hijacking) gains nothing: that person is mailed on every attempt of theirs,
and a password reset (which reaches only the address) replaces the password and verifies the
address (accounts/password_reset.py).
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from authserver.accounts.email_addresses import mixed_script_part, normalise_email
from authserver.accounts.email_verification import issue_email_verification
from authserver.accounts.lifecycle import check_email_shape, create_user, find_user_by_email
from authserver.accounts.registration import SIGN_UP
from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail import Mail, render_mail
from authserver.mail_language import mail_language
from authserver.models import User
from authserver.security.errors import (
    EmailAlreadyRegistered,
    InvalidEmail,
    PasswordPolicyError,
)
from authserver.security.passwords import password_problems


def sign_up_problems(email: str, password: str) -> dict[str, list[str]]:
    """What is wrong with the form, by field (every problem of every field at once); {} when
    nothing.

    Only rules that hold whatever accounts exist: anything that depends on them is decided after
    the response (:func:`sign_up`).
    """
    problems: dict[str, list[str]] = {}
    normalised = normalise_email(email)
    try:
        check_email_shape(normalised)
        part = mixed_script_part(normalised)
        if part is not None:
            raise InvalidEmail(
                gettext(
                    "email address mixes Latin, Cyrillic or Greek letters in %(part)s",
                    part=repr(part),
                )
            )
    except InvalidEmail as error:
        problems["email"] = [str(error)]
    if broken_rules := password_problems(password, email=normalised):
        problems["password"] = broken_rules
    return problems


def sign_up(email: str, password: str, *, next_target: str | None, now: datetime) -> Mail | None:
    """Make the account and return its verification message, or the owner's notice when the
    address has an account already; None when nothing may be sent (audited)."""
    existing = find_user_by_email(email)
    if existing is not None:
        return _tell_owner(existing)

    def audit(user: User) -> None:
        record_event(EventTag.SIGN_UP, user_subject=user.subject)

    try:
        user = create_user(email, password, created_via=SIGN_UP, before_commit=audit)
    except EmailAlreadyRegistered:
        # Another sign-up for the address won the race: its owner is told, as above.
        raced = find_user_by_email(email)
        return None if raced is None else _tell_owner(raced)
    except (InvalidEmail, PasswordPolicyError):
        # A look-alike of an existing account's address (a rule that depends on the accounts).
        db.session.rollback()
        record_event(EventTag.SIGN_UP_FAILED, outcome="failure", detail={"reason": "refused"})
        db.session.commit()
        return None
    return issue_email_verification(user, now=now, next_target=next_target)


def _tell_owner(user: User) -> Mail:
    record_event(
        EventTag.SIGN_UP_FAILED,
        outcome="failure",
        user_subject=user.subject,
        detail={"reason": "account-exists"},
    )
    db.session.commit()
    settings = current_settings()
    return render_mail(
        user.email,
        _l("Someone tried to create an account with your address"),
        "sign_up_existing.txt",
        language=mail_language(user.language),
        email=user.email,
        reset_url=settings.issuer + "/reset",
    )
