"""A PostgreSQL database of the benchmark's own on the configured server, dropped afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ENV = "AUTHSERVER_TEST_DATABASE_URL"
REDIS_ENV = "AUTHSERVER_TEST_REDIS_URL"


def postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def redis_url() -> str | None:
    return os.environ.get(REDIS_ENV) or None


@contextmanager
def fresh_postgres_database(prefix: str = "authserver_bench") -> Iterator[str]:
    server_url = postgres_server_url()
    if server_url is None:
        raise RuntimeError(f"{POSTGRES_ENV} is not set")
    url = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
