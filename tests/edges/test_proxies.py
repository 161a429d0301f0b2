"""X-Forwarded-* is believed from AUTHSERVER_TRUSTED_PROXIES only."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models.audit import AuditEvent
from tests.conftest import AppFactory
from tests.support.oauth import make_user, sign_in

FORGED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "forged.example",
}


def with_echo(app: Flask) -> Flask:
    """A test-only route that shows what the application believes about the request."""

    @app.get("/test-only/whoami")
    def whoami() -> dict[str, Any]:
        return {
            "remote_addr": request.remote_addr,
            "scheme": request.scheme,
            "host": request.host,
            "is_secure": request.is_secure,
        }

    return app


def whoami(app: Flask, peer: str, headers: dict[str, str]) -> dict[str, Any]:
    response = app.test_client().get(
        "/test-only/whoami", headers=headers, environ_base={"REMOTE_ADDR": peer}
    )
    assert response.json is not None
    return response.json


def test_by_default_nobody_is_trusted(make_app: AppFactory) -> None:
    app = with_echo(make_app())

    seen = whoami(app, "10.0.0.5", FORGED)

    assert seen == {
        "remote_addr": "10.0.0.5",
        "scheme": "http",
        "host": "localhost",
        "is_secure": False,
    }


def test_forged_headers_from_an_untrusted_peer_change_nothing(make_app: AppFactory) -> None:
    app = with_echo(make_app(trusted_proxies=("10.0.0.0/8",)))

    seen = whoami(app, "192.0.2.50", FORGED)

    assert seen["remote_addr"] == "192.0.2.50"
    assert seen["scheme"] == "http"
    assert seen["host"] == "localhost"


@pytest.mark.parametrize("peer", ["10.1.2.3", "::ffff:10.1.2.3"])
def test_a_trusted_proxy_sets_address_scheme_and_host(make_app: AppFactory, peer: str) -> None:
    app = with_echo(make_app(trusted_proxies=("10.0.0.0/8",)))

    seen = whoami(app, peer, FORGED)

    assert seen == {
        "remote_addr": "203.0.113.7",
        "scheme": "https",
        "host": "forged.example",
        "is_secure": True,
    }


def test_only_the_configured_number_of_hops_is_believed(make_app: AppFactory) -> None:
    app = with_echo(make_app(trusted_proxies=("10.0.0.1",)))

    # The client wrote the first address itself; the one proxy appended the real one.
    seen = whoami(app, "10.0.0.1", {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})

    assert seen["remote_addr"] == "203.0.113.7"


def test_two_hops(make_app: AppFactory) -> None:
    app = with_echo(make_app(trusted_proxies=("10.0.0.0/8",), trusted_proxy_hops=2))

    seen = whoami(app, "10.0.0.1", {"X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.0.0.2"})

    assert seen["remote_addr"] == "203.0.113.7"


def browser_via(app: Flask, peer: str, forwarded_for: str | None = None) -> FlaskClient:
    """A browser whose connections come from `peer`, with an X-Forwarded-For if given."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = peer
    if forwarded_for is not None:
        browser.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return browser


def test_audit_rows_record_the_real_client_address(app: Flask, make_app: AppFactory) -> None:
    proxied = make_app(trusted_proxies=("10.0.0.1",))
    make_user()

    sign_in(browser_via(proxied, "10.0.0.1", "203.0.113.7"))

    addresses = set(db.session.scalars(select(AuditEvent.ip)))
    assert addresses == {"203.0.113.7"}


def failed_sign_in(browser: FlaskClient, n: int) -> int:
    return sign_in(browser, f"user{n}@example.com", "wrong password").status_code


def test_rate_limits_count_the_real_client_behind_a_trusted_proxy(make_app: AppFactory) -> None:
    proxied = make_app(trusted_proxies=("10.0.0.1",), ratelimit_signin="2/minute")
    first = browser_via(proxied, "10.0.0.1", "203.0.113.7")
    second = browser_via(proxied, "10.0.0.1", "203.0.113.8")

    first_statuses = [failed_sign_in(first, n) for n in range(3)]
    second_status = failed_sign_in(second, 9)

    assert first_statuses == [401, 401, 429]
    assert second_status == 401, "another client behind the same proxy has its own budget"


def test_rotating_a_forged_address_does_not_escape_the_limit(make_app: AppFactory) -> None:
    app = make_app(trusted_proxies=("10.0.0.1",), ratelimit_signin="2/minute")

    statuses = [
        failed_sign_in(browser_via(app, "192.0.2.50", f"203.0.113.{n}"), n) for n in range(3)
    ]

    assert statuses == [401, 401, 429]
