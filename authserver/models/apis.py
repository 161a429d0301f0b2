"""APIs (OAuth resource servers) that access tokens can be issued for (RFC 8707)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import UTCDateTime, utcnow

MAX_IDENTIFIER_LENGTH = 255  # the column's size


class Api(db.Model):  # type: ignore[name-defined,misc]  # Flask-SQLAlchemy's dynamic base
    __tablename__ = "apis"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The absolute URI a client names as `resource` and a token carries as `aud`. It never
    # changes: tokens already issued name it, and services check for it.
    identifier: Mapped[str] = mapped_column(String(MAX_IDENTIFIER_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The scopes that mean something to this API; a client holding one of them may ask for it.
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Lifetime of this API's access tokens; None means the client's, then the server's setting.
    access_token_ttl: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
