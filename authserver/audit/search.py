"""Reading the audit trail back: filtered listings and a streamed export.

The writer is :mod:`authserver.audit.events`; this module only reads. Every filter is on an indexed
column (``user_subject``, ``event``, ``occurred_at``, the primary key), and the export walks the
table by primary key in batches, so millions of rows never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select

from authserver.extensions import db
from authserver.models import AuditEvent

EXPORT_BATCH_SIZE = 1000
PREFIX_WILDCARD = "*"


@dataclass(frozen=True)
class AuditFilter:
    """Rows matching all that is set; ``since`` inclusive, ``until`` exclusive (aware UTC)."""

    user_subject: str | None = None
    # An exact tag ("user:login:failure"), or a prefix ending in "*" ("admin:*").
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.user_subject is not None:
            conditions.append(AuditEvent.user_subject == self.user_subject)
        if self.event is not None and self.event.endswith(PREFIX_WILDCARD):
            prefix = self.event.removesuffix(PREFIX_WILDCARD)
            conditions.append(AuditEvent.event.startswith(prefix, autoescape=True))
        elif self.event is not None:
            conditions.append(AuditEvent.event == self.event)
        if self.since is not None:
            conditions.append(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.occurred_at < self.until)
        return conditions


def latest_events(audit_filter: AuditFilter, *, limit: int) -> list[AuditEvent]:
    """The newest ``limit`` matching events, newest first."""
    query = _matching(audit_filter).order_by(AuditEvent.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def export_events(
    audit_filter: AuditFilter, *, batch_size: int = EXPORT_BATCH_SIZE
) -> Iterator[dict[str, Any]]:  # Any: JSON-ready values
    """Every matching event, oldest first, described; read ``batch_size`` rows at a time.

    Keyset pagination (``id > last``) keeps each batch an index range, however deep into the
    table it is; rows are let go of after each batch.
    """
    last_id = 0
    while True:
        query = _matching(audit_filter).where(AuditEvent.id > last_id)
        batch = list(db.session.scalars(query.order_by(AuditEvent.id).limit(batch_size)))
        for event in batch:
            yield describe_event(event)
        if len(batch) < batch_size:
            return
        last_id = batch[-1].id
        db.session.expunge_all()


def describe_event(event: AuditEvent) -> dict[str, Any]:  # Any: JSON-ready values
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "event": event.event,
        "outcome": event.outcome,
        "user_subject": event.user_subject,
        "client_id": event.client_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "request_id": event.request_id,
        "detail": event.detail,
    }


def _matching(audit_filter: AuditFilter) -> Select[AuditEvent]:
    return select(AuditEvent).where(*audit_filter.conditions())
