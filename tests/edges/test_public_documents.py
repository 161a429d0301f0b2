"""JWKS and discovery answered from a copy of Flask's answer (edges/public_documents.py).

The copy must be indistinguishable from Flask's own answer (same body and headers, a fresh
request id), logged and counted like it, and never used where the answer could differ.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.keys.manager import ensure_active_keys, rotate_keys
from tests.conftest import AppFactory
from tests.edges.conftest import PRODUCTION_ISSUER
from tests.support.logs import captured_log
from tests.support.metrics import Scrape, bearer

JWKS = "/.well-known/jwks.json"
DOCUMENTS = (JWKS, "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")
PER_REQUEST = {"X-Request-ID", "Age"}
METRICS_TOKEN = "metrics-token-" + "m" * 32


class FlaskRequests:
    """Counts the requests that reached Flask's request machinery (its after_request hooks)."""

    def __init__(self, app: Flask) -> None:
        self.count = 0
        app.after_request(self._seen)

    def _seen(self, response: Response) -> Response:
        self.count += 1
        return response


def stable_headers(response: TestResponse) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in PER_REQUEST}


@pytest.fixture
def counted(app: Flask) -> Iterator[tuple[FlaskClient, FlaskRequests]]:
    yield app.test_client(), FlaskRequests(app)


@pytest.mark.parametrize("path", DOCUMENTS)
def test_later_answers_are_flasks_answer_without_flask(
    counted: tuple[FlaskClient, FlaskRequests], path: str
) -> None:
    client, flask_requests = counted

    first, second, third = (client.get(path) for _ in range(3))

    assert flask_requests.count == 1  # only the first went through Flask
    for later in (second, third):
        assert later.status_code == 200
        assert later.data == first.data
        assert stable_headers(later) == stable_headers(first)
    ids = {response.headers["X-Request-ID"] for response in (first, second, third)}
    assert len(ids) == 3
    # What the copy carries: the caching, CORS and security headers of the view and the edge.
    assert second.headers["Content-Type"] == "application/json"
    assert second.headers["ETag"] and "public" in second.headers["Cache-Control"]
    assert second.headers["Access-Control-Allow-Origin"] == "*"
    assert second.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in second.headers["Content-Security-Policy"]
    assert "nonce-" not in second.headers["Content-Security-Policy"]


def test_an_offered_request_id_is_replaced_unless_a_trusted_proxy_sent_it(
    counted: tuple[FlaskClient, FlaskRequests],
) -> None:
    """The copy follows Flask's rule (tests/observability/test_request_id.py has the table)."""
    client, flask_requests = counted
    client.get(JWKS)

    offered = client.get(JWKS, headers={"X-Request-ID": "gateway-0123456789"})
    malformed = client.get(JWKS, headers={"X-Request-ID": "bad id <script>"})

    assert flask_requests.count == 1
    for replaced in (offered, malformed):
        assert len(replaced.headers["X-Request-ID"]) == 32
        assert replaced.headers["X-Request-ID"] not in ("gateway-0123456789", "bad id <script>")


@pytest.mark.parametrize(
    ("method", "headers", "query"),
    [
        ("HEAD", {}, ""),
        ("GET", {"If-None-Match": "*"}, ""),
        ("GET", {"Origin": "https://rp.example"}, ""),
        ("GET", {"Range": "bytes=0-10"}, ""),
        ("GET", {}, "x=1"),
    ],
)
def test_requests_whose_answer_could_differ_go_to_flask(
    counted: tuple[FlaskClient, FlaskRequests], method: str, headers: dict[str, str], query: str
) -> None:
    client, flask_requests = counted
    client.get(JWKS)

    response = client.open(JWKS, method=method, headers=headers, query_string=query)

    assert flask_requests.count == 2
    assert response.status_code in (200, 304)


def test_a_request_with_cookies_goes_to_flask(counted: tuple[FlaskClient, FlaskRequests]) -> None:
    client, flask_requests = counted
    client.get(JWKS)
    client.set_cookie("authserver_session", "abc")

    response = client.get(JWKS)

    assert flask_requests.count == 2
    assert response.status_code == 200


def test_a_conditional_request_still_gets_304(counted: tuple[FlaskClient, FlaskRequests]) -> None:
    client, _flask_requests = counted
    etag = client.get(JWKS).headers["ETag"]
    client.get(JWKS)  # from the copy

    response = client.get(JWKS, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""


def test_a_key_set_due_for_its_check_goes_to_flask_and_the_new_set_is_served(
    app: Flask, make_app: AppFactory
) -> None:
    client, flask_requests = app.test_client(), FlaskRequests(app)
    before = client.get(JWKS)
    # Another instance (its own app on the same database) adds the next keys.
    other = make_app(encryption_keys=app.extensions["authserver.settings"].encryption_keys)
    with other.app_context():
        rotate_keys(now=datetime.now(UTC), settings=other.extensions["authserver.settings"])

    still_cached = client.get(JWKS)
    app.extensions["authserver.keys.jwks"].checked_at -= 60  # the recheck is due
    after = client.get(JWKS)
    again = client.get(JWKS)

    assert still_cached.data == before.data  # within the recheck window: the set as confirmed
    assert flask_requests.count == 2  # the first request and the one that rechecked
    assert len(after.get_json()["keys"]) > len(before.get_json()["keys"])
    assert again.data == after.data


def test_the_copy_is_logged_and_counted_like_a_flask_answer(
    app: Flask, make_app: AppFactory
) -> None:
    served = make_app(
        log_level="INFO",
        metrics_token=METRICS_TOKEN,
        encryption_keys=app.extensions["authserver.settings"].encryption_keys,
    )
    client = served.test_client()

    with captured_log() as log:
        responses = [client.get(JWKS, headers={"User-Agent": "verifier/2.0"}) for _ in range(3)]

    lines = log.records(logger="authserver.request")
    assert [line["message"] for line in lines] == [f"GET {JWKS} 200"] * 3
    assert [line["request_id"] for line in lines] == [
        response.headers["X-Request-ID"] for response in responses
    ]
    for line in lines:
        assert line["client_ip"] == "127.0.0.1"
        assert line["user_agent"] == "verifier/2.0"
        assert isinstance(line["duration_ms"], float)
    scrape = Scrape.parse(client.get("/metrics", headers=bearer(METRICS_TOKEN)).text)
    requests = scrape.value(
        "authserver_http_requests_total", endpoint="keys.jwks", status_class="2xx"
    )
    assert requests == 3


def test_production_still_refuses_http_after_a_copy_was_made_over_https(
    make_app: AppFactory,
) -> None:
    app = make_app(env="production", issuer=PRODUCTION_ISSUER)
    with app.app_context():
        ensure_active_keys(now=datetime.now(UTC))
    client, flask_requests = app.test_client(), FlaskRequests(app)

    secure = [client.get(JWKS, base_url="https://localhost") for _ in range(2)]
    plain = client.get(JWKS)

    assert [response.status_code for response in secure] == [200, 200]
    assert all("Strict-Transport-Security" in response.headers for response in secure)
    assert flask_requests.count == 2  # the first https request, then the http one
    assert plain.status_code == 400
    assert plain.get_json()["error"] == "invalid_request"
