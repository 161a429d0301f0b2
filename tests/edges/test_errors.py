"""Every failure has the endpoint's shape; no stack trace or exception text reaches a client."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from tests.conftest import AppFactory
from tests.edges.conftest import PRODUCTION_ISSUER

SECRET_DETAIL = "db password is hunter2"
HTTPS = "https://localhost"


@pytest.fixture
def crashing(make_app: AppFactory) -> Flask:
    """A production app with test-only routes that fail inside, one page and one protocol path."""
    app = make_app(env="production", issuer=PRODUCTION_ISSUER)

    def crash() -> str:
        raise RuntimeError(SECRET_DETAIL)

    app.add_url_rule("/test-only/crash", "page_crash", crash)
    app.add_url_rule("/oauth/test-only-crash", "protocol_crash", crash)
    return app


def assert_no_internals(text: str) -> None:
    for leak in (SECRET_DETAIL, "Traceback", "RuntimeError", 'File "', "site-packages"):
        assert leak not in text


def test_a_page_crash_shows_the_error_page_with_the_request_id(
    crashing: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    response = crashing.test_client().get("/test-only/crash", base_url=HTTPS)

    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "<h1>Internal Server Error</h1>" in response.text
    request_id = response.headers["X-Request-ID"]
    assert f"<code>{request_id}</code>" in response.text
    assert_no_internals(response.text)
    (logged,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "GET /test-only/crash" in logged.getMessage()
    assert logged.exc_info is not None and SECRET_DETAIL in str(logged.exc_info[1])


def test_a_protocol_crash_is_an_rfc_shaped_server_error(
    crashing: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    response = crashing.test_client().get("/oauth/test-only-crash", base_url=HTTPS)

    assert response.status_code == 500
    assert response.json == {"error": "server_error", "error_description": "Internal Server Error"}
    assert response.headers["Cache-Control"] == "no-store"
    assert_no_internals(response.text)
    assert any(r.levelno >= logging.ERROR for r in caplog.records)


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/oauth/no-such-endpoint", 404, "not_found"),
        ("GET", "/.well-known/no-such-document", 404, "not_found"),
        ("GET", "/oauth/token", 405, "invalid_request"),
        ("PUT", "/oauth/introspect", 405, "invalid_request"),
        ("DELETE", "/oauth/revoke", 405, "invalid_request"),
        ("PATCH", "/oauth/userinfo", 405, "invalid_request"),
        ("POST", "/.well-known/jwks.json", 405, "invalid_request"),
    ],
)
def test_protocol_failures_are_json(
    crashing: Flask, method: str, path: str, status: int, error: str
) -> None:
    response = crashing.test_client().open(
        path, method=method, base_url=HTTPS, headers={"Accept": "text/html"}
    )

    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json is not None and response.json["error"] == error
    assert set(response.json) == {"error", "error_description"}


def test_405_says_which_methods_are_allowed(crashing: Flask) -> None:
    response = crashing.test_client().get("/oauth/token", base_url=HTTPS)

    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no-such-page", 404),
        ("PUT", "/login", 405),
        ("DELETE", "/oauth/authorize", 405),
        ("PUT", "/oauth/logout", 405),
    ],
)
def test_page_failures_are_the_html_error_page(
    crashing: Flask, method: str, path: str, status: int
) -> None:
    response = crashing.test_client().open(path, method=method, base_url=HTTPS)

    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert response.headers["X-Request-ID"] in response.text
