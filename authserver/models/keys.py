"""Token-signing keys and their lifecycle state (the rules live in authserver/keys/)."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import UTCDateTime, utcnow


class SigningAlg(enum.StrEnum):
    """JWS algorithms we sign with (RFC 7518, RFC 8037); the values are the JOSE names."""

    RS256 = "RS256"  # mandatory for OIDC ID tokens
    ES256 = "ES256"
    EDDSA = "EdDSA"  # Ed25519


class KeyState(enum.StrEnum):
    NEXT = "next"  # published in the JWKS, not used yet
    ACTIVE = "active"  # signs new tokens; one per algorithm
    RETIRED = "retired"  # still published until every token it signed has expired


def new_kid() -> str:
    # Random, not a thumbprint or counter: a kid says nothing about the key or how many exist.
    # Never starting with "-": `authserver keys retire KID` would read such a kid as an option
    # (as client ids, see oauth/clients.py:new_client_id).
    while (kid := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return kid


def _by_value(enum_class: type[enum.Enum]) -> Any:  # Any: SQLAlchemy's Enum is untyped here
    # Store "next", not "NEXT": the values are what the JWKS, logs and the CLI speak, and a
    # VARCHAR (not a native PostgreSQL enum) keeps migrations the same on every backend.
    return Enum(
        enum_class,
        values_callable=lambda members: [member.value for member in members],
        native_enum=False,
        length=16,
    )


def _only_one_per_alg(state: KeyState) -> Index:
    # At most one active and one next key per algorithm, enforced by the database, so two
    # instances rotating at the same moment cannot both win.
    condition = text(f"state = '{state.value}'")
    return Index(
        f"uq_signing_keys_alg_{state.value}",
        "alg",
        unique=True,
        sqlite_where=condition,
        postgresql_where=condition,
    )


class SigningKey(db.Model):  # type: ignore[name-defined,misc]  # Flask-SQLAlchemy's dynamic base
    __tablename__ = "signing_keys"
    __table_args__ = (
        _only_one_per_alg(KeyState.ACTIVE),
        _only_one_per_alg(KeyState.NEXT),
        # The hot path asks "which key is active for this alg" (and the JWKS, by state).
        Index("ix_signing_keys_state_alg", "state", "alg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True, default=new_kid)
    alg: Mapped[SigningAlg] = mapped_column(_by_value(SigningAlg))
    state: Mapped[KeyState] = mapped_column(_by_value(KeyState))
    # The complete public JWK (kid, kty, alg, use and public parameters only), served as is.
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    # PKCS#8 DER sealed by security.crypto (purpose "signing-key:<kid>"); opened only in keys/.
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
