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
        context.configure(connection=connection, target_metadata=target_metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
