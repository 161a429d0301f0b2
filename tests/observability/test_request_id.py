"""Request ids: a trusted proxy's echoed when well-formed, any other replaced; in audit rows."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import AuditEvent
from authserver.observability.request_id import carried_request_id, current_request_id
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, make_user
from tests.support.web import sign_in

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_every_answer_carries_a_generated_id(client: FlaskClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/no-such-page").headers["X-Request-ID"]

    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


PROXY = "10.0.0.7"
JWKS = "/.well-known/jwks.json"


def via_proxy(make_app: AppFactory) -> FlaskClient:
    """A client whose connections come from a proxy named in AUTHSERVER_TRUSTED_PROXIES."""
    browser = make_app(trusted_proxies=("10.0.0.0/8",)).test_client()
    browser.environ_base["REMOTE_ADDR"] = PROXY
    return browser


@pytest.mark.parametrize("path", ["/healthz", "/no-such-page", JWKS])
def test_a_trusted_proxys_well_formed_id_is_kept(make_app: AppFactory, path: str) -> None:
    browser = via_proxy(make_app)
    incoming = "3f1c2a9e-5b7d-4e0f-9a1b-2c3d4e5f6a7b"

    # The JWKS is answered by Flask first, then from a copy outside Flask (public documents).
    answers = [browser.get(path, headers={"X-Request-ID": incoming}) for _ in range(2)]

    assert [answer.headers["X-Request-ID"] for answer in answers] == [incoming, incoming]


@pytest.mark.parametrize("path", ["/healthz", "/no-such-page", JWKS])
@pytest.mark.parametrize(
    ("trusted", "peer"),
    [((), "127.0.0.1"), ((), PROXY), (("10.0.0.0/8",), "192.0.2.10")],
    ids=["no-proxy-configured", "no-proxy-configured-private-peer", "peer-not-a-proxy"],
)
def test_an_id_from_anyone_but_a_trusted_proxy_is_replaced(
    make_app: AppFactory, trusted: tuple[str, ...], peer: str, path: str
) -> None:
    """An id names log lines and audit rows: a client must not pick it (or reuse another's)."""
    browser = make_app(trusted_proxies=trusted).test_client()
    browser.environ_base["REMOTE_ADDR"] = peer
    incoming = "3f1c2a9e-5b7d-4e0f-9a1b-2c3d4e5f6a7b"

    answers = [browser.get(path, headers={"X-Request-ID": incoming}) for _ in range(2)]

    ids = [answer.headers["X-Request-ID"] for answer in answers]
    assert all(GENERATED.fullmatch(each) for each in ids), ids
    assert ids[0] != ids[1]


@pytest.mark.parametrize(
    "hostile",
    [
        "short",
        "x" * 65,
        "abc def ghi",
        "abcdefgh\tforged=1",
        "abcdefgh;drop",
        "<script>alert(1)</script>",
    ],
)
def test_an_ill_formed_id_is_replaced_even_from_a_trusted_proxy(
    make_app: AppFactory, hostile: str
) -> None:
    response = via_proxy(make_app).get("/healthz", headers={"X-Request-ID": hostile})

    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_audit_rows_record_the_request_id(app: Flask, make_app: AppFactory) -> None:
    make_user()
    incoming = "req-0123456789abcdef"
    client = via_proxy(make_app)
    client.environ_base["HTTP_X_REQUEST_ID"] = incoming  # on every request of this client

    response = sign_in(client, DEFAULT_EMAIL, "the wrong password")

    assert response.headers["X-Request-ID"] == incoming
    rows = db.session.scalars(select(AuditEvent)).all()
    assert [row.event for row in rows] == ["user:login:failure"]
    assert rows[0].request_id == incoming


def test_work_left_for_after_the_response_keeps_the_id(app: Flask) -> None:
    # Mail is sent once the response has gone (no request context is left by then).
    assert current_request_id() is None
    with carried_request_id("req-after-response-01"):
        assert current_request_id() == "req-after-response-01"
        with app.test_request_context(headers={"X-Request-ID": "ignored-here-0001"}):
            assert current_request_id() is None  # a request's own id (none assigned yet) wins
    assert current_request_id() is None
