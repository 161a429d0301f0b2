"""Roles: names an administrator gives a user, released to clients through the ``roles`` scope.

Roles are plain names (``admin``, ``billing:read``); what they allow is for the relying parties
to decide. They leave the server only as the ``roles`` claim, a JSON array of strings, and only
when the client holds the ``roles`` scope (OIDC Core §5.4: scopes select which claims are
released). The claim name and form are those of RFC 9068 §2.2.3.1, which takes ``roles`` from
SCIM (RFC 7643 §4.1.2) for access tokens; the ID token and userinfo use the same claim so a
relying party reads roles the same way everywhere.

Roles are read when a token is issued and when userinfo is called, so removing a role takes
effect with the next token or refresh (access tokens already out keep theirs until they expire).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from authserver.audit.events import EventTag, record_event
from authserver.extensions import db
from authserver.models import User, UserRole
from authserver.security.errors import InvalidRole, RoleAlreadyAssigned, RoleNotAssigned

ROLES_SCOPE = "roles"
ROLES_CLAIM = "roles"
MAX_ROLE_LENGTH = 64  # user_roles.role
# Letters, digits and a few separators, starting with a letter or digit: safe in a JSON claim,
# a log line and a shell command alike, and unambiguous when listed with spaces.
_ROLE_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*")


def check_role_name(role: str) -> str:
    """The role name as stored; :class:`InvalidRole` when it is not one."""
    if len(role) > MAX_ROLE_LENGTH:
        raise InvalidRole(f"a role name must be at most {MAX_ROLE_LENGTH} characters")
    if not _ROLE_SHAPE.fullmatch(role):
        raise InvalidRole(
            "a role name is letters, digits and . _ : / - (starting with a letter or digit)"
        )
    return role


def list_roles(user_id: int) -> list[str]:
    """The user's roles, sorted (a stable claim value, whatever order they were added in)."""
    return sorted(db.session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))


def add_role(user: User, role: str, *, now: datetime, via: str) -> None:
    """Give ``user`` a role; audited, commits. :class:`RoleAlreadyAssigned` if it has it."""
    role = check_role_name(role)
    if role in list_roles(user.id):
        raise RoleAlreadyAssigned(f"{user.email} already has the role {role!r}")
    db.session.add(UserRole(user_id=user.id, role=role, created_at=now))
    record_event(
        EventTag.ADMIN_ROLE_ADDED, user_subject=user.subject, detail={"role": role, "via": via}
    )
    try:
        db.session.commit()
    except IntegrityError:
        # Two administrators added the same role at once; the unique constraint kept one.
        db.session.rollback()
        raise RoleAlreadyAssigned(f"{user.email} already has the role {role!r}") from None


def remove_role(user: User, role: str, *, via: str) -> None:
    """Take a role away; audited, commits. :class:`RoleNotAssigned` if the user lacks it."""
    result = db.session.execute(
        delete(UserRole).where(UserRole.user_id == user.id, UserRole.role == role)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
        raise RoleNotAssigned(f"{user.email} does not have the role {role!r}")
    record_event(
        EventTag.ADMIN_ROLE_REMOVED, user_subject=user.subject, detail={"role": role, "via": via}
    )
    db.session.commit()


def roles_claim(user: User, scopes: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    """``{"roles": [...]}`` when ``roles`` was granted, else nothing (an empty list is sent:
    "no roles" is an answer the client asked for, unlike a missing claim)."""
    if ROLES_SCOPE not in scopes:
        return {}
    return {ROLES_CLAIM: list_roles(user.id)}
