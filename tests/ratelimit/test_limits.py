"""Rate limits, one contract for each storage: this process's memory and Redis.

Browsers are test clients given an address of their own (REMOTE_ADDR). The Redis runs skip
without AUTHSERVER_TEST_REDIS_URL; they use a key prefix of their own and delete their keys.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import time_machine
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from werkzeug.test import TestResponse

from authserver.accounts.lifecycle import find_user_by_email
from authserver.keys.manager import ensure_active_keys
from authserver.ratelimit.limits import (
    account_key,
    form_email,
    limit_mfa,
    limit_reset,
    rate_limits,
)
from authserver.web.login import GENERIC_LOGIN_FAILURE
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.observability.test_health import closed_port
from tests.support.oauth import RelyingParty, make_relying_party, token_request
from tests.support.web import csrf_token

WRONG = "not the right password"
START = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


@contextmanager
def redis_prefix(url: str) -> Iterator[str]:
    """A key prefix for this test alone; its keys are deleted afterwards."""
    prefix = f"authserver-test-{secrets.token_hex(8)}"
    yield prefix
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Settings for the storage under test."""
    if request.param == "memory":
        yield {}
        return
    url: str = request.getfixturevalue("redis_url")
    with redis_prefix(url) as prefix:
        yield {"redis_url": url, "ratelimit_key_prefix": prefix}


@pytest.fixture
def shared_redis(redis_url: str) -> Iterator[dict[str, str]]:
    """Settings for instances that share the test Redis (skipped without one)."""
    with redis_prefix(redis_url) as prefix:
        yield {"redis_url": redis_url, "ratelimit_key_prefix": prefix}


@pytest.fixture
def limited(app: Flask, make_app: AppFactory, storage: dict[str, str]) -> AppFactory:
    """Apps on the storage under test; `app` only empties the database."""

    def build(**changes: Any) -> Flask:
        return make_app(**storage, **changes)

    return build


def browser(app: Flask, ip: str = "198.51.100.1") -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def attempt(client: FlaskClient, email: str = DEFAULT_EMAIL, password: str = WRONG) -> TestResponse:
    token = csrf_token(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password}
    )
    response.close()
    return response


def without_varying_values(html: str) -> str:
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", html)
    return re.sub(r'(name="email"[^>]*value=")[^"]*', r"\1", html)


def waits_in(html: str) -> int:
    """The wait the sign-in page tells a person, in seconds."""
    match = re.search(r"Please wait (\d+) (second|minute)s? and try again\.", html)
    assert match, html
    return int(match.group(1)) * (60 if match.group(2) == "minute" else 1)


def retry_after(response: TestResponse) -> int:
    value = int(response.headers["Retry-After"])
    assert 1 <= value <= 60
    return value


# --- sign-in -------------------------------------------------------------------------------------


