"""AUTHSERVER_MAX_CONTENT_LENGTH: oversized bodies get 413 in the shape of the endpoint."""

from __future__ import annotations

import io
import logging

import pytest
from flask.testing import FlaskClient

from tests.conftest import AppFactory

HUGE = "a" * (2 * 1024 * 1024)


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke",
                                  "/oauth/userinfo"])  # fmt: skip
def test_protocol_endpoints_answer_rfc_shaped_json(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    response = client.post(path, data={"grant_type": "client_credentials", "junk": HUGE})

    assert response.status_code == 413
    assert response.json == {
        "error": "invalid_request",
        "error_description": "Request Entity Too Large",
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("path", ["/login", "/reset", "/oauth/authorize", "/account/profile"])
def test_pages_answer_with_the_error_page(client: FlaskClient, path: str) -> None:
    response = client.post(path, data={"email": "ada@example.com", "junk": HUGE})

    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "<h1>Request Entity Too Large</h1>" in response.text
    assert response.headers["X-Request-ID"] in response.text


def test_the_limit_comes_from_the_setting(make_app: AppFactory) -> None:
    client = make_app(max_content_length=4096).test_client()

    small = client.post("/oauth/token", data={"grant_type": "x", "pad": "a" * 3000})
    large = client.post("/oauth/token", data={"grant_type": "x", "pad": "a" * 5000})

    assert small.status_code == 400  # an ordinary protocol error: the body was read
    assert large.status_code == 413


def test_default_limit_is_64_kib(client: FlaskClient) -> None:
    fits = client.post("/oauth/token", data={"grant_type": "x", "pad": "a" * 60_000})
    too_big = client.post("/oauth/token", data={"grant_type": "x", "pad": "a" * 70_000})

    assert fits.status_code == 400
    assert too_big.status_code == 413


def test_a_chunked_body_is_cut_off_too(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    # A chunked upload declares no length; the server (gunicorn sets wsgi.input_terminated)
    # hands over a stream that is cut off at the limit as it is read.
    response = client.post(
        "/oauth/token",
        input_stream=io.BytesIO(("grant_type=x&pad=" + HUGE).encode()),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 413
    assert response.json == {
        "error": "invalid_request",
        "error_description": "Request Entity Too Large",
    }
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_chunked_body_within_the_limit_is_read_whole(client: FlaskClient) -> None:
    response = client.post(
        "/oauth/token",
        input_stream=io.BytesIO(b"grant_type=client_credentials&client_id=nobody"),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 401  # parsed and refused for its (unknown) client
    assert response.json is not None and response.json["error"] == "invalid_client"
