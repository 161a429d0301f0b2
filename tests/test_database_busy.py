"""SQLite that cannot serve a request now (its write lock held, its file unreachable): 503 with
Retry-After in the surface's shape, one log line without a traceback, never a 500."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver import create_app
from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.sessions.cookies import COOKIE_NAME
from tests.support.logs import captured_log
from tests.support.oauth import (
    Pkce,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
)
from tests.support.settings import make_test_settings


@pytest.fixture
def sqlite_file(app: Flask) -> str:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("a held SQLite lock is what this test is about")
    database = db.engine.url.database
    assert database
    return database


def test_a_held_write_lock_answers_503_on_the_token_endpoint(
    client: FlaskClient, sqlite_file: str
) -> None:
    ensure_active_keys(now=datetime.now(UTC))
    make_user()
    rp = make_relying_party()
    sign_in(client)
    pkce = Pkce()
    tokens = exchange_code(client, rp, obtain_code(client, rp, pkce), pkce).json or {}
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    blocker = sqlite3.connect(sqlite_file, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # hold the write lock past our busy timeout
        with captured_log() as log:
            locked = token_request(client, rp, refresh)
    finally:
        blocker.rollback()
        blocker.close()

    assert locked.status_code == 503
    assert int(locked.headers["Retry-After"]) > 0
    assert locked.json is not None and locked.json["error"] == "temporarily_unavailable"
    [warning] = [r for r in log.records() if r["level"] == "WARNING"]
    assert "database locked" in warning["message"]
    assert "exception" not in warning
    # Nothing was used up: the refresh token still works.
    assert token_request(client, rp, refresh).status_code == 200


def test_an_unreachable_database_file_answers_a_page_with_the_request_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing-folder/authserver.sqlite3"
    gone = create_app(make_test_settings(tmp_path, database_url=url))
    browser = gone.test_client()
    browser.set_cookie(COOKIE_NAME, "a-session-token-to-look-up")

    with captured_log() as log:
        page = browser.get("/account")

    assert page.status_code == 503
    assert int(page.headers["Retry-After"]) > 0
    assert page.mimetype == "text/html"
    assert page.headers["X-Request-ID"] in page.text
    assert not [r for r in log.records() if "exception" in r or r["level"] == "ERROR"]
    with gone.app_context():
        db.engine.dispose()