def test_sign_in_is_limited_per_address(limited: AppFactory) -> None:
    app = limited(ratelimit_signin="3/minute")
    client = browser(app)

    answers = [attempt(client, f"person{n}@example.org") for n in range(4)]

    assert [answer.status_code for answer in answers] == [401, 401, 401, 429]
    wait = retry_after(answers[-1])
    assert answers[-1].headers["Cache-Control"] == "no-store"
    # The page says when to try again, from the same Retry-After the limiter computed.
    told = waits_in(answers[-1].text)
    assert told == wait if wait < 60 else told == 60 * -(-wait // 60)  # minutes, rounded up
    assert str(GENERIC_LOGIN_FAILURE) in answers[0].text
    assert attempt(browser(app, "198.51.100.2"), "other@example.org").status_code == 401


def test_sign_in_is_limited_per_account_whether_or_not_it_exists(limited: AppFactory) -> None:
    app = limited(ratelimit_signin="3/minute")
    with app.app_context():
        make_user()

    limited_pages = []
    for email in (DEFAULT_EMAIL, "nobody@example.org"):
        answers = [attempt(browser(app, f"203.0.113.{n}"), email) for n in range(4)]
        assert [answer.status_code for answer in answers] == [401, 401, 401, 429], email
        limited_pages.append(answers[-1])

    # The limited page for an account and for an address with none differ only in the wait.
    known, unknown = (re.sub(r"wait \d+ \w+", "wait", page.text) for page in limited_pages)
    assert without_varying_values(known) == without_varying_values(unknown)

    assert attempt(browser(app, "203.0.113.99"), "someone.else@example.org").status_code == 401


def test_the_account_limit_ignores_case_and_spaces(limited: AppFactory) -> None:
    app = limited(ratelimit_signin="2/minute")

    attempt(browser(app, "203.0.113.1"), "alice@example.org")
    attempt(browser(app, "203.0.113.2"), " ALICE@example.org ")

    assert attempt(browser(app, "203.0.113.3"), "Alice@Example.org").status_code == 429


def test_a_recognised_browser_is_not_held_back_by_the_account_limit(limited: AppFactory) -> None:
    app = limited(ratelimit_signin="3/minute")
    with app.app_context():
        make_user()
    owner = browser(app, "192.0.2.10")
    assert attempt(owner, password=DEFAULT_PASSWORD).status_code == 303  # now recognised

    for n in range(4):  # an attacker elsewhere uses up the account's budget
        attempt(browser(app, f"203.0.113.{n}"))

    assert attempt(browser(app, "203.0.113.50")).status_code == 429
    assert attempt(owner, password=DEFAULT_PASSWORD).status_code == 303


def test_showing_the_sign_in_page_is_not_counted(limited: AppFactory) -> None:
    app = limited(ratelimit_signin="1/minute")
    client = browser(app)

    for _ in range(5):
        assert client.get("/login").status_code == 200

    assert attempt(client).status_code == 401


def test_the_window_moves_on(limited: AppFactory) -> None:
    app = limited(ratelimit_signin="2/minute")
    client = browser(app)
    with time_machine.travel(START, tick=False) as clock:
        attempt(client, "a@example.org")
        clock.move_to(START + timedelta(seconds=20))
        attempt(client, "b@example.org")
        refused = attempt(client, "c@example.org")
        assert refused.status_code == 429
        assert retry_after(refused) == 40  # when the first attempt leaves the window

        clock.move_to(START + timedelta(seconds=61))
        assert attempt(client, "c@example.org").status_code == 401
        assert attempt(client, "d@example.org").status_code == 429


def test_disabled_limits_count_nothing(limited: AppFactory) -> None:
    app = limited(ratelimit_enabled=False, ratelimit_signin="1/minute")
    client = browser(app)

    assert [attempt(client).status_code for _ in range(4)] == [401] * 4


def test_rate_limited_attempts_never_reach_the_lockout(limited: AppFactory) -> None:
    app = limited(ratelimit_signin="2/minute")
    with app.app_context():
        make_user()
    client = browser(app)

    statuses = [attempt(client).status_code for _ in range(6)]

    assert statuses == [401, 401, 429, 429, 429, 429]
    with app.app_context():
        user = find_user_by_email(DEFAULT_EMAIL)
        assert user is not None
        assert (user.failed_logins, user.locked_until) == (2, None)


# --- the token endpoint --------------------------------------------------------------------------


def service_client() -> RelyingParty:
    ensure_active_keys(now=datetime.now(UTC))
    return make_relying_party(grant_types=("client_credentials",), redirect_uris=(), scope="api")


def test_the_token_endpoint_is_limited_per_client(limited: AppFactory) -> None:
    app = limited(ratelimit_token="2/minute")
    with app.app_context():
        rp, other = service_client(), service_client()
    grant = {"grant_type": "client_credentials", "scope": "api"}

    answers = [token_request(browser(app, f"192.0.2.{n}"), rp, grant) for n in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[-1]
    assert refused.json == {
        "error": "temporarily_unavailable",
        "error_description": "Too many requests; try again after Retry-After seconds.",
    }
    assert refused.headers["Cache-Control"] == "no-store"
    retry_after(refused)
    assert token_request(browser(app), other, grant).status_code == 200


def test_a_client_posting_its_secret_is_counted_as_itself(limited: AppFactory) -> None:
    app = limited(ratelimit_token="2/minute")
    with app.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        rp = make_relying_party(
            grant_types=("client_credentials",),
            redirect_uris=(),
            scope="api",
            token_endpoint_auth_method="client_secret_post",
        )
    grant = {"grant_type": "client_credentials", "scope": "api"}

    statuses = [
        token_request(browser(app, f"192.0.2.{n}"), rp, grant).status_code for n in range(3)
    ]

    assert statuses == [200, 200, 429]


def test_an_oversized_client_id_is_refused_not_stored(limited: AppFactory) -> None:
    app = limited()

    response = browser(app).post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "c" * 5000, "client_secret": "s"},
    )

    assert response.status_code in (400, 401)
    assert "error" in response.json


