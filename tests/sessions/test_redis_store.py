"""What only the Redis store does: expiring keys, the per-user index, and failing closed."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask

from authserver.extensions import redis_client
from authserver.sessions import SessionStoreUnavailable
from authserver.sessions.cookies import COOKIE_NAME
from authserver.sessions.redis_store import RedisSessionStore
from authserver.sessions.service import hash_token, session_store
from authserver.sessions.store import StoredSession
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.smtp import free_port
from tests.support.web import csrf_token, sign_in

ABSOLUTE_SECONDS = 3600


@pytest.fixture
def redis_app(app: Flask, make_app: AppFactory, redis_url: str) -> Iterator[Flask]:
    """Sessions in the test Redis under a prefix of this test's own, deleted afterwards."""
    prefix = f"authserver-test-{secrets.token_hex(8)}:"
    built = make_app(redis_url=redis_url, redis_key_prefix=prefix, session_absolute_ttl=3600)
    with built.app_context():
        yield built
    cleaner = redis.Redis.from_url(redis_url)
    for key in cleaner.scan_iter(match=prefix + "*"):
        cleaner.delete(key)
    cleaner.close()


def raw_redis(app: Flask) -> redis.Redis:
    client = redis_client(app)
    assert client is not None
    return client


def our_keys(app: Flask) -> list[str]:
    prefix = app.extensions["authserver.settings"].redis_key_prefix
    return sorted(key.decode() for key in raw_redis(app).scan_iter(match=prefix + "*"))


def test_redis_is_the_store_when_configured(redis_app: Flask, app: Flask) -> None:
    assert isinstance(redis_app.extensions["authserver.session_store"], RedisSessionStore)
    assert not isinstance(app.extensions["authserver.session_store"], RedisSessionStore)


def test_keys_expire_with_the_session_and_hold_no_token(redis_app: Flask) -> None:
    user = make_user()
    client = redis_app.test_client()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None
    token = cookie.value

    prefix = redis_app.extensions["authserver.settings"].redis_key_prefix
    session_key = f"{prefix}session:s:{hash_token(token)}"
    index_key = f"{prefix}session:u:{user.id}"
    assert our_keys(redis_app) == sorted([session_key, index_key])
    for key in (session_key, index_key):
        assert ABSOLUTE_SECONDS - 5 < raw_redis(redis_app).ttl(key) <= ABSOLUTE_SECONDS
    stored = raw_redis(redis_app).hgetall(session_key)
    everything = b" ".join(
        [*stored.keys(), *stored.values(), *(k.encode() for k in our_keys(redis_app))]
    )
    assert token.encode() not in everything
    assert len(everything) < 600  # small: a dozen short fields


def test_touching_keeps_the_expiry(redis_app: Flask) -> None:
    user = make_user()
    token_hash = hash_token(secrets.token_urlsafe(32))
    now = datetime.now(UTC)
    session_store().add(token_hash, _session(user.id, now))
    key = next(key for key in our_keys(redis_app) if ":s:" in key)
    raw_redis(redis_app).pexpire(key, 50_000)

    session_store().touch(token_hash, seen_at=now + timedelta(minutes=1))
    session_store().revoke(token_hash, revoked_at=now + timedelta(minutes=2))

    assert 40 < raw_redis(redis_app).ttl(key) <= 50


def test_expired_sessions_leave_the_users_index(redis_app: Flask) -> None:
    user = make_user()
    hashes = [hash_token(secrets.token_urlsafe(32)) for _ in range(2)]
    now = datetime.now(UTC)
    for token_hash in hashes:
        session_store().add(token_hash, _session(user.id, now))
    prefix = redis_app.extensions["authserver.settings"].redis_key_prefix
    raw_redis(redis_app).delete(f"{prefix}session:s:{hashes[0]}")  # what expiry does

    listed = session_store().list_for_user(user.id, now=now)

    assert [entry.token_hash for entry in listed] == [hashes[1]]
    members = raw_redis(redis_app).smembers(f"{prefix}session:u:{user.id}")
    assert members == {hashes[1].encode()}


def test_an_unreadable_record_is_no_session(redis_app: Flask) -> None:
    prefix = redis_app.extensions["authserver.settings"].redis_key_prefix
    token_hash = hash_token(secrets.token_urlsafe(32))
    raw_redis(redis_app).hset(f"{prefix}session:s:{token_hash}", mapping={"user_id": "x"})

    assert session_store().find(token_hash) is None


def _session(user_id: int, now: datetime) -> StoredSession:
    return StoredSession(
        public_id=secrets.token_urlsafe(16),
        user_id=user_id,
        auth_time=now,
        amr=("pwd",),
        acr="urn:authserver:acr:pwd",
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=ABSOLUTE_SECONDS),
        revoked_at=None,
        ip=None,
        user_agent=None,
    )


# --- Redis unreachable: fail closed, never a 500 -------------------------------------------------


@pytest.fixture
def redis_down(app: Flask, make_app: AppFactory) -> Iterator[Flask]:
    """An app whose Redis refuses connections (nothing listens on the port)."""
    built = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with built.app_context():
        make_user()
        yield built


def test_every_store_operation_reports_unavailable(redis_down: Flask) -> None:
    store = session_store()
    now = datetime.now(UTC)
    calls = [
        lambda: store.add("h", _session(1, now)),
        lambda: store.find("h"),
        lambda: store.touch("h", seen_at=now),
        lambda: store.revoke("h", revoked_at=now),
        lambda: store.list_for_user(1, now=now),
        lambda: store.revoke_all_for_user(1, revoked_at=now),
    ]
    for call in calls:
        with pytest.raises(SessionStoreUnavailable, match="ConnectionError"):
            call()


def test_a_cookie_is_no_session_while_redis_is_down(redis_down: Flask) -> None:
    client = redis_down.test_client()
    client.set_cookie(COOKIE_NAME, secrets.token_urlsafe(32))

    for path in ("/", "/account"):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/login?next=")


def test_sign_in_is_refused_with_a_clear_page_while_redis_is_down(
    redis_down: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_down.test_client()

    response = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "Try again in a minute" in response.text
    assert "Traceback" not in response.text and "ConnectionError" not in response.text
    assert client.get_cookie(COOKIE_NAME) is None
    assert any("session store unavailable" in r.getMessage() for r in caplog.records)


def test_sign_out_says_it_could_not_finish_while_redis_is_down(redis_down: Flask) -> None:
    client = redis_down.test_client()
    page = client.get("/login")
    client.set_cookie(COOKIE_NAME, secrets.token_urlsafe(32))

    response = client.post("/logout", data={"csrf_token": csrf_token(page.text)})

    assert response.status_code == 503
    assert re.search(r"<h1>Try again in a minute</h1>", response.text)
