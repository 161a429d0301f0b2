"""``authserver maintenance purge``: delete rows nothing can use any more.

Every table that only grows is listed in :data:`TARGETS` with the condition under which a row
is dead. Each condition is a range on an indexed column (``expires_at``, ``occurred_at``), and
rows go in batches of :data:`BATCH_SIZE`, one transaction each, so a purge of millions of rows
on PostgreSQL neither scans whole tables nor holds long locks, and can be stopped and rerun.

Kept on purpose:
- Authorization codes that were *used* stay for :data:`CODE_REPLAY_WINDOW` after expiry: a
  replayed code revokes what it issued (RFC 6749 §4.1.2), and that needs the row.
- Device codes (RFC 8628) likewise: expired ones go, a redeemed one a day after its expiry.
- Refresh tokens stay until their family's absolute end, even once idle-expired, rotated or
  revoked: presenting a rotated one must still be recognised as reuse (RFC 9700 §4.14.2).
  A family row goes when its last token does.
- Nothing about MFA sign-ins in progress is stored (it is a signed, short-lived value); browser
  sessions past their absolute end are purged from their table.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, delete, exists, func, or_, select

from authserver.audit.events import EventTag, record_event
from authserver.audit.privacy import (
    audit_maintenance,
    count_old_audit_personal_data,
    scrub_old_audit_personal_data,
)
from authserver.config import Settings
from authserver.extensions import db
from authserver.models import (
    AuditEvent,
    AuthorizationCode,
    BrowserSessionRecord,
    ClientAssertionJti,
    DeviceCode,
    DPoPProofJti,
    EmailVerificationToken,
    LoginDevice,
    NotMeToken,
    PasskeyChallenge,
    PasswordResetToken,
    PushedAuthorizationRequest,
    RefreshFamily,
    RefreshToken,
    RevokedAccessToken,
    UnlockToken,
)

BATCH_SIZE = 1000
CODE_REPLAY_WINDOW = timedelta(days=1)
REFRESH_FAMILIES = "refresh_families"

Condition = Callable[[datetime, Settings], ColumnElement[bool]]


def _expired(model: Any) -> Condition:  # Any: any model with an `expires_at` column
    return lambda now, _settings: cast("ColumnElement[bool]", model.expires_at < now)


def _dead_code(now: datetime, _settings: Settings) -> ColumnElement[bool]:
    return and_(
        AuthorizationCode.expires_at < now,
        or_(
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.expires_at < now - CODE_REPLAY_WINDOW,
        ),
    )


def _dead_device_code(now: datetime, _settings: Settings) -> ColumnElement[bool]:
    """Like codes: a redeemed device code stays a day, so revoking the app can find its grant."""
    return and_(
        DeviceCode.expires_at < now,
        or_(DeviceCode.used_at.is_(None), DeviceCode.expires_at < now - CODE_REPLAY_WINDOW),
    )


# The purge report's entry for audit rows that lost their IP address and user agent.
AUDIT_ORIGINS_SCRUBBED = "audit_events_origin_scrubbed"


def _old_audit_event(now: datetime, settings: Settings) -> ColumnElement[bool]:
    return AuditEvent.occurred_at < now - timedelta(days=settings.audit_retention_days)


@dataclass(frozen=True)
class Target:
    model: Any  # Any: a mapped class with an integer `id` primary key
    is_dead: Condition

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)


TARGETS = (
    Target(AuthorizationCode, _dead_code),
    Target(DeviceCode, _dead_device_code),
    Target(RefreshToken, _expired(RefreshToken)),  # and then their empty families
    Target(RevokedAccessToken, _expired(RevokedAccessToken)),
    Target(ClientAssertionJti, _expired(ClientAssertionJti)),
    Target(DPoPProofJti, _expired(DPoPProofJti)),
    Target(PushedAuthorizationRequest, _expired(PushedAuthorizationRequest)),
    Target(PasswordResetToken, _expired(PasswordResetToken)),
    Target(EmailVerificationToken, _expired(EmailVerificationToken)),
    Target(UnlockToken, _expired(UnlockToken)),
    Target(NotMeToken, _expired(NotMeToken)),
    Target(PasskeyChallenge, _expired(PasskeyChallenge)),
    Target(BrowserSessionRecord, _expired(BrowserSessionRecord)),
    Target(LoginDevice, _expired(LoginDevice)),
    Target(AuditEvent, _old_audit_event),
)


def purge(
    *, now: datetime, settings: Settings, dry_run: bool = False, batch_size: int = BATCH_SIZE
) -> dict[str, int]:
    """Delete (or with ``dry_run`` only count) dead rows; returns how many per table.

    Commits after every batch. When rows were deleted, one ``admin:maintenance:purge`` audit
    event records the counts.
    """
    counts: dict[str, int] = {}
    for target in TARGETS:
        condition = target.is_dead(now, settings)
        if dry_run:
            counts[target.table] = _count(target.model, condition)
            if target.model is RefreshToken:
                counts[REFRESH_FAMILIES] = _count_families_left_empty(now)
        elif target.model is RefreshToken:
            counts[target.table], counts[REFRESH_FAMILIES] = _purge_refresh_tokens(
                condition, batch_size
            )
        else:
            counts[target.table] = _purge_in_batches(target.model, condition, batch_size)
    # Audit rows young enough to keep lose their IP address and user agent sooner
    # (AUTHSERVER_AUDIT_IP_RETENTION_DAYS).
    if dry_run:
        counts[AUDIT_ORIGINS_SCRUBBED] = count_old_audit_personal_data(now=now)
    else:
        counts[AUDIT_ORIGINS_SCRUBBED] = scrub_old_audit_personal_data(now=now)
    if not dry_run and any(counts.values()):
        # Only purges that deleted something: a frequent cron job would otherwise fill the
        # trail with empty entries.
        record_event(
            EventTag.ADMIN_PURGE,
            detail={"deleted": counts, "audit_retention_days": settings.audit_retention_days},
        )
        db.session.commit()
    return counts


def _count(model: Any, condition: ColumnElement[bool]) -> int:  # Any: a mapped class
    return int(db.session.scalar(select(func.count()).select_from(model).where(condition)) or 0)


def _purge_in_batches(model: Any, condition: ColumnElement[bool], batch_size: int) -> int:
    total = 0
    while True:
        batch = select(model.id).where(condition).limit(batch_size)
        # Audit rows are append-only (migration 0009's triggers); the retention purge is one of
        # the two sanctioned exceptions, switched on for this batch's transaction only.
        with audit_maintenance() if model is AuditEvent else nullcontext():
            deleted = _rowcount(delete(model).where(model.id.in_(batch)))
        db.session.commit()
        total += deleted
        if deleted < batch_size:
            return total


def _purge_refresh_tokens(condition: ColumnElement[bool], batch_size: int) -> tuple[int, int]:
    """Expired refresh tokens, batch by batch, then the families those batches emptied."""
    tokens = families = 0
    while True:
        rows = db.session.execute(
            select(RefreshToken.id, RefreshToken.family_id).where(condition).limit(batch_size)
        ).all()
        if not rows:
            return tokens, families
        tokens += _rowcount(delete(RefreshToken).where(RefreshToken.id.in_([r.id for r in rows])))
        touched = {row.family_id for row in rows}
        families += _rowcount(
            delete(RefreshFamily).where(
                RefreshFamily.id.in_(touched),
                ~exists().where(RefreshToken.family_id == RefreshFamily.id),
            )
        )
        db.session.commit()
        if len(rows) < batch_size:
            return tokens, families


def _count_families_left_empty(now: datetime) -> int:
    def tokens_of_family(*condition: ColumnElement[bool]) -> Any:  # Any: an EXISTS clause
        return exists().where(RefreshToken.family_id == RefreshFamily.id, *condition)

    return _count(
        RefreshFamily,
        and_(
            tokens_of_family(RefreshToken.expires_at < now),
            ~tokens_of_family(RefreshToken.expires_at >= now),
        ),
    )


def _rowcount(statement: Any) -> int:  # Any: a DELETE statement
    # No ORM objects of these tables are loaded here, so there is nothing to synchronise (and
    # "fetch" would return every deleted id). DELETE always produces a cursor result.
    options = {"synchronize_session": False}
    result = cast("CursorResult[Any]", db.session.execute(statement, execution_options=options))
    return result.rowcount