def test_quoting_a_clients_id_does_not_use_up_its_budget(limited: AppFactory) -> None:
    app = limited(ratelimit_token="2/minute")
    with app.app_context():
        rp = service_client()
        impostor = RelyingParty(rp.client, "a guessed secret")
    grant = {"grant_type": "client_credentials", "scope": "api"}
    attacker = browser(app, "203.0.113.66")

    statuses = [token_request(attacker, impostor, grant).status_code for _ in range(4)]

    assert statuses == [401, 401, 429, 429]  # failed logins count against the address
    assert token_request(browser(app), rp, grant).status_code == 200


def test_a_public_client_is_counted_per_address(limited: AppFactory) -> None:
    app = limited(ratelimit_token="2/minute")
    with app.app_context():
        ensure_active_keys(now=datetime.now(UTC))
        spa = make_relying_party(token_endpoint_auth_method="none")
    bogus = {"grant_type": "authorization_code", "code": "no such code", "code_verifier": "x" * 43}
    first = browser(app, "192.0.2.1")

    statuses = [token_request(first, spa, bogus).status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    assert token_request(browser(app, "192.0.2.2"), spa, bogus).status_code == 400


# --- the helpers other endpoints use (MFA, password reset) -------------------------------------


def helper_app(limited: AppFactory, **settings: str) -> Flask:
    app = limited(**settings)
    bp = Blueprint("limited_pages", __name__)

    @bp.route("/second-factor", methods=["GET", "POST"])
    @limit_mfa(account=lambda: form_email() and f"subject-of:{form_email()}")
    def second_factor() -> ResponseReturnValue:
        return "checked"

    @bp.post("/forgot")
    @limit_reset()
    def forgot() -> ResponseReturnValue:
        return "sent"

    @bp.post("/reset-link")
    @limit_reset(account=lambda: None)
    def reset_link() -> ResponseReturnValue:
        return "reset"

    app.register_blueprint(bp)
    app.config["WTF_CSRF_ENABLED"] = False  # these stand-in pages have no forms
    return app


def test_limit_mfa_counts_per_address_and_per_account(limited: AppFactory) -> None:
    app = helper_app(limited, ratelimit_mfa="2/minute")
    form = {"email": DEFAULT_EMAIL}

    per_account = [
        browser(app, f"203.0.113.{n}").post("/second-factor", data=form) for n in range(3)
    ]
    client = browser(app, "192.0.2.9")
    per_address = [client.post("/second-factor", data={"email": f"{n}@x.org"}) for n in range(3)]

    assert [r.status_code for r in per_account] == [200, 200, 429]
    assert [r.status_code for r in per_address] == [200, 200, 429]
    assert "Too many requests" in per_address[-1].text
    retry_after(per_address[-1])
    assert all(client.get("/second-factor").status_code == 200 for _ in range(3))


def test_limit_reset_shares_one_budget_across_the_reset_pages(limited: AppFactory) -> None:
    app = helper_app(limited, ratelimit_reset="3/minute")
    client = browser(app)

    statuses = [
        client.post("/forgot", data={"email": DEFAULT_EMAIL}).status_code,
        client.post("/reset-link").status_code,
        client.post("/forgot", data={"email": "b@example.org"}).status_code,
        client.post("/reset-link").status_code,
    ]

    assert statuses == [200, 200, 200, 429]


TOO_MANY_JSON = {
    "error": "temporarily_unavailable",
    "error_description": "Too many requests; try again after Retry-After seconds.",
}


@pytest.mark.parametrize(
    ("path", "accept", "expected_first", "json_body"),
    [
        ("/forgot", "text/html", 200, None),  # a page for people
        ("/forgot", "application/json", 200, TOO_MANY_JSON),  # a program posting a page's form
        # A protocol endpoint: always JSON. An empty report is refused (400) but still counted.
        ("/csp-report", "text/html", 400, TOO_MANY_JSON),
    ],
)
def test_a_refusal_has_its_surface_shape(
    limited: AppFactory, path: str, accept: str, expected_first: int, json_body: object
) -> None:
    app = helper_app(limited, ratelimit_reset="1/minute", ratelimit_csp_report="1/minute")
    client = browser(app)
    send = {"data": "{}", "content_type": "application/csp-report", "headers": {"Accept": accept}}

    first, refused = client.post(path, **send), client.post(path, **send)

    assert (first.status_code, refused.status_code) == (expected_first, 429)
    assert refused.headers["Cache-Control"] == "no-store"
    retry_after(refused)
    if json_body is None:
        assert refused.mimetype == "text/html"
        assert "<h1>Too many requests</h1>" in refused.text
    else:
        assert refused.json == json_body


def test_account_keys_do_not_show_the_address(limited: AppFactory) -> None:
    app = limited()
    with app.test_request_context():
        key = account_key(DEFAULT_EMAIL)

    assert DEFAULT_EMAIL not in key and "alice" not in key
    assert len(key) == 32


def test_redis_holds_prefixed_keys_without_addresses(
    app: Flask, make_app: AppFactory, shared_redis: dict[str, str]
) -> None:
    limited_app = make_app(**shared_redis, ratelimit_signin="5/minute")

    attempt(browser(limited_app), DEFAULT_EMAIL)

    client = redis.Redis.from_url(shared_redis["redis_url"])
    try:
        prefix = shared_redis["ratelimit_key_prefix"]
        keys = [key.decode() for key in client.scan_iter(f"{prefix}:*")]
    finally:
        client.close()
    assert len(keys) == 2  # one per IP, one per account
    assert not any("alice" in key for key in keys)


def test_instances_sharing_redis_share_the_counts(
    app: Flask, make_app: AppFactory, shared_redis: dict[str, str]
) -> None:
    first = make_app(**shared_redis, ratelimit_signin="2/minute")
    second = make_app(**shared_redis, ratelimit_signin="2/minute")

    attempt(browser(first))
    attempt(browser(second))

    assert attempt(browser(first)).status_code == 429


# --- when Redis goes away ------------------------------------------------------------------------


def test_without_redis_limits_fall_back_to_memory_and_lockout_still_works(
    app: Flask, make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    broken = make_app(redis_url=f"redis://127.0.0.1:{closed_port()}/0", ratelimit_signin="6/minute")
    with broken.app_context():
        make_user()
    client = browser(broken)

    with caplog.at_level(logging.WARNING):
        statuses = [attempt(client).status_code for _ in range(5)]
        locked = attempt(client, password=DEFAULT_PASSWORD)
        limited_now = attempt(client)

    assert statuses == [401] * 5
    assert locked.status_code == 401  # the lockout lives in the database: still there
    assert limited_now.status_code == 429  # and the limit is still counted, in memory
    limits = rate_limits(broken)
    assert limits.is_degraded
    assert limits.storage_fallbacks == 1
    assert "Redis unreachable (ConnectionError)" in caplog.text
