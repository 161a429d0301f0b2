"""Browser sessions in the database (table ``browser_sessions``): their store of record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from authserver.extensions import db
from authserver.models import BrowserSessionRecord
from authserver.sessions.store import ListedSession, StoredSession


class DatabaseSessionStore:
    def add(self, token_hash: str, session: StoredSession) -> None:
        db.session.add(
            BrowserSessionRecord(
                token_hash=token_hash,
                public_id=session.public_id,
                user_id=session.user_id,
                auth_time=session.auth_time,
                amr=list(session.amr),
                acr=session.acr,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                revoked_at=session.revoked_at,
                ip=session.ip,
                user_agent=session.user_agent,
            )
        )
        db.session.flush()

    def renew(self, token_hash: str, new_token_hash: str, session: StoredSession) -> None:
        # The same row: its id is what session_relying_parties (back-channel logout) refer to.
        db.session.execute(
            update(BrowserSessionRecord)
            .where(
                BrowserSessionRecord.token_hash == token_hash,
                BrowserSessionRecord.revoked_at.is_(None),
            )
            .values(
                token_hash=new_token_hash,
                auth_time=session.auth_time,
                amr=list(session.amr),
                acr=session.acr,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                ip=session.ip,
                user_agent=session.user_agent,
            )
        )

    def find(self, token_hash: str) -> StoredSession | None:
        record = db.session.scalars(
            select(BrowserSessionRecord).where(BrowserSessionRecord.token_hash == token_hash)
        ).first()
        return None if record is None else _to_stored(record)

    def touch(self, token_hash: str, *, seen_at: datetime) -> None:
        db.session.execute(
            update(BrowserSessionRecord)
            .where(BrowserSessionRecord.token_hash == token_hash)
            .values(last_seen_at=seen_at)
        )

    def revoke(self, token_hash: str, *, revoked_at: datetime) -> None:
        # Conditional, so a second revocation cannot move the recorded time.
        db.session.execute(
            update(BrowserSessionRecord)
            .where(
                BrowserSessionRecord.token_hash == token_hash,
                BrowserSessionRecord.revoked_at.is_(None),
            )
            .values(revoked_at=revoked_at)
        )

    def list_for_user(self, user_id: int, *, now: datetime) -> list[ListedSession]:
        records = db.session.scalars(
            select(BrowserSessionRecord).where(
                BrowserSessionRecord.user_id == user_id,
                BrowserSessionRecord.revoked_at.is_(None),
                BrowserSessionRecord.expires_at > now,
            )
        )
        return [ListedSession(record.token_hash, _to_stored(record)) for record in records]

    def revoke_all_for_user(self, user_id: int, *, revoked_at: datetime) -> int:
        result = db.session.execute(
            update(BrowserSessionRecord)
            .where(
                BrowserSessionRecord.user_id == user_id,
                BrowserSessionRecord.revoked_at.is_(None),
            )
            .values(revoked_at=revoked_at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount

    def list_all_for_user(self, user_id: int) -> list[StoredSession]:
        records = db.session.scalars(
            select(BrowserSessionRecord)
            .where(BrowserSessionRecord.user_id == user_id)
            .order_by(BrowserSessionRecord.created_at, BrowserSessionRecord.id)
        )
        return [_to_stored(record) for record in records]

    def forget_all_for_user(self, user_id: int) -> int:
        result = db.session.execute(
            delete(BrowserSessionRecord).where(BrowserSessionRecord.user_id == user_id)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount


def _to_stored(record: BrowserSessionRecord) -> StoredSession:
    return StoredSession(
        public_id=record.public_id,
        user_id=record.user_id,
        auth_time=record.auth_time,
        amr=tuple(record.amr),
        acr=record.acr,
        created_at=record.created_at,
        last_seen_at=record.last_seen_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        ip=record.ip,
        user_agent=record.user_agent,
    )
