"""Our own failures at the authorization endpoint still answer the RFC 6749 §4.1.2.1 way."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from authserver.extensions import db
from tests.support.oauth import (
    Pkce,
    authorize,
    make_relying_party,
    make_user,
    redirect_params,
    sign_in,
)


@pytest.fixture
def sqlite_file(client: FlaskClient) -> str:
    """These faults are injected through SQLite itself; PostgreSQL has its own tests' coverage."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("storage faults are injected with SQLite pragmas and locks")
    database = db.engine.url.database
    assert database
    return database


@pytest.fixture
def signed_in_rp(client: FlaskClient, sqlite_file: str) -> Any:
    make_user()
    rp = make_relying_party(skip_consent=True)
    sign_in(client)
    return rp


@pytest.fixture
def read_only_database(sqlite_file: str) -> Iterator[None]:
    def refuse_writes(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA query_only = ON")

    event.listen(db.engine, "connect", refuse_writes)
    db.session.remove()
    db.engine.dispose()  # new connections get the pragma
    yield
    event.remove(db.engine, "connect", refuse_writes)
    db.engine.dispose()


def test_an_unexpected_failure_redirects_with_server_error(
    client: FlaskClient, signed_in_rp: Any, read_only_database: None
) -> None:
    response = authorize(client, signed_in_rp, Pkce())

    returned = redirect_params(response)
    assert returned["error"] == "server_error"
    assert returned["state"] == "state-123"
    assert "readonly" not in response.headers["Location"], "no internal detail leaks"


def test_a_locked_database_redirects_with_temporarily_unavailable(
    client: FlaskClient, signed_in_rp: Any, sqlite_file: str
) -> None:
    blocker = sqlite3.connect(sqlite_file, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # hold the write lock past our busy timeout
        response = authorize(client, signed_in_rp, Pkce())
    finally:
        blocker.rollback()
        blocker.close()

    assert redirect_params(response)["error"] == "temporarily_unavailable"
