"""Accepting an invitation with a passkey instead of a password: the account is made without a
password, with that passkey as its way in, its address verified.

A passkey names the account it belongs to (its user handle, WebAuthn Level 3 §14.6.1, is the
subject), but it is made before the account exists. So the subject is fixed by the invitation:
a hash of its stored token hash, shaped as a UUID like every other subject, so the options and
the account agree without storing anything. No secret goes into it: a secret key rotated
between the options and the answer would give the account a subject its passkey does not name,
and an account with no password would be locked out. Only the holder of the link gets options,
and their challenge is bound to that invitation (security/passkey_challenges.py): an answer
made for one invitation cannot accept another.

The invitation stays single use. The answer is checked first (its challenge used up whatever
the outcome); then, in one transaction, the link is claimed by its conditional UPDATE, the
account created and the passkey stored, with the audit rows: of two answers racing for one
invitation exactly one creates anything, and a refusal leaves no account and a usable link.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import select

from authserver.accounts.invitations import (
    claim_invitation,
    create_invited_account,
    find_invitation,
)
from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.models import Invitation, Passkey, User
from authserver.security.errors import PasskeyRefused
from authserver.security.passkey_ceremonies import (
    REFUSED,
    Invitee,
    invitee_registration_options,
    verify_invitee_passkey,
)
from authserver.security.passkeys import clean_passkey_name

SUBJECT_PREFIX = b"authserver:invitation-subject:"


def invitation_subject(invitation: Invitation) -> str:
    """The subject the account made from ``invitation`` will have (always the same one)."""
    digest = hashlib.sha256(SUBJECT_PREFIX + invitation.token_hash.encode()).digest()
    # A version-4 UUID of the first 128 bits, so it looks like every other subject (users.py).
    return str(uuid.UUID(bytes=digest[:16], version=4))


def invitee_of(invitation: Invitation) -> Invitee:
    return Invitee(
        subject=invitation_subject(invitation),
        email=invitation.email,
        name=invitation.name,
        invitation_id=invitation.id,
    )


def invitation_passkey_options(token: str, *, now: datetime) -> str:
    """The JSON options to create the passkey of the account ``token`` invites; commits the
    challenge. Raises :class:`InvalidLink` (audited) for a link that cannot be used."""
    return invitee_registration_options(invitee_of(find_invitation(token, now=now)), now=now)


def accept_invitation_with_passkey(
    token: str, credential: str, *, passkey_name: str, now: datetime
) -> User:
    """Create the invited account with the passkey the browser made (``credential``, its JSON
    answer to :func:`invitation_passkey_options`) and no password; use up the link.

    Raises :class:`InvalidLink` (the link cannot be used, or was used meanwhile) or
    :class:`PasskeyRefused` (the answer is not good for this invitation: the link stays usable
    for another try). Either is audited, and nothing is created.
    """
    invitation = find_invitation(token, now=now)
    invitee = invitee_of(invitation)
    passkey = verify_invitee_passkey(invitee, credential, now=now)
    passkey.name = clean_passkey_name(passkey_name)
    if _is_registered(passkey.credential_id):
        # The attestation "none" proves no more than the key: a credential id someone else
        # registered is refused, never stored twice (passkeys.credential_id is unique).
        record_event(
            EventTag.INVITATION_FAILED, outcome="failure", detail={"reason": "passkey-taken"}
        )
        db.session.commit()
        raise PasskeyRefused(REFUSED)
    claim_invitation(invitation, now=now)

    def store_passkey(user: User) -> None:
        invitation.user_id = user.id
        passkey.user_id = user.id
        db.session.add(passkey)
        record_event(
            EventTag.INVITATION_ACCEPTED, user_subject=user.subject, detail={"with": "passkey"}
        )
        record_event(
            EventTag.PASSKEY_ADDED,
            user_subject=user.subject,
            detail={"passkey": passkey.name, "synced": passkey.backup_state},
        )

    return create_invited_account(
        invitation,
        None,  # the passkey is the way in; a password can be set later on the account page
        now=now,
        subject=invitee.subject,
        before_commit=store_passkey,
    )


def _is_registered(credential_id: bytes) -> bool:
    found = db.session.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id))
    return found is not None
