"""Malformed input gets a 4xx in its surface's shape, never a 500 (issue 10, section 2b).

Each answer carries the usual security headers and the request id, and the request leaves one
log line (the request's own) with no traceback. The kinds here are the ones a fuzzer found
answering 500; tests/fuzz/test_fuzz.py keeps looking for more, and tests/e2e/test_malformed_live.py
covers what only a real server sees (chunked bodies, a Host gunicorn passes on, request lines).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import InternalServerError
from werkzeug.test import EnvironBuilder, TestResponse, run_wsgi_app
from werkzeug.wrappers import Request

from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.logs import CapturedLog, captured_log
from tests.support.mfa import enrol
from tests.support.web import sign_in

REQUEST_LOGGER = "authserver.request"
LINK_TOKEN = "Q" * 43  # the shape of an emailed link's token; no such link exists
MFA_EMAIL = "mfa-user@example.org"


@pytest.fixture
def logging_app(app: Flask, make_app: AppFactory) -> Flask:
    """`app` on the same database and keys, logging at INFO so the request line is written."""
    keys = app.extensions["authserver.settings"].encryption_keys
    return make_app(log_level="INFO", encryption_keys=keys)


@pytest.fixture
def log() -> Iterator[CapturedLog]:
    with captured_log() as captured:
        yield captured


def assert_answered_cleanly(response: TestResponse, log: CapturedLog, *, json_body: bool) -> None:
    """4xx in the surface's shape, security headers and request id, one clean log line."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    request_id = response.headers["X-Request-ID"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in response.headers
    if json_body:
        assert response.mimetype == "application/json"
        body = response.get_json()
        assert body["error"] == "invalid_request", body
        assert isinstance(body.get("error_description"), str)
    else:
        assert response.mimetype == "text/html"
        assert f"<code>{request_id}</code>" in response.text
    records = log.records()
    assert not [r for r in records if "exception" in r or r["level"] in ("ERROR", "CRITICAL")]
    [line] = [r for r in records if r["logger"] == REQUEST_LOGGER]
    assert line["status"] == response.status_code
    assert line["request_id"] == request_id


# --- a Host Authlib does not count as local, on plain http ---------------------------------------


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
def test_a_non_loopback_host_on_plain_http_is_an_invalid_request(
    logging_app: Flask, log: CapturedLog, path: str
) -> None:
    response = logging_app.test_client().post(
        path, base_url="http://id.example.org", data={"token": "abc", "grant_type": "password"}
    )

    assert response.status_code == 400
    assert_answered_cleanly(response, log, json_body=True)


# --- a Host header Werkzeug cannot encode --------------------------------------------------------

UNUSABLE_HOSTS = [
    "a" * 64 + ".example.org",  # a label longer than 63 characters (RFC 1035 §2.3.4)
    "id..example.org",  # an empty label
    "x" * 300,
    "xn--.example.org",  # a punycode label that decodes to nothing
    "xn--zz-.example",
]


def open_without_client(app: Flask, method: str, path: str, *, host: str) -> TestResponse:
    """The request as a server hands it over. (The test client builds the request's URL for
    itself, decoding the Host as IDNA, and fails before the app is called.)"""
    builder = EnvironBuilder(path, method=method, headers={"Host": host})
    environ = builder.get_environ()
    builder.close()
    chunks, status, headers = run_wsgi_app(app, environ, buffered=True)
    return TestResponse(chunks, status, headers, Request(environ))


@pytest.mark.parametrize("host", UNUSABLE_HOSTS)
@pytest.mark.parametrize(
    ("method", "path", "json_body"),
    [
        ("GET", "/login", False),
        ("GET", "/no-such-page", False),
        ("POST", "/oauth/token", True),
        ("GET", "/.well-known/openid-configuration", True),
    ],
)
def test_a_host_that_cannot_be_encoded_is_a_bad_request(
    logging_app: Flask, log: CapturedLog, host: str, method: str, path: str, json_body: bool
) -> None:
    response = open_without_client(logging_app, method, path, host=host)

    assert response.status_code == 400
    assert_answered_cleanly(response, log, json_body=json_body)


# --- a repeated parameter whose name cannot go into an error description -------------------------

ODD_NAMES = ['say"hi', "back\\slash", "bell\x07", "caf\u00e9", "\u2028"]


