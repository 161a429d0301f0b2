"""Audit rows are append-only in the database itself; only the documented jobs change them.

On SQLite and PostgreSQL: a plain UPDATE or DELETE (ORM or raw SQL) fails; inside
`audit_maintenance()` it works, and the permission ends with that transaction. The retention
job removes IP addresses and user agents from rows older than the configured days.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from authserver.audit.events import EventTag, record_event
from authserver.audit.privacy import (
    REMOVED,
    audit_maintenance,
    scrub_detail,
    scrub_old_audit_personal_data,
)
from authserver.extensions import db
from authserver.models import AuditEvent, AuditMaintenanceFlag
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import FIREFOX_LINUX, browser
from tests.support.web import sign_in

T0 = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


def one_event() -> int:
    row = record_event(EventTag.LOGIN, user_subject="someone", detail={"device": "new"})
    db.session.commit()
    return int(row.id)


def snapshot() -> list[tuple[object, ...]]:
    db.session.rollback()
    rows = db.session.execute(
        select(AuditEvent.id, AuditEvent.user_subject, AuditEvent.ip, AuditEvent.detail)
    )
    return [tuple(row) for row in rows]


TAMPERING: dict[str, Callable[[], object]] = {
    "ORM update": lambda: db.session.execute(update(AuditEvent).values(outcome="failure")),
    "ORM delete": lambda: db.session.execute(delete(AuditEvent)),
    "SQL update": lambda: db.session.execute(text("UPDATE audit_events SET user_subject = 'x'")),
    "SQL delete": lambda: db.session.execute(text("DELETE FROM audit_events")),
    "object change": lambda: _change_loaded_row(),
}


def _change_loaded_row() -> None:
    row = db.session.scalars(select(AuditEvent)).one()
    row.outcome = "failure"
    db.session.flush()


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
def test_plain_updates_and_deletes_are_refused(app: Flask, tamper: Callable[[], object]) -> None:
    one_event()
    before = snapshot()

    with pytest.raises(DBAPIError, match="audit_events is append-only"):
        tamper()
        db.session.commit()

    assert snapshot() == before


def test_maintenance_may_change_rows_within_its_transaction_only(app: Flask) -> None:
    row_id = one_event()

    with audit_maintenance():
        db.session.execute(update(AuditEvent).where(AuditEvent.id == row_id).values(ip=None))
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == row_id))
    db.session.commit()

    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    # The switch died with the transaction: the next change is refused again.
    assert db.session.scalar(select(func.count()).select_from(AuditMaintenanceFlag)) == 0
    one_event()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(delete(AuditEvent))
    db.session.rollback()


def test_a_failed_maintenance_rolls_back_and_leaves_no_switch(app: Flask) -> None:
    one_event()
    before = snapshot()

    with pytest.raises(RuntimeError), audit_maintenance():
        db.session.execute(update(AuditEvent).values(ip=None))
        raise RuntimeError("the job broke half-way")

    assert snapshot() == before
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(update(AuditEvent).values(ip=None))
    db.session.rollback()


def test_another_connection_never_sees_the_switch(app: Flask, make_app: AppFactory) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: no other connection can write while the switch is on")
    one_event()
    other = make_app()
    with audit_maintenance():
        db.session.execute(update(AuditEvent).values(ip=None))
        # A second connection, while ours holds the switch: refused there all the same.
        with other.app_context(), pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(update(AuditEvent).values(user_agent=None))
    db.session.commit()


def test_old_rows_lose_their_address_and_user_agent(app: Flask, make_app: AppFactory) -> None:
    site = make_app(audit_ip_retention_days=30)
    with site.app_context():
        make_user()
        with time_machine.travel(T0, tick=False) as traveller:
            sign_in(browser(site), DEFAULT_EMAIL, DEFAULT_PASSWORD)
            traveller.shift(timedelta(days=20))
            sign_in(browser(site), DEFAULT_EMAIL, "wrong password")
        before = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(row.ip, row.user_agent) for row in before] == [("127.0.0.1", FIREFOX_LINUX)] * 2

        changed = scrub_old_audit_personal_data(now=T0 + timedelta(days=31))

        db.session.expire_all()
        after = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert changed == 1
        assert [(row.event, row.ip, row.user_agent) for row in after] == [
            ("user:login", None, None),
            ("user:login:failure", "127.0.0.1", FIREFOX_LINUX),
        ]
        assert scrub_old_audit_personal_data(now=T0 + timedelta(days=31)) == 0


def test_scrubbing_a_detail_removes_identifiers_and_the_address() -> None:
    detail = {
        "sid": "abc",
        "grant_id": "g-1",
        "reason": "password",
        "note": f"sent to {DEFAULT_EMAIL.upper()}",
        "nested": [{"jti": "j", "to": DEFAULT_EMAIL}, 3, None],
    }

    assert scrub_detail(detail, email=DEFAULT_EMAIL) == {
        "reason": "password",
        "note": REMOVED,
        "nested": [{"to": REMOVED}, 3, None],
    }
