"""The only changes ever made to audit rows: pseudonymisation and retention.

``audit_events`` is append-only (migration 0009's triggers refuse UPDATE and DELETE). Two jobs
are allowed to change it, and they say so with :func:`audit_maintenance` inside their own
transaction:

- deleting an account pseudonymises the rows about it (:func:`pseudonymise_audit_rows`): the
  events stay, for the security record, but no longer point at a person;
- retention: IP addresses and user agents are removed from rows older than
  ``AUTHSERVER_AUDIT_IP_RETENTION_DAYS`` (:func:`scrub_old_audit_personal_data`); whole rows
  are purged by the ``maintenance purge`` command through the same switch.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, text, update

from authserver.config import current_settings
from authserver.extensions import db
from authserver.models.audit import AuditEvent, AuditMaintenanceFlag

# Marks a pseudonym for what it is; no real `sub` (a UUID) ever starts like this.
PSEUDONYM_PREFIX = "deleted:"
# Detail entries that name something the person's relying parties also saw (session ids in ID
# tokens, grant ids and jtis in access tokens) or that are personal in themselves.
IDENTIFYING_DETAIL_KEYS = frozenset({"sid", "grant_id", "jti", "email", "ip", "user_agent"})
REMOVED = "[removed]"
_SETTING = "authserver.audit_maintenance"


@contextmanager
def audit_maintenance() -> Iterator[None]:
    """Allow UPDATE and DELETE of audit rows for the rest of the caller's transaction block.

    PostgreSQL: a transaction-local setting the trigger reads (it ends with the transaction
    whatever happens). SQLite: a row in ``audit_maintenance`` that is inserted and deleted again
    within the transaction, so it is never committed. On an error the transaction is rolled
    back, which removes the switch on both.
    """
    postgres = db.session.get_bind().dialect.name == "postgresql"
    try:
        if postgres:
            db.session.execute(text("SELECT set_config(:name, 'on', true)"), {"name": _SETTING})
        else:
            db.session.execute(insert(AuditMaintenanceFlag).values(id=1))
        yield
        if postgres:
            db.session.execute(text("SELECT set_config(:name, 'off', true)"), {"name": _SETTING})
        else:
            db.session.execute(delete(AuditMaintenanceFlag))
    except BaseException:
        db.session.rollback()
        raise


def new_pseudonym() -> str:
    """A random stand-in for a deleted account's subject.

    Random rather than derived (say, an HMAC of the subject): nobody, not even someone holding
    the server's secret key and the old subject, can link the rows to the person again, while
    the rows of one account still share one value and read as one story.
    """
    return PSEUDONYM_PREFIX + secrets.token_hex(16)


def pseudonymise_audit_rows(subject: str, *, email: str, pseudonym: str) -> int:
    """Make the rows about ``subject`` point at nobody; returns how many. The caller commits.

    The subject becomes ``pseudonym``; IP address and user agent are removed; ``detail`` loses
    the identifiers relying parties also hold and anything mentioning the e-mail address.
    """
    rows = db.session.execute(
        select(AuditEvent.id, AuditEvent.detail).where(AuditEvent.user_subject == subject)
    ).all()
    if not rows:
        return 0
    scrubbed = [
        {"id": row_id, "detail": cleaned}
        for row_id, detail in rows
        if (cleaned := scrub_detail(detail, email=email)) != detail
    ]
    with audit_maintenance():
        db.session.execute(
            update(AuditEvent)
            .where(AuditEvent.user_subject == subject)
            .values(user_subject=pseudonym, ip=None, user_agent=None)
            .execution_options(synchronize_session=False)
        )
        if scrubbed:
            db.session.execute(update(AuditEvent), scrubbed)  # by primary key
    return len(rows)


def scrub_detail(detail: dict[str, Any], *, email: str) -> dict[str, Any]:
    """``detail`` without identifying keys and with every mention of ``email`` replaced."""
    cleaned = _scrub(detail, email.lower())
    assert isinstance(cleaned, dict)
    return cleaned


def _scrub(value: Any, email: str) -> Any:  # Any: JSON values of every kind
    if isinstance(value, dict):
        return {
            key: _scrub(item, email)
            for key, item in value.items()
            if key not in IDENTIFYING_DETAIL_KEYS
        }
    if isinstance(value, list):
        return [_scrub(item, email) for item in value]
    if isinstance(value, str) and email and email in value.lower():
        return REMOVED
    return value


def _holds_old_personal_data(now: datetime) -> ColumnElement[bool]:
    settings = current_settings()
    cutoff = now - timedelta(days=settings.audit_ip_retention_days)
    return and_(
        AuditEvent.occurred_at < cutoff,
        or_(AuditEvent.ip.is_not(None), AuditEvent.user_agent.is_not(None)),
    )


def count_old_audit_personal_data(*, now: datetime) -> int:
    """How many rows :func:`scrub_old_audit_personal_data` would change (a purge's dry run)."""
    return int(
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(_holds_old_personal_data(now))
        )
        or 0
    )


def scrub_old_audit_personal_data(*, now: datetime) -> int:
    """Remove IP address and user agent from audit rows older than the retention period.

    ``AUTHSERVER_AUDIT_IP_RETENTION_DAYS`` says how long they are kept. The events stay; only
    where they came from is forgotten. Returns how many rows changed. Commits.
    """
    with audit_maintenance():
        result = db.session.execute(
            update(AuditEvent)
            .where(_holds_old_personal_data(now))
            .values(ip=None, user_agent=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount
