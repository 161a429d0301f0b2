"""Delivering the outbox: claim a due row, sign its logout token, POST it, settle the row.

The race, reasoned. Every worker process of every instance runs :func:`deliver_due`. A row is
claimed by ``UPDATE ... SET available_at = now + lease WHERE id = :id AND available_at <= now``
and only the worker whose UPDATE changed the row sends it. On PostgreSQL a second UPDATE of the
same row waits for the first to commit, then finds the condition false; on SQLite writes are
serialised, with the same outcome. The claim is committed before the HTTP request, so no
database transaction (or connection) is held while a relying party answers. After the attempt
the row is deleted (delivered, or given up) or moved to its next retry. A worker that dies
mid-attempt leaves a claimed row, which becomes due again when its lease runs out: that is the
only case in which a message can be sent twice (OIDC Back-Channel Logout §2.7: relying parties
must accept a repeated logout).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update

from authserver.audit.events import EventTag, record_event
from authserver.backchannel.logout_token import logout_token
from authserver.backchannel.sending import DeliveryFailed, is_loopback_target, post_logout_token
from authserver.config import Settings, current_settings
from authserver.extensions import db
from authserver.models.backchannel import LogoutMessage
from authserver.models.clients import Client
from authserver.models.types import utcnow
from authserver.models.users import User
from authserver.observability.metrics import count_logout_delivery

log = logging.getLogger(__name__)

BATCH_SIZE = 20  # rows looked at per pass; the rest wait a second for the next
MAX_BACKOFF = timedelta(minutes=5)

_DUE = (
    select(LogoutMessage.id)
    .where(LogoutMessage.available_at <= bindparam("now"))
    .order_by(LogoutMessage.available_at, LogoutMessage.id)
    .limit(BATCH_SIZE)
)
_CLAIM = (
    update(LogoutMessage)
    .where(LogoutMessage.id == bindparam("row_id"), LogoutMessage.available_at <= bindparam("now"))
    .values(available_at=bindparam("until"), attempts=LogoutMessage.attempts + 1)
)
_DELETE = delete(LogoutMessage).where(LogoutMessage.id == bindparam("row_id"))


@dataclass
class DeliveryReport:
    """What one pass did, for tests and the log."""

    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    skipped: int = 0  # claimed by another worker first, or no longer wanted


def deliver_due(*, now: datetime | None = None) -> DeliveryReport:
    """One pass over the due rows; each is settled and committed on its own."""
    report = DeliveryReport()
    due = list(db.session.scalars(_DUE, {"now": now or utcnow()}))
    db.session.commit()  # nothing held while relying parties answer
    for row_id in due:
        _deliver_one(row_id, current_settings(), report)
    return report


def _deliver_one(row_id: int, settings: Settings, report: DeliveryReport) -> None:
    now = utcnow()
    # Long enough for one attempt (connect and read timeouts) with room to spare.
    lease = timedelta(seconds=3 * settings.backchannel_logout_timeout + 10)
    claimed = db.session.execute(_CLAIM, {"row_id": row_id, "now": now, "until": now + lease})
    db.session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult has rowcount
        report.skipped += 1
        return
    message = db.session.get(LogoutMessage, row_id, populate_existing=True)
    client = db.session.get(Client, message.client_pk) if message is not None else None
    if message is None or client is None or client.backchannel_logout_uri is None:
        # The client was deleted, or no longer wants logout tokens: nothing to deliver.
        _settle(row_id)
        report.skipped += 1
        return
    uri, attempts = client.backchannel_logout_uri, message.attempts
    failure = _Failure(row_id, client.client_id, message.user_subject, attempts, message.give_up_at)
    token = logout_token(client, subject=message.user_subject, sid=message.sid, now=now)
    db.session.commit()
    try:
        if settings.is_production and is_loopback_target(uri):
            # Like redirect URIs: the loopback interface is for development only; in
            # production it would let a client registration reach our own host's services.
            raise DeliveryFailed("loopback target refused in production")
        post_logout_token(uri, token, timeout=settings.backchannel_logout_timeout)
    except DeliveryFailed as problem:
        _record_failure(failure, str(problem), settings, report)
        return
    _settle(row_id)
    count_logout_delivery("delivered")
    report.delivered += 1


@dataclass(frozen=True)
class _Failure:
    """What settling a failed attempt needs, copied before the HTTP request."""

    row_id: int
    client_id: str
    user_subject: str
    attempts: int
    give_up_at: datetime


def _record_failure(
    failure: _Failure, reason: str, settings: Settings, report: DeliveryReport
) -> None:
    report.failed += 1
    count_logout_delivery("failed")
    retry_at = utcnow() + _backoff(failure.attempts, settings)
    if retry_at < failure.give_up_at:
        db.session.execute(
            update(LogoutMessage)
            .where(LogoutMessage.id == failure.row_id)
            .values(available_at=retry_at)
        )
        db.session.commit()
        log.info(
            "logout token for client %s not delivered (attempt %d: %s); next try at %s",
            failure.client_id,
            failure.attempts,
            reason,
            retry_at.isoformat(),
        )
        return
    _settle(failure.row_id, commit=False)
    record_event(
        EventTag.LOGOUT_TOKEN_GIVEN_UP,
        outcome="failure",
        user_subject=_subject_if_kept(failure.user_subject),
        client_id=failure.client_id,
        detail={"attempts": failure.attempts, "reason": reason},
        include_origin=False,  # a background worker: no request, no address
    )
    db.session.commit()
    count_logout_delivery("given_up")
    report.given_up += 1
    log.warning(
        "logout token for client %s given up after %d attempts (%s)",
        failure.client_id,
        failure.attempts,
        reason,
    )


def _subject_if_kept(subject: str) -> str | None:
    """The subject for the audit row, unless its account has been deleted meanwhile: deletion
    pseudonymises the account's audit rows, and a row written afterwards must not bring the
    real subject back (the message itself was queued by the deletion)."""
    exists = db.session.scalar(select(User.id).where(User.subject == subject))
    return subject if exists is not None else None


def _backoff(attempts: int, settings: Settings) -> timedelta:
    """The first retry after the configured wait, then twice as long each time, capped."""
    first = timedelta(seconds=settings.backchannel_logout_backoff)
    doubled: timedelta = first * (2 ** max(attempts - 1, 0))
    return min(doubled, MAX_BACKOFF)


def _settle(row_id: int, *, commit: bool = True) -> None:
    db.session.execute(_DELETE, {"row_id": row_id})
    if commit:
        db.session.commit()
