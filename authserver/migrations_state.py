"""What revision the database is at, read the way Alembic records it."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext

from authserver.extensions import db


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
