"""Real databases for tests: SQLite files and throw-away PostgreSQL databases."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

POSTGRES_ENV = "AUTHSERVER_TEST_DATABASE_URL"
REDIS_ENV = "AUTHSERVER_TEST_REDIS_URL"

# The parameter values that put a test on a service: the backend `postgresql` (backends()) and
# the store or limiter storage `redis`. Every other value (sqlite, database, memory) is local.
SERVICE_PARAMS = frozenset({"postgresql", "redis"})


def postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def backends() -> list[str]:
    return ["sqlite"] + (["postgresql"] if postgres_server_url() else [])


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a database of our own on the configured server, yield its URL, then drop it."""
    server_url = postgres_server_url()
    assert server_url, f"{POSTGRES_ENV} is not set"
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"authserver_test_{secrets.token_hex(6)}"
    # No pool: a connection kept from the CREATE would be dead at the DROP if the server was
    # restarted meanwhile (the fault suite does that).
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        # Set but unreachable is a failure, never a skip: CI must not go green without it.
        pytest.fail(f"{POSTGRES_ENV} is set but PostgreSQL is unreachable: {exc}", pytrace=False)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_postgres_database_or_skip(request: pytest.FixtureRequest) -> Iterator[str]:
    """:func:`fresh_postgres_database` for a test that needs PostgreSQL whatever the backend:
    skipped, as every run without the services is, while the variable is unset."""
    if not postgres_server_url():
        skip_for_want_of(request, f"{POSTGRES_ENV} is not set")
    with fresh_postgres_database() as url:
        yield url


def uses_service(item: pytest.Item) -> bool:
    """Whether this test touches PostgreSQL or Redis when their variables are set.

    That is: one of its parameters is a service backend, it asks for `redis_url`, or it is
    marked `services` (a test that reads the variables itself). A test that is none of these
    runs exactly the same with or without the services, so the SQLite pass covers it.
    """
    if item.get_closest_marker("services") is not None:
        return True
    if "redis_url" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    return any(isinstance(value, str) and value in SERVICE_PARAMS for value in params)


def skip_for_want_of(request: pytest.FixtureRequest, reason: str) -> NoReturn:
    """Skip a test whose service variable is unset, as every run without the services does.

    CI's services pass runs only what `uses_service` selects; a test skipped here that it would
    leave out would never run anywhere, so that is a failure instead (mark it `services`).
    """
    if not uses_service(request.node):
        pytest.fail(
            f"{request.node.nodeid} skips ({reason}) but --services-only would leave it out:"
            " mark it @pytest.mark.services",
            pytrace=False,
        )
    pytest.skip(reason)
