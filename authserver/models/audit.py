"""Security events, append-only for the application (enforced by database triggers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime, utcnow


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]  # Flask-SQLAlchemy's dynamic base
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    # No foreign keys: audit rows outlive (pseudonymised) the users and clients they name.
    user_subject: Mapped[str | None] = mapped_column(String(64), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditMaintenanceFlag(db.Model):  # type: ignore[name-defined,misc]  # dynamic base
    """The switch that lets the documented maintenance change audit rows on SQLite.

    ``audit_events`` is append-only: database triggers refuse UPDATE and DELETE (migration
    0009). On SQLite, which has no session variables, the triggers let a change through only
    while this table holds a row; ``audit.privacy.audit_maintenance()`` inserts it and
    deletes it again inside one transaction, so no other connection ever sees it (SQLite has one
    writer at a time). PostgreSQL uses a transaction-local setting instead and leaves this
    table empty.
    """

    __tablename__ = "audit_maintenance"

    id: Mapped[int] = mapped_column(primary_key=True)
