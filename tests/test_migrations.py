"""Alembic is the only way the schema changes: it must match the models and go both ways."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from authserver import create_app
from authserver.extensions import MIGRATIONS_DIRECTORY, db
from tests.support.databases import backends, fresh_postgres_database
from tests.support.settings import make_test_settings


@pytest.fixture(params=backends())
def empty_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database nobody has migrated yet (a PostgreSQL database of its own)."""
    if request.param == "sqlite":
        database = nullcontext(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    else:
        database = fresh_postgres_database()
    with database as url:
        app = create_app(make_test_settings(tmp_path, database_url=url))
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()


def schema_snapshot() -> dict[str, Any]:
    """Tables, columns, indexes and constraints as the database reports them.

    Alembic's own bookkeeping table is left out: it appears with the first migration and stays.
    """
    inspector = inspect(db.engine)
    return {
        table: {
            "columns": [
                (column["name"], str(column["type"]), column["nullable"])
                for column in inspector.get_columns(table)
            ],
            "indexes": sorted(
                (index["name"], tuple(index["column_names"]), index["unique"])
                for index in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (constraint["name"], tuple(constraint["column_names"]))
                for constraint in inspector.get_unique_constraints(table)
            ),
            "foreign_keys": sorted(
                (key["name"], tuple(key["constrained_columns"]), key["referred_table"])
                for key in inspector.get_foreign_keys(table)
            ),
        }
        for table in sorted(inspector.get_table_names())
        if table != "alembic_version"
    }


def differences_from_models() -> list[Any]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, db.metadata))


def revisions_oldest_first() -> list[str]:
    script = ScriptDirectory(MIGRATIONS_DIRECTORY)
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_upgrade_from_empty_matches_the_models(empty_app: Flask) -> None:
    upgrade()

    assert differences_from_models() == []
    assert set(schema_snapshot()) == {table.name for table in db.metadata.sorted_tables}


def test_downgrade_to_base_and_up_again_gives_the_same_schema(empty_app: Flask) -> None:
    upgrade()
    at_head = schema_snapshot()

    downgrade(revision="base")
    assert schema_snapshot() == {}

    upgrade()
    assert schema_snapshot() == at_head


def test_every_revision_goes_up_and_down(empty_app: Flask) -> None:
    previous = "base"
    for revision in revisions_oldest_first():
        before = schema_snapshot()
        upgrade(revision=revision)
        after = schema_snapshot()

        downgrade(revision=previous)
        assert schema_snapshot() == before, f"downgrade of {revision} left a different schema"

        upgrade(revision=revision)
        assert schema_snapshot() == after
        previous = revision


def test_an_account_without_a_password_has_none_again_after_a_downgrade_and_upgrade(
    empty_app: Flask,
) -> None:
    # 0025 lets password_hash be NULL (an invitation accepted with a passkey); going back below
    # it stores a value no password verifies against, and coming back must read it as "none"
    # again, or the account page asks for a current password nobody ever had.
    upgrade()
    users = sa.Table("users", sa.MetaData(), autoload_with=db.engine)
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        connection.execute(users.insert().values(
            id=1, subject="00000000-0000-4000-8000-000000000001", email="grace@example.com",
            password_hash=None, is_disabled=False, created_at=now, updated_at=now,
        ))  # fmt: skip

    downgrade(revision="0024_user_language")
    below = db.session.scalar(sa.text("SELECT password_hash FROM users"))
    db.session.rollback()
    upgrade()

    assert below == "!no-password"
    assert db.session.scalar(sa.text("SELECT password_hash FROM users WHERE id = 1")) is None
