"""Revision 0011_proto: stored addresses normalised (NFKC, case folding); collisions reported."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import downgrade, upgrade

from authserver import create_app
from authserver.accounts.email_addresses import normalise_email
from authserver.extensions import MIGRATIONS_DIRECTORY, db
from authserver.migrations_state import current_revision
from tests.support.databases import backends, fresh_postgres_database
from tests.support.logs import captured_log
from tests.support.settings import make_test_settings

BEFORE = "0010"
REVISION = "0011_proto"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
FULL_WIDTH_A = "\N{FULLWIDTH LATIN SMALL LETTER A}"
# What the previous release stored for "ALİCE@example.org": lower() of the dotted capital I.
DOTTED_I = "i\N{COMBINING DOT ABOVE}"


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


def insert_user(user_id: int, email: str) -> None:
    row = {
        "id": user_id,
        "subject": f"00000000-0000-4000-8000-{user_id:012d}",
        "email": email,
        "password_hash": "not-a-real-hash",
        "is_disabled": False,
        "created_at": NOW,
        "updated_at": NOW,
    }
    with db.engine.begin() as connection:
        connection.execute(table("users").insert().values(**row))


def insert_verification_token(user_id: int, email: str) -> None:
    row = {
        "token_hash": f"{user_id:064d}",
        "user_id": user_id,
        "email": email,
        "created_at": NOW,
        "expires_at": NOW + timedelta(days=1),
    }
    with db.engine.begin() as connection:
        connection.execute(table("email_verification_tokens").insert().values(**row))


def stored(name: str) -> list[str]:
    with db.engine.connect() as connection:
        rows = connection.execute(sa.select(table(name).c.email).order_by(table(name).c.id))
        return [email for (email,) in rows]


def test_rows_and_pending_verification_links_are_normalised(app_before: Flask) -> None:
    insert_user(1, "alice@example.org")
    insert_user(2, f"b{FULL_WIDTH_A}rbara@example.org")
    insert_user(3, "stra\N{LATIN SMALL LETTER SHARP S}e@example.de")
    insert_verification_token(2, f"b{FULL_WIDTH_A}rbara@example.org")

    upgrade()

    assert stored("users") == [
        "alice@example.org",
        "barbara@example.org",
        "strasse@example.de",
    ]
    assert stored("email_verification_tokens") == ["barbara@example.org"]
    # The downgrade works and keeps them: the previous release finds them as they are.
    downgrade(revision=BEFORE)
    assert current_revision() == BEFORE
    assert stored("users")[1] == "barbara@example.org"


def test_addresses_that_would_collide_stop_the_upgrade_and_are_named(app_before: Flask) -> None:
    insert_user(1, "alice@example.org")
    insert_user(2, f"{FULL_WIDTH_A}lice@example.org")
    insert_user(3, f"al{DOTTED_I}ce@example.org")
    insert_user(4, f"b{FULL_WIDTH_A}rbara@example.org")  # no collision: not changed either
    before = stored("users")

    with captured_log() as log, pytest.raises(SystemExit) as stopped:
        upgrade()

    assert stopped.value.code == 1
    assert stored("users") == before, "nothing is changed, not even the rows that do not collide"
    assert current_revision() == BEFORE
    [error] = [record["message"] for record in log.records() if record["level"] == "ERROR"]
    assert error.splitlines() == [
        "Error: e-mail normalisation (NFKC, case folding) would give several accounts one "
        "address; nothing was changed. Decide which account keeps each address (delete the "
        "other, or change its address), then upgrade again:",
        f"  'alice@example.org': users.id 1 'alice@example.org', "
        f"users.id 2 '{FULL_WIDTH_A}lice@example.org', users.id 3 'al{DOTTED_I}ce@example.org'",
    ]


def migration_module() -> ModuleType:
    [path] = Path(MIGRATIONS_DIRECTORY, "versions").glob("*_proto_email_normalisation.py")
    spec = importlib.util.spec_from_file_location("email_normalisation_revision", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "email",
    [
        " Alice@Example.ORG ",
        f"{FULL_WIDTH_A}lice@example.org",
        "AL\N{LATIN CAPITAL LETTER I WITH DOT ABOVE}CE@example.org",
        "STRA\N{LATIN SMALL LETTER SHARP S}E@example.de",
        "\N{LATIN SMALL LIGATURE FI}n@example.org",
        "\N{LATIN SMALL LETTER LONG S}am@example.org",
        "\N{CYRILLIC CAPITAL LETTER A}lice@example.org",
        "\N{LATIN CAPITAL LETTER U WITH DIAERESIS}@\N{FULLWIDTH LATIN SMALL LETTER J}p.example",
    ],
)
def test_the_revision_uses_the_applications_rule(email: str) -> None:
    """The revision keeps its own copy of the rule (migrations never import app code)."""
    assert migration_module().normalise_email(email) == normalise_email(email)
