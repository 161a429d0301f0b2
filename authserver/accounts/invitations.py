"""Invitations: an operator mails a single-use link (``user invite``); whoever opens it at that
address chooses a password, and the account exists from then on, its address verified.

The link is one of accounts/emailed_links.py's (256 random bits, only a purpose-bound hash
stored, built from the issuer, claimed by a conditional UPDATE), but an invitation has no
account yet: its row holds the address (and name) instead, and the account it made once used.
A new invitation for an address replaces the unused earlier ones, so only the newest mail works.
Invitations work while ``AUTHSERVER_REGISTRATION`` is ``invite`` or ``open``; when it is
``closed`` nobody is invited and the links lead nowhere (accounts/registration.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete

from authserver.accounts.email_addresses import normalise_email
from authserver.accounts.emailed_links import (
    LinkPurpose,
    claim_link,
    find_link,
    has_token_shape,
    issue_token,
    link_url,
)
from authserver.accounts.lifecycle import (
    check_email_shape,
    clean_name,
    create_user,
    find_user_by_email,
    refuse_look_alikes,
)
from authserver.accounts.registration import INVITATION, invitations_allowed
from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.mail import Mail, render_mail
from authserver.models import Invitation, User
from authserver.security.errors import (
    EmailAlreadyRegistered,
    InvalidEmail,
    InvalidLink,
    RegistrationClosed,
)
from authserver.security.passwords import check_password_policy

PURPOSE = LinkPurpose.INVITATION


@dataclass(frozen=True)
class IssuedInvitation:
    email: str
    link: str  # holds the token: for the operator who asked (``--json``), never for logs
    expires_at: datetime
    mail: Mail


def invite(email: str, *, name: str | None, language: str, now: datetime) -> IssuedInvitation:
    """Mint an invitation for ``email``: its link, and the message that carries it, written
    in ``language`` (the person has no account whose language we could know).

    Raises :class:`RegistrationClosed`, ``InvalidEmail``, ``InvalidName`` or
    :class:`EmailAlreadyRegistered` (an account has this address: it needs no invitation).
    """
    if not invitations_allowed():
        raise RegistrationClosed(
            "registration is closed: set AUTHSERVER_REGISTRATION=invite (or open) to invite"
        )
    email = normalise_email(email)
    check_email_shape(email)
    # The rules an account's address must meet, checked now: a link that could never make an
    # account is not mailed.
    refuse_look_alikes(email)
    name = clean_name(name)
    if find_user_by_email(email) is not None:
        raise EmailAlreadyRegistered(
            f"an account with email {email} already exists; it needs no invitation"
        )
    ttl = current_settings().invitation_ttl
    db.session.execute(
        delete(Invitation).where(Invitation.email == email, Invitation.used_at.is_(None))
    )
    issued = issue_token(PURPOSE)
    expires_at = now + timedelta(seconds=ttl)
    db.session.add(
        Invitation(
            token_hash=issued.token_hash,
            email=email,
            name=name,
            created_at=now,
            expires_at=expires_at,
        )
    )
    # The address is not written down: the audit trail outlives invitations nobody used.
    record_event(EventTag.ADMIN_USER_INVITED, detail={"expires_at": expires_at.isoformat()})
    db.session.commit()
    link = link_url(PURPOSE, issued.token)
    mail = render_mail(
        email,
        _l("You are invited to create an account"),
        "invitation.txt",
        language=language,
        email=email,
        link=link,
        days=max(1, ttl // 86400),
    )
    return IssuedInvitation(email=email, link=link, expires_at=expires_at, mail=mail)


def find_invitation(token: str, *, now: datetime) -> Invitation:
    """The usable invitation ``token`` names; raise :class:`InvalidLink` (audited) otherwise."""
    try:
        return _usable(token, now=now)
    except InvalidLink as error:
        refuse_invitation(error)
        raise


def claim_invitation(invitation: Invitation, *, now: datetime) -> None:
    """Use up the link (a conditional UPDATE, so of two requests racing only one gets it);
    raise :class:`InvalidLink` ``used``, audited, when another request got it first."""
    if not claim_link(Invitation, invitation.id, now=now):
        db.session.rollback()
        refuse_invitation(InvalidLink("used"))
        raise InvalidLink("used")


def accept_invitation(token: str, password: str, *, now: datetime) -> User:
    """Create the invited account with ``password``, its address verified; use up the link.

    A password the policy refuses raises ``PasswordPolicyError`` and leaves the link usable.
    """
    invitation = find_invitation(token, now=now)
    check_password_policy(password, email=invitation.email)
    claim_invitation(invitation, now=now)

    def link_to_account(user: User) -> None:
        invitation.user_id = user.id
        record_event(EventTag.INVITATION_ACCEPTED, user_subject=user.subject)

    return create_invited_account(invitation, password, now=now, before_commit=link_to_account)


def create_invited_account(
    invitation: Invitation,
    password: str | None,
    *,
    now: datetime,
    before_commit: Callable[[User], None],
    subject: str | None = None,
) -> User:
    """The account ``invitation`` was for, its address verified (the link reached it), in the
    transaction that claimed the link. An address that can no longer have an account refuses
    the link (:class:`InvalidLink`, audited; nothing is created): one got an account after the
    invitation was sent, or now imitates one that did."""
    try:
        return create_user(
            invitation.email,
            password,
            name=invitation.name,
            email_verified_at=now,
            created_via=INVITATION,
            subject=subject,
            before_commit=before_commit,
        )
    except EmailAlreadyRegistered:
        db.session.rollback()
        # Also a race lost at another unique constraint (a passkey's credential id): whether
        # the address has an account now says which.
        taken = find_user_by_email(invitation.email) is not None
        reason = "account-exists" if taken else "conflict"
    except InvalidEmail:
        db.session.rollback()
        reason = "refused"
    refuse_invitation(InvalidLink(reason))
    raise InvalidLink(reason)


def _usable(token: str, *, now: datetime) -> Invitation:
    if not invitations_allowed():
        raise InvalidLink("closed")
    if not has_token_shape(token):
        raise InvalidLink("malformed")
    invitation = find_link(Invitation, PURPOSE, token)
    if invitation is None:
        raise InvalidLink("unknown")
    if invitation.used_at is not None:
        raise InvalidLink("used")
    if invitation.expires_at <= now:
        raise InvalidLink("expired")
    return invitation


def refuse_invitation(error: InvalidLink) -> None:
    """Record a refused invitation link (committed: the refusal is the whole answer)."""
    record_event(EventTag.INVITATION_FAILED, outcome="failure", detail={"reason": error.reason})
    db.session.commit()
