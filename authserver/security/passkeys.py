"""A user's passkeys: adding one, listing, renaming and removing them, and what a sign-in with
one is called in ``amr``.

Adding a passkey is a security change, so it needs a session that signed in a short while ago
(security/recent_sign_in.py), as the password and MFA forms need the current secret: an open
browser left behind, or a stolen cookie, cannot plant a way in. Removing one is allowed to the
owner at any time (it takes a way in away) and to an operator, even the last second factor of
an account that must use MFA; either is audited. Only the last passkey of an account without a
password (accepted an invitation with it) is kept from its owner: it is the only way in. The
ceremonies themselves are in security/passkey_ceremonies.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.models import Passkey, User
from authserver.models.passkeys import MAX_PASSKEY_NAME_LENGTH
from authserver.security.errors import (
    InvalidName,
    LastWayIn,
    PasskeyRefused,
    UnknownPasskey,
)
from authserver.security.mfa.second_factor import is_enrolled
from authserver.security.passkey_ceremonies import REFUSED, verify_new_passkey
from authserver.security.recent_sign_in import check_recent_sign_in
from authserver.sessions.user_agents import device_label

DEFAULT_NAME = "Passkey"
# RFC 8176 §2: "hwk" a key bound to hardware, "swk" a software key (a synced passkey can leave
# its device), "user" the user verification the ceremony required; with it a passkey is "mfa".
HARDWARE_KEY, SOFTWARE_KEY, USER_PRESENCE, MULTI_FACTOR = "hwk", "swk", "user", "mfa"


@dataclass(frozen=True)
class PasskeyView:
    """What the account page and the CLI show of a passkey (never its key)."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    is_synced: bool


def passkey_amr(passkey: Passkey) -> list[str]:
    """The methods a passkey ceremony with user verification stands for."""
    key = SOFTWARE_KEY if passkey.backup_eligible else HARDWARE_KEY
    return [key, USER_PRESENCE, MULTI_FACTOR]


def has_passkeys(user_id: int) -> bool:
    count = db.session.scalar(
        select(func.count()).select_from(Passkey).where(Passkey.user_id == user_id)
    )
    return bool(count)


def list_passkeys(user_id: int) -> list[PasskeyView]:
    passkeys = db.session.scalars(
        select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at, Passkey.id)
    )
    return [
        PasskeyView(p.id, p.name, p.created_at, p.last_used_at, p.backup_state) for p in passkeys
    ]


def add_passkey(
    user: User, credential: str, *, name: str, auth_time: datetime, now: datetime
) -> PasskeyView:
    """Store the passkey the browser just made (the answer to registration_options). Commits
    with the audit event. Raises RecentSignInNeeded, InvalidName or PasskeyRefused."""
    check_recent_sign_in(auth_time, now=now)
    clean_name = clean_passkey_name(name)
    passkey = verify_new_passkey(user, credential, now=now)
    passkey.name = clean_name
    db.session.add(passkey)
    record_event(
        EventTag.PASSKEY_ADDED,
        user_subject=user.subject,
        detail={"passkey": clean_name, "synced": passkey.backup_state},
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()  # that credential is registered already (to anyone)
        raise PasskeyRefused(REFUSED) from None
    return PasskeyView(passkey.id, clean_name, now, None, passkey.backup_state)


def rename_passkey(user: User, passkey_id: int, name: str) -> None:
    """Raises UnknownPasskey or InvalidName; commits with the audit event."""
    passkey = _owned(user, passkey_id)
    passkey.name = clean_passkey_name(name)
    record_event(
        EventTag.PASSKEY_RENAMED, user_subject=user.subject, detail={"passkey": passkey.id}
    )
    db.session.commit()


def remove_passkey(
    user: User, passkey_id: int, *, via: str, may_remove_last_way_in: bool = False
) -> None:
    """Remove one of ``user``'s passkeys; ``via`` names who asked ("account", "cli"). Commits
    with the audit event, which says when it was the account's last second factor, or its
    last way in.

    The last passkey of an account without a password is its only way in: removing it raises
    :class:`LastWayIn` and changes nothing, unless ``may_remove_last_way_in`` (an operator,
    who can give the owner another way in: ``user set-password``, or a password reset).
    """
    passkey = _owned(user, passkey_id)
    # One removal at a time per account, or two removing its last two passkeys at once would
    # each see the other's still there.
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    db.session.execute(delete(Passkey).where(Passkey.id == passkey.id))
    detail: dict[str, object] = {"passkey": passkey.id, "name": passkey.name, "via": via}
    is_last = not has_passkeys(user.id)
    if is_last and not user.has_password:
        if not may_remove_last_way_in:
            db.session.rollback()
            raise LastWayIn("the only passkey of an account without a password")
        detail["last_way_in"] = True
    if is_last and not _has_authenticator_app(user.id):
        detail["last_second_factor"] = True
    record_event(EventTag.PASSKEY_REMOVED, user_subject=user.subject, detail=detail)
    db.session.commit()


def is_only_way_in(user: User) -> bool:
    """Whether the account has no password and one passkey: removing it would lock it out."""
    return not user.has_password and len(list_passkeys(user.id)) == 1


def find_passkey_view(user: User, passkey_id: int) -> PasskeyView:
    """Raises UnknownPasskey."""
    p = _owned(user, passkey_id)
    return PasskeyView(p.id, p.name, p.created_at, p.last_used_at, p.backup_state)


def _owned(user: User, passkey_id: int) -> Passkey:
    passkey = db.session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.id:
        raise UnknownPasskey(f"no passkey {passkey_id} of {user.email}")
    return passkey


def first_passkey_name(user_agent: str | None) -> str:
    """A new passkey's name until its owner edits it: the device, in the page's language. Cut
    to the longest name allowed rather than refused: an operator's own catalog
    (AUTHSERVER_TRANSLATIONS_DIR) that describes devices at length must not make every new
    passkey fail."""
    label = " ".join(str(device_label(user_agent)).split())
    return label[:MAX_PASSKEY_NAME_LENGTH].rstrip() or DEFAULT_NAME


def clean_passkey_name(name: str) -> str:
    """Spaces folded, the default when blank; InvalidName when too long."""
    clean = " ".join((name or "").split()) or DEFAULT_NAME
    if len(clean) > MAX_PASSKEY_NAME_LENGTH:
        raise InvalidName(f"a passkey name has at most {MAX_PASSKEY_NAME_LENGTH} characters")
    return clean


def _has_authenticator_app(user_id: int) -> bool:
    return is_enrolled(user_id)
