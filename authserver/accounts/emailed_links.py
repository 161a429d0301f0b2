"""Single-use links sent by mail: password reset, email verification, unlock and "not me".

One home for what the three have in common, so that a rule fixed here holds for all of them:

- **The token** is 256 random bits (DESIGN.md "Tokens"). Only its SHA-256 is stored, and the hash
  input starts with the link's purpose, so the same string hashes differently for each purpose:
  a reset token looked up as an unlock token finds nothing (STYLE.md: tokens for different
  purposes never share a key or salt). A fast hash is right here: 256 bits leave nothing to
  brute-force, and the hash is looked up by equality. Anything not shaped like our tokens is
  refused before it reaches the database.
- **The URL** is built from the configured issuer, never from the request's Host header: a
  forged Host would otherwise put an attacker's server in a genuine message, and the token
  with it.
- **Using a link** is a conditional UPDATE (``used_at IS NULL AND expires_at > now``) with a
  row-count check, so of two requests racing with one link exactly one wins.

Each purpose keeps its own table (``password_reset_tokens``, ``email_verification_tokens``,
``unlock_tokens``: the columns below, plus its own) and its own rules about when a link is still
good (accounts/password_reset.py, accounts/email_verification.py, security/lockout.py).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlalchemy import delete, select, update

from authserver.audit.events import EventTag, record_event
from authserver.config import current_settings
from authserver.extensions import db
from authserver.models import User
from authserver.security.errors import InvalidLink

TOKEN_BYTES = 32  # 256 bits
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet; anything else is not ours.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


class LinkPurpose(StrEnum):
    PASSWORD_RESET = "password-reset"
    EMAIL_VERIFICATION = "email-verification"
    UNLOCK = "unlock"
    NOT_ME = "not-me"
    INVITATION = "invitation"


# Where each link points (+ the token); the routes are web/reset.py's, web/verify_email.py's,
# web/unlock.py's and web/not_me.py's, and observability/redaction.py keeps every token under
# them out of the logs.
LINK_PATHS = {
    LinkPurpose.PASSWORD_RESET: "/reset/",
    LinkPurpose.EMAIL_VERIFICATION: "/verify-email/",
    LinkPurpose.UNLOCK: "/unlock/",
    LinkPurpose.NOT_ME: "/not-me/",
    LinkPurpose.INVITATION: "/invitation/",
}


class LinkRow(Protocol):
    """The columns every link table has (a mapped class: its attributes are also columns)."""

    id: Any
    token_hash: Any
    user_id: Any
    created_at: Any
    expires_at: Any
    used_at: Any


Row = TypeVar("Row", bound=LinkRow)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # goes into the emailed link, never into storage or logs
    token_hash: str  # what is stored


def issue_token(purpose: LinkPurpose) -> IssuedToken:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return IssuedToken(token=token, token_hash=hash_token(purpose, token))


def hash_token(purpose: LinkPurpose, token: str) -> str:
    return hashlib.sha256(f"authserver:{purpose}:{token}".encode()).hexdigest()


def has_token_shape(token: str) -> bool:
    return _TOKEN_SHAPE.fullmatch(token) is not None


def link_url(purpose: LinkPurpose, token: str) -> str:
    return current_settings().issuer + LINK_PATHS[purpose] + token


def store_new_link(
    table: type[LinkRow],
    purpose: LinkPurpose,
    user_id: int,
    *,
    now: datetime,
    expires_at: datetime,
    replace_earlier: bool,
    **columns: object,
) -> str:
    """Add a link row for ``user_id`` (not committed); return the token to mail.

    With ``replace_earlier``, the account's earlier links of this purpose stop working: only the
    newest message works.
    """
    if replace_earlier:
        db.session.execute(delete(table).where(table.user_id == user_id))
    issued = issue_token(purpose)
    db.session.add(
        table(  # type: ignore[call-arg]  # a mapped class takes its columns as keywords
            token_hash=issued.token_hash,
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
            **columns,
        )
    )
    return issued.token


def find_link(table: type[Row], purpose: LinkPurpose, token: str) -> Row | None:
    """The row ``token`` names, used or not, live or not; None for a token that is not ours."""
    if not has_token_shape(token):
        return None
    found: Row | None = db.session.scalar(
        select(table).where(table.token_hash == hash_token(purpose, token))
    )
    return found


def find_usable_link(
    table: type[Row], purpose: LinkPurpose, token: str, *, now: datetime
) -> tuple[Row, User]:
    """The live, unused link ``token`` names and its account, which may still use links.

    Raises :class:`InvalidLink` with the reason, for the audit trail: ``malformed`` (not shaped
    like our tokens), ``unknown`` (never issued, replaced by a newer link, or minted for another
    purpose), ``used``, ``expired``, ``disabled`` (the account). The caller adds its own rules.
    """
    if not has_token_shape(token):
        raise InvalidLink("malformed")
    row = find_link(table, purpose, token)
    if row is None:
        raise InvalidLink("unknown")
    # Not accounts/lifecycle.py's get_user: security/lockout.py issues unlock links from here,
    # and lifecycle imports lockout. A link row cascades away with its account.
    user = db.session.get(User, row.user_id)
    assert user is not None
    if row.used_at is not None:
        raise InvalidLink("used", user_subject=user.subject)
    if row.expires_at <= now:
        raise InvalidLink("expired", user_subject=user.subject)
    if user.is_disabled:
        raise InvalidLink("disabled", user_subject=user.subject)
    return row, user


def refuse(error: InvalidLink, *, audit_as: EventTag) -> InvalidLink:
    """Record a refused link in the audit trail, committed (the refusal is the whole answer, and
    the row must stay whatever the caller does next); returns ``error`` for the caller to raise."""
    record_event(
        audit_as,
        outcome="failure",
        user_subject=error.user_subject,
        detail={"reason": error.reason},
    )
    db.session.commit()
    return error


def claim_link(table: type[LinkRow], row_id: int, *, now: datetime) -> bool:
    """Mark the link used (not committed); False when another request used it first or it has
    just expired: exactly one of two racing uses gets True."""
    claimed = db.session.execute(
        update(table)
        .where(table.id == row_id, table.used_at.is_(None), table.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined,no-any-return]  # CursorResult
