"""Server-side browser sessions: creation, recognition, rotation, timeouts and revocation."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from authserver.extensions import db
from authserver.models import BrowserSessionRecord, User
from authserver.sessions import (
    ACR_MFA,
    ACR_PASSWORD,
    current_session,
    end_current_session,
    start_session,
)
from authserver.sessions.cookies import COOKIE_NAME
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.web import sign_in, sign_out

START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
IDLE_SECONDS = 600
ABSOLUTE_SECONDS = 3600


@pytest.fixture
def timed_app(app: Flask, make_app: AppFactory) -> Iterator[Flask]:
    """An app with short, round timeouts, used while the clock is frozen at START.

    It asks for ``app`` only for its clean database (PostgreSQL is emptied there).
    """
    app = make_app(session_idle_ttl=IDLE_SECONDS, session_absolute_ttl=ABSOLUTE_SECONDS)
    with time_machine.travel(START, tick=False), app.app_context():
        make_user()
        yield app


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None, "no session cookie"
    return cookie.value


def is_signed_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def only_record() -> BrowserSessionRecord:
    return db.session.scalars(select(BrowserSessionRecord)).one()


def cookie_header(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={token}"}


def test_start_session_describes_the_sign_in(app: Flask) -> None:
    user = make_user()

    with app.test_request_context("/login", method="POST"):
        session = start_session(user, amr=["pwd"], now=START)

    assert session.user_id == user.id
    assert session.user_subject == user.subject
    assert session.auth_time == START
    assert session.amr == ("pwd",)
    assert session.acr == ACR_PASSWORD
    assert len(session.sid) >= 22  # 128 random bits, base64url


@pytest.mark.parametrize("amr", [["pwd", "otp"], ["pwd", "otp", "mfa"], ["mfa"]])
def test_a_second_factor_gives_the_mfa_acr(app: Flask, amr: list[str]) -> None:
    with app.test_request_context("/login", method="POST"):
        session = start_session(make_user(), amr=amr, now=START)

    assert session.acr == ACR_MFA
    assert session.has_second_factor


@pytest.mark.parametrize("amr", ["pwd", []], ids=["a bare string", "empty"])
def test_start_session_needs_a_list_of_methods(app: Flask, amr: list[str] | str) -> None:
    user = make_user()

    with app.test_request_context("/login", method="POST"), pytest.raises(ValueError):
        start_session(user, amr=amr)


def test_only_a_hash_of_the_token_is_stored(client: FlaskClient) -> None:
    make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    token = session_cookie(client)

    record = only_record()
    assert len(token) >= 43  # 256 random bits, base64url
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (record.token_hash, record.public_id)
    assert record.ip == "127.0.0.1"


def test_the_cookie_names_the_session_until_it_ends(app: Flask, client: FlaskClient) -> None:
    make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    token = session_cookie(client)

    with app.test_request_context("/", headers=cookie_header(token)):
        live = current_session()
        assert live is not None
        assert live.sid == only_record().public_id
        assert end_current_session() == live
        assert current_session() is None
    with app.test_request_context("/", headers=cookie_header(token)):
        assert current_session() is None
    assert only_record().revoked_at is not None


@pytest.mark.parametrize("cookie", [None, "", "not-a-session-token"])
def test_no_or_unknown_cookie_is_no_session(app: Flask, cookie: str | None) -> None:
    headers = {} if cookie is None else cookie_header(cookie)

    with app.test_request_context("/", headers=headers):
        assert current_session() is None
        assert end_current_session() is None


def test_signing_in_again_rotates_the_session_id(client: FlaskClient) -> None:
    make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    first = session_cookie(client)

    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    second = session_cookie(client)

    assert second != first
    assert is_signed_in(client)
    client.set_cookie(COOKIE_NAME, first)
    assert not is_signed_in(client)


def test_a_planted_cookie_is_revoked_at_sign_in(client: FlaskClient) -> None:
    make_user("mallory@example.org", "attacker-chosen password")
    sign_in(client, "mallory@example.org", "attacker-chosen password")
    planted = session_cookie(client)

    # The victim signs in on a browser that carries the attacker's cookie (session fixation).
    make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    client.set_cookie(COOKIE_NAME, planted)
    assert not is_signed_in(client)


def test_signing_out_ends_the_session(client: FlaskClient) -> None:
    make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    token = session_cookie(client)

    response = sign_out(client)

    assert response.status_code == 303
    assert client.get_cookie(COOKIE_NAME) is None
    client.set_cookie(COOKIE_NAME, token)
    assert not is_signed_in(client)


def test_activity_is_recorded_at_most_once_a_minute(timed_app: Flask) -> None:
    client = timed_app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    with time_machine.travel(START + timedelta(seconds=30), tick=False):
        assert is_signed_in(client)
    assert only_record().last_seen_at == START

    later = START + timedelta(seconds=90)
    with time_machine.travel(later, tick=False):
        assert is_signed_in(client)
    db.session.expire_all()
    assert only_record().last_seen_at == later


def test_disabling_the_user_ends_the_session(client: FlaskClient) -> None:
    user = make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    user.is_disabled = True
    db.session.commit()

    assert not is_signed_in(client)


def test_sessions_older_than_tokens_valid_after_are_dead(client: FlaskClient) -> None:
    user = make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    # What "sign out everywhere" and a password reset do.
    user.tokens_valid_after = datetime.now(UTC) + timedelta(seconds=1)
    db.session.commit()

    assert not is_signed_in(client)


def test_deleting_a_user_deletes_their_sessions(client: FlaskClient) -> None:
    make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    db.session.execute(delete(User))
    db.session.commit()

    assert db.session.scalars(select(BrowserSessionRecord)).all() == []
