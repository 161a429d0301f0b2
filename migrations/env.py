"""Alembic environment: migrate the database of the running Flask app."""

from __future__ import annotations

import logging
from typing import Any

from alembic import context
from flask import current_app

from authserver.models.types import UTCDateTime

log = logging.getLogger("alembic.env")
migrate_extension = current_app.extensions["migrate"]
target_metadata = migrate_extension.db.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types as plain SQLAlchemy types, so migrations never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def skip_empty_revisions(context_: Any, revision: Any, directives: list[Any]) -> None:
    """`db migrate` with no model change writes no empty revision."""
    is_autogenerate = getattr(context.config.cmd_opts, "autogenerate", False)
    if is_autogenerate and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("No changes in schema detected.")


def run_migrations_online() -> None:
    options = dict(migrate_extension.configure_args)
    options.setdefault("process_revision_directives", skip_empty_revisions)
    options.setdefault("render_item", render_item)
    options.setdefault("compare_type", True)
    with migrate_extension.db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _enforce_sqlite_foreign_keys(connection, enforce=False)
        try:
            context.configure(connection=connection, target_metadata=target_metadata, **options)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    _refuse_broken_references(connection)
        finally:
            if sqlite:
                _enforce_sqlite_foreign_keys(connection, enforce=True)


def _enforce_sqlite_foreign_keys(connection: Any, *, enforce: bool) -> None:
    """Switch SQLite's foreign-key enforcement for this connection (the app turns it on).

    A batch operation that changes a column on SQLite copies the table, drops the old one and
    renames the copy: with enforcement on, dropping `users` deletes every row that references
    it through ON DELETE CASCADE (sessions, passkeys, tokens, links). The switch only works
    outside a transaction (SQLite ignores it inside one), so it is committed on its own; the
    references are checked before the migration's transaction commits instead.
    """
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforce else 'OFF'}")
    connection.commit()


def _refuse_broken_references(connection: Any) -> None:
    """Fail the migration (its transaction rolls back) if a row references nothing."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise RuntimeError(
            f"the migration left {len(broken)} row(s) referencing missing rows, the first in "
            f"{table} (rowid {rowid}) referencing {parent}: nothing was changed"
        )


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
