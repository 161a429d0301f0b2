"""Revision 0021_new_device_alerts: accounts that signed in before it are not "new" after it.

An account's first sign-in mails no new-device notice, so the revision must not take the next
sign-in of an account that has signed in before for its first. It backfills
users.first_sign_in_at from what is kept: the oldest recognised browser, or the oldest
successful sign-in in the audit trail; an account with neither stays NULL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from authserver import create_app
from authserver.extensions import db
from tests.support.databases import backends, fresh_postgres_database
from tests.support.settings import make_test_settings

BEFORE = "0020_backchannel_logout"
REVISION = "0021_new_device_alerts"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
DEVICE_SINCE = datetime(2026, 3, 1, tzinfo=UTC)
FIRST_LOGIN = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture(params=backends())
def app_before(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app whose database is at the revision before this one (PostgreSQL: its own)."""
    if request.param == "sqlite":
        database = nullcontext(f"sqlite:///{tmp_path / 'before.sqlite3'}")
    else:
        database = fresh_postgres_database()
    with database as url:
        app = create_app(make_test_settings(tmp_path, database_url=url))
        with app.app_context():
            upgrade(revision=BEFORE)
            yield app
            db.session.remove()
            db.engine.dispose()


def table(name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=db.engine)


def insert(name: str, **row: object) -> None:
    with db.engine.begin() as connection:
        connection.execute(table(name).insert().values(**row))


def subject(user_id: int) -> str:
    return f"00000000-0000-4000-8000-{user_id:012d}"


def insert_user(user_id: int) -> None:
    insert(
        "users",
        id=user_id,
        subject=subject(user_id),
        email=f"user{user_id}@example.org",
        password_hash="not-a-real-hash",
        is_disabled=False,
        created_at=CREATED,
        updated_at=CREATED,
    )


def login_event(user_id: int, at: datetime, *, outcome: str = "success") -> None:
    insert(
        "audit_events",
        occurred_at=at,
        event="user:login",
        outcome=outcome,
        user_subject=subject(user_id),
        detail={},
    )


def first_sign_ins() -> dict[int, datetime | None]:
    users = table("users")
    with db.engine.connect() as connection:
        rows = connection.execute(sa.select(users.c.id, users.c.first_sign_in_at)).all()
    return {
        row.id: None if row.first_sign_in_at is None else row.first_sign_in_at.replace(tzinfo=UTC)
        for row in rows
    }


def test_accounts_that_signed_in_before_keep_that_fact(app_before: Flask) -> None:
    for user_id in (1, 2, 3, 4):
        insert_user(user_id)
    # 1: a recognised browser, and an older sign-in in the audit trail: the older one counts;
    # 5: an older recognised browser than its audit trail knows of.
    insert_user(5)
    insert(
        "login_devices",
        device_id="d" * 43,
        user_id=1,
        created_at=DEVICE_SINCE,
        expires_at=DEVICE_SINCE + timedelta(days=180),
    )
    login_event(1, FIRST_LOGIN)
    insert(
        "login_devices",
        device_id="e" * 43,
        user_id=5,
        created_at=CREATED,
        expires_at=CREATED + timedelta(days=180),
    )
    login_event(5, FIRST_LOGIN)
    # 2: only the audit trail says so; 3: only failed sign-ins; 4: nothing at all.
    login_event(2, FIRST_LOGIN)
    login_event(2, FIRST_LOGIN + timedelta(days=3))
    login_event(3, FIRST_LOGIN, outcome="failure")

    upgrade(revision=REVISION)

    assert first_sign_ins() == {1: FIRST_LOGIN, 2: FIRST_LOGIN, 3: None, 4: None, 5: CREATED}
    downgrade(revision=BEFORE)
    assert "first_sign_in_at" not in {column.name for column in table("users").columns}
