"""Redis is optional and never the only copy (DESIGN.md): with it stopped, people still sign in.

Each test starts a redis-server of its own (tests/support/redis_server.py), builds the app on
it and stops or restarts that server while browsers use the app through the test client. No
request may answer 5xx, whether Redis refuses connections or drops them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.keys.manager import ensure_active_keys
from authserver.sessions.cookies import COOKIE_NAME
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.mfa import answer_challenge, enrol, frozen_clock
from tests.support.oauth import Pkce, authorize, consent, make_relying_party, redirect_params
from tests.support.redis_server import RedisServer, blackholed_port, redis_server
from tests.support.web import csrf_token, sign_in, sign_out

# Well under the 1 s deadline of a Redis call: a request this fast did not wait on Redis.
NO_STALL_SECONDS = 0.9


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def redis_app(app: Flask, make_app: AppFactory, own_redis: RedisServer) -> Iterator[Flask]:
    """The app on our own Redis (`app` empties the database first)."""
    built = make_app(redis_url=own_redis.url)
    with built.app_context():
        yield built


def ok(response: TestResponse, status: int = 200) -> TestResponse:
    assert response.status_code == status, response.text[:500]
    return response


def is_signed_in(browser: FlaskClient) -> bool:
    response = browser.get("/account")
    assert response.status_code < 500
    return response.status_code == 200


def test_sign_in_and_the_account_page_work_while_redis_is_stopped(
    redis_app: Flask, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    make_user()
    own_redis.stop()
    browser = redis_app.test_client()

    with caplog.at_level(logging.INFO):
        assert ok(sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD), 303)
        account = ok(browser.get("/account"))
        assert DEFAULT_EMAIL in account.text
        revoke_all = browser.post(
            "/account/sessions/sign-out-everywhere", data={"csrf_token": csrf_token(account.text)}
        )
        assert revoke_all.status_code == 303
        assert not is_signed_in(browser)
        assert ok(sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD), 303)
        assert ok(sign_out(browser), 303)
        assert not is_signed_in(browser)

    assert not [record for record in caplog.records if record.exc_info]


def test_mfa_and_consent_work_while_redis_is_stopped(
    redis_app: Flask, own_redis: RedisServer
) -> None:
    with frozen_clock() as clock:
        ensure_active_keys(now=clock.now())
        make_user()
        rp = make_relying_party()
        setup = redis_app.test_client()
        sign_in(setup, DEFAULT_EMAIL, DEFAULT_PASSWORD)
        authenticator = enrol(setup).authenticator
        clock.next_step()
        own_redis.stop()
        browser = redis_app.test_client()

        password = ok(sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD), 303)
        assert password.headers["Location"].startswith("/mfa")
        assert ok(answer_challenge(browser, authenticator.code()), 303)
        page = ok(authorize(browser, rp, Pkce()))
        code = redirect_params(consent(browser, page)).get("code")

    assert code
    assert ok(browser.get("/account")).status_code == 200


def test_a_session_outlives_a_redis_restart(redis_app: Flask, own_redis: RedisServer) -> None:
    make_user()
    browser = redis_app.test_client()
    ok(sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD), 303)

    own_redis.stop()
    assert is_signed_in(browser)
    own_redis.start()  # empty: whatever Redis held is gone

    assert is_signed_in(browser)
    assert own_redis.client().dbsize() == 0  # the session was never kept there


def test_a_revocation_on_one_instance_holds_on_every_other_at_once(
    redis_app: Flask, make_app: AppFactory, own_redis: RedisServer
) -> None:
    other = make_app(redis_url=own_redis.url)
    make_user()
    here = redis_app.test_client()
    ok(sign_in(here, DEFAULT_EMAIL, DEFAULT_PASSWORD), 303)
    there = other.test_client()
    there.set_cookie(COOKIE_NAME, here.get_cookie(COOKIE_NAME).value)  # type: ignore[union-attr]
    assert is_signed_in(there)

    ok(sign_out(here), 303)

    assert not is_signed_in(there)


def test_a_redis_that_drops_packets_does_not_stall_sign_in(
    app: Flask, make_app: AppFactory
) -> None:
    with blackholed_port() as port:
        blackholed = make_app(redis_url=f"redis://127.0.0.1:{port}/0")
        with blackholed.app_context():
            make_user()
        browser = blackholed.test_client()
        # The first request that asks Redis waits for its deadline, then counts in memory; the
        # first sign-in also pays once for what any first sign-in does (device, connections).
        ok(sign_in(browser, DEFAULT_EMAIL, "not the password"), 401)
        ok(sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD), 303)

        durations = []
        for _ in range(3):
            started = time.monotonic()
            ok(sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD), 303)
            ok(browser.get("/account"))
            durations.append(time.monotonic() - started)

    assert max(durations) < NO_STALL_SECONDS, durations
