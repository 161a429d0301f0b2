"""Pushed authorization requests (RFC 9126): parameters a client sent ahead of the browser.

Only the SHA-256 of the request_uri's random part is stored, like every other token here: a
database leak yields no request_uri a browser could bring.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime, utcnow


class PushedAuthorizationRequest(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "pushed_authorization_requests"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    # The authorization request's parameters as pushed: name -> every value (no credentials).
    parameters: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Unclaimed: the request_uri's own lifetime (expires_in). Once a browser has claimed it,
    # the time that browser has to sign in and consent (oauth/pushed_requests.py).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # SHA-256 of the browser binding (a cookie) of the one browser that may continue the flow.
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the flow ended with a code or an error sent to the client: never usable again.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
