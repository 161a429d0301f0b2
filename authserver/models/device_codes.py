"""Device authorization requests (RFC 8628): one row per device code and its user code.

Only hashes of the two codes are stored. The row records what the person decided at the
verification page (approved or denied, by whom, how they signed in) and how the device polls.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from authserver.extensions import db
from authserver.models.types import BigIntPrimaryKey, UTCDateTime, utcnow

PENDING = "pending"
APPROVED = "approved"
DENIED = "denied"


class DeviceCode(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "device_codes"

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    # SHA-256 of the 256-bit device code, which only the device holds.
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # A keyed hash (HMAC-SHA-256 under the secret key) of the normalised user code: it has
    # about 34 bits, so a plain hash would fall to a search of every code from a stolen table.
    user_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Everything issued from this code shares the grant id (access tokens' `gid`, the family).
    grant_id: Mapped[str] = mapped_column(String(36))
    client_pk: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(1000))
    # RFC 8707: the APIs (identifiers) named by `resource` in the device authorization request.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    # Set when the person decides: who, and how they signed in (the tokens' auth_time/acr/amr).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    auth_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acr: Mapped[str | None] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # RFC 8628 §3.5: the polling interval, grown by 5 s at each slow_down.
    interval: Mapped[int] = mapped_column()
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
