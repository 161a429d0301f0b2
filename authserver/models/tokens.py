"""Authorization codes, refresh tokens, consents and the access-token deny list.

Codes and refresh tokens are stored as SHA-256 hashes only: a database leak yields nothing
usable. Access tokens are self-contained JWTs and are not stored at all (DESIGN.md "Tokens").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime, utcnow


class AuthorizationCode(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Everything issued from this code shares the grant id, so a replay can revoke it all.
    grant_id: Mapped[str] = mapped_column(String(36), index=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(1000))
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    # RFC 8707: the APIs (identifiers) named by `resource` in the authorization request.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    session_id: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RefreshToken(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # RFC 9700 §4.14.2: every rotation stays in one family, so reuse can revoke all of it.
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    # Indexed: deleting a token makes the database find its children (ON DELETE SET NULL), and
    # without an index PostgreSQL scans the whole table for every row `maintenance purge` drops.
    parent_id: Mapped[int | None] = mapped_column(
        BigIntPrimaryKey, ForeignKey("refresh_tokens.id", ondelete="SET NULL"), index=True
    )
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(1000))
    # RFC 8707 §2.2: the grant's APIs; a refresh request may narrow to one of them.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    session_id: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The family's absolute end; rotation never extends it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    idle_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # RFC 9449 §5: a public client's refresh token is bound to the DPoP key it was issued
    # with (the RFC 7638 thumbprint); using it needs a proof made with that key.
    dpop_jkt: Mapped[str | None] = mapped_column(String(43))
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When this rotated token was presented again within the grace and got its successor a
    # second time (oauth/refresh_rotation.py): that is forgiven once, never twice.
    reuse_forgiven_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RefreshFamily(db.Model):  # type: ignore[name-defined,misc]
    """One row per refresh-token family (= grant): the lock that rotation and revocation share.

    Rotation reads it FOR UPDATE and revocation updates it first, so on PostgreSQL a revocation
    waits for an in-flight rotation and then sees its new token, and a rotation waiting on a
    revocation sees the family revoked (READ COMMITTED alone would let a new token escape).
    """

    __tablename__ = "refresh_families"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RevokedAccessToken(db.Model):  # type: ignore[name-defined,misc]
    """Deny list for self-contained access tokens, by `jti` or by whole grant.

    A row is only useful until the newest token it can match has expired; then it is purged.
    """

    __tablename__ = "revoked_access_tokens"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "jti" or "grant"
    value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class DPoPProofJti(db.Model):  # type: ignore[name-defined,misc]
    """RFC 9449 §11.1: a DPoP proof's `jti`, kept per key while the proof could still be fresh.

    In the database, not in memory, so a proof replayed to another instance is refused too.
    """

    __tablename__ = "dpop_proof_jtis"
    __table_args__ = (UniqueConstraint("jkt", "jti"),)

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    jkt: Mapped[str] = mapped_column(String(43))  # the proof key's RFC 7638 thumbprint
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Consent(db.Model):  # type: ignore[name-defined,misc]
    """Scopes a user has allowed a client; asking again is needed only for new scopes."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "client_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(1000))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
