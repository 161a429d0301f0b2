"""Redeeming an authorization code: exactly once, and a replay revokes what it issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select, update

from authserver.audit.events import EventTag
from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.tokens import AuthorizationCode
from authserver.oauth.authorization import hash_code
from authserver.oauth.grant_revocation import revoke_replayed_grant

# Built once (every code exchange runs it): building the statement and its cache key per call
# costs more than running it. RETURNING hands back the claimed row in the same round trip
# (SQLite >= 3.35, PostgreSQL).
_CLAIM_CODE = (
    update(AuthorizationCode)
    .where(
        AuthorizationCode.code_hash == bindparam("presented_hash"),
        AuthorizationCode.client_pk == bindparam("claimant_pk"),
        AuthorizationCode.used_at.is_(None),
        AuthorizationCode.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(AuthorizationCode)
)


def redeem_code(code: str, client: Client, *, now: datetime) -> AuthorizationCode | None:
    """Mark the code used with one conditional UPDATE; None when it cannot be redeemed.

    Two requests racing with one code both run the UPDATE, and the database lets exactly one
    of them change the row (STYLE.md: never read-then-write for single-use things).
    """
    code_hash = hash_code(code)
    claimed: AuthorizationCode | None = db.session.scalar(
        _CLAIM_CODE,
        {"presented_hash": code_hash, "claimant_pk": client.id, "now": now},
        execution_options={"synchronize_session": False},
    )
    if claimed is not None:
        return claimed
    _handle_unredeemable(code_hash, client, now=now)
    return None


def _handle_unredeemable(code_hash: str, client: Client, *, now: datetime) -> None:
    row = db.session.scalar(
        select(AuthorizationCode).where(
            AuthorizationCode.code_hash == code_hash, AuthorizationCode.client_pk == client.id
        )
    )
    if row is None or row.used_at is None:
        return  # unknown, another client's, or expired unused: nothing was issued from it
    # RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens issued from it; the second
    # presenter may be an attacker holding a stolen code (RFC 9700 §4.5).
    revoke_replayed_grant(
        row.grant_id, user_id=row.user_id, client=client, tag=EventTag.CODE_REPLAYED, now=now
    )