@pytest.mark.parametrize("name", ODD_NAMES)
@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
def test_a_repeated_parameter_with_an_odd_name_is_an_invalid_request(
    logging_app: Flask, log: CapturedLog, path: str, name: str
) -> None:
    body = f"{quote(name)}=1&{quote(name)}=2&grant_type=client_credentials&token=abc"

    response = logging_app.test_client().post(
        path, data=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert_answered_cleanly(response, log, json_body=True)
    assert response.json["error_description"] == "A parameter is repeated."


def test_a_repeated_parameter_with_a_plain_name_is_still_named(logging_app: Flask) -> None:
    body = "grant_type=client_credentials&scope=a&scope=b"

    response = logging_app.test_client().post(
        "/oauth/token", data=body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json["error_description"] == "Repeated parameter 'scope'."


# --- JSON where a page expects a form ------------------------------------------------------------

JSON_BODIES = {
    "a list": [1, 2],
    "a string": "email",
    "a number": 7,
    "an object of numbers": {"email": 5, "password": 5, "code": 5, "csrf_token": 5},
    "an object of lists": {"email": [[1]], "password": {"a": 1}},
}


@pytest.fixture
def browsers(logging_app: Flask) -> dict[str, FlaskClient]:
    """A browser signed in (the account pages) and one half-way through sign-in (/mfa)."""
    with logging_app.app_context():
        make_user()
        make_user(MFA_EMAIL)
    signed_in = logging_app.test_client()
    assert sign_in(signed_in, DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code == 303
    enrolling = logging_app.test_client()
    assert sign_in(enrolling, MFA_EMAIL, DEFAULT_PASSWORD).status_code == 303
    enrol(enrolling)
    challenged = logging_app.test_client()
    assert sign_in(challenged, MFA_EMAIL, DEFAULT_PASSWORD).headers["Location"].startswith("/mfa")
    return {"anonymous": logging_app.test_client(), "signed in": signed_in, "mfa": challenged}


@pytest.mark.parametrize("body", JSON_BODIES.values(), ids=JSON_BODIES.keys())
@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("anonymous", "/login"),
        ("anonymous", "/reset"),
        ("anonymous", f"/reset/{LINK_TOKEN}"),
        ("anonymous", f"/verify-email/{LINK_TOKEN}"),
        ("anonymous", "/unlock"),
        ("mfa", "/mfa"),
        ("signed in", "/account/mfa"),
        ("signed in", "/account/password"),
    ],
)
def test_a_json_body_on_a_page_is_refused_with_the_error_page(
    browsers: dict[str, FlaskClient], log: CapturedLog, who: str, path: str, body: object
) -> None:
    response = browsers[who].post(path, data=json.dumps(body), content_type="application/json")

    assert response.status_code == 415
    assert_answered_cleanly(response, log, json_body=False)


# A file part, and no closing boundary.
TRUNCATED_MULTIPART = (
    b'--b0undary\r\nContent-Disposition: form-data; name="email"; filename="a.txt"\r\n\r\nhi\r\n'
)


@pytest.mark.parametrize(
    ("path", "json_body"), [("/login", False), ("/reset", False), ("/oauth/token", True)]
)
def test_a_multipart_body_is_refused_everywhere(
    logging_app: Flask, log: CapturedLog, path: str, json_body: bool
) -> None:
    response = logging_app.test_client().post(
        path, data=TRUNCATED_MULTIPART, content_type="multipart/form-data; boundary=b0undary"
    )

    assert response.status_code == 415
    assert_answered_cleanly(response, log, json_body=json_body)


# --- deeply nested JSON at the CSP report endpoint -----------------------------------------------


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_json_is_not_a_report(
    logging_app: Flask, log: CapturedLog, opening: str
) -> None:
    closing = "]" if opening == "[" else "}"
    body = opening * 2500 + "1" + closing * 2500  # under the 16 KB limit

    response = logging_app.test_client().post(
        "/csp-report", data=body, content_type="application/csp-report"
    )

    assert response.status_code == 400
    assert_answered_cleanly(response, log, json_body=True)


# --- the last resort: an error handler that fails itself -----------------------------------------


class FailureForTests(Exception):
    pass


@pytest.fixture
def handler_fails(make_app: AppFactory) -> Flask:
    """An app whose page raises, and whose error page then fails as well."""
    app = make_app(log_level="INFO")

    def crash() -> str:
        raise FailureForTests("the page failed")

    def failing_handler(error: Exception) -> str:
        raise FailureForTests("the error page failed too")

    app.add_url_rule("/test-only/crash", "page_crash", crash)
    app.add_url_rule("/oauth/test-only-crash", "protocol_crash", crash)
    # Both the handler of the page's failure and Flask's fallback to the 500 handler fail.
    app.register_error_handler(FailureForTests, failing_handler)
    app.register_error_handler(InternalServerError, failing_handler)
    return app


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/test-only/crash", "text/html"), ("/oauth/test-only-crash", "application/json")],
)
def test_when_the_error_page_itself_fails_a_minimal_answer_still_has_our_headers(
    handler_fails: Flask, log: CapturedLog, path: str, mimetype: str
) -> None:
    response = handler_fails.test_client().get(path)

    assert response.status_code == 500
    assert response.mimetype == mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    request_id = response.headers["X-Request-ID"]
    if mimetype == "text/html":
        assert f"<code>{request_id}</code>" in response.text
    else:
        assert response.json == {
            "error": "server_error",
            "error_description": "Internal Server Error",
        }
    assert "the page failed" not in response.text and "Traceback" not in response.text
    errors = [r for r in log.records() if r["level"] == "ERROR"]
    assert errors and all(r["request_id"] == request_id for r in errors)
    assert any(r["logger"] == "authserver.edges.last_resort" for r in errors)
