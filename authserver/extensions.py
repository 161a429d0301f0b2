"""Flask extensions, created unbound here and bound to an app by ``init_app``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase

from authserver import database_guard
from authserver.config import app_settings
from authserver.database_faults import database_unavailability
from authserver.outages import outage_log

# Stable constraint names, so migrations can drop and alter constraints on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()

ViewFunction = TypeVar("ViewFunction", bound=Callable[..., Any])


def csrf_exempt(view: ViewFunction) -> ViewFunction:
    """Exempt a view from CSRF checks (Flask-WTF's decorator, with its type kept for mypy)."""
    csrf.exempt(view)
    return view


# Every Redis call has a deadline: a slow Redis must degrade a request, never hang a worker.
# The rate limits (ratelimit/windows.py) hold the only Redis client.
REDIS_TIMEOUT_SECONDS = 1.0

# The repository layout keeps migrations beside the package (DESIGN.md: "Layout").
MIGRATIONS_DIRECTORY = str(Path(__file__).resolve().parent.parent / "migrations")


def _tune_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    """SQLite defaults are wrong for a server: enforce foreign keys, use WAL, wait on locks."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, much faster
    cursor.execute("PRAGMA busy_timeout=5000")  # wait for a writer instead of failing at once
    cursor.close()


def discard_failed_transaction() -> None:
    """Roll back after a database error the caller tolerates (serving from memory, skipping a
    step). If the database dropped the connection, the ROLLBACK fails too (57P01 during a
    restart): nothing is left to undo then, and that failure must not undo the tolerance."""
    try:
        db.session.rollback()
    except SQLAlchemyError as error:
        if database_unavailability(error) is None:
            raise


def _close_the_session_even_if_the_database_left(_error: BaseException | None) -> None:
    """End the request's database session; a database gone meanwhile spoils nothing.

    Registered after Flask-SQLAlchemy's own teardown, so it runs first (Flask runs them in reverse)
    and leaves that one nothing to do. Closing the session rolls back what the request left
    open. If PostgreSQL went away after the answer was made (a restart: 57P01), that ROLLBACK
    fails; the answer must still go out, and nothing is lost, since nothing uncommitted
    survives a lost connection anyway. SQLAlchemy has already invalidated the connection and
    the outage is logged once elsewhere (database_guard.py). Any other error is a bug and
    propagates.
    """
    try:
        db.session.remove()
    except SQLAlchemyError as error:
        if database_unavailability(error) is None:
            raise
        # close() stopped half-way: forget the session, so no later app context reuses it.
        db.session.registry.clear()


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    # Pool and timeouts chosen so a database outage answers 503 within 2 s (database_guard.py).
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = database_guard.engine_options(settings.sqlalchemy_url)
    db.init_app(app)
    app.teardown_appcontext(_close_the_session_even_if_the_database_left)
    migrate.init_app(app, db, directory=MIGRATIONS_DIRECTORY, render_as_batch=True)
    csrf.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", _tune_sqlite_connection)
        database_guard.install(db.engine, outage_log(app))
