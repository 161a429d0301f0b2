"""Request ids: echoed when well-formed, replaced when not, written into audit rows."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from authserver.extensions import db
from authserver.models import AuditEvent
from authserver.observability.request_id import carried_request_id, current_request_id
from tests.factories import DEFAULT_EMAIL, make_user
from tests.support.web import sign_in

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_every_answer_carries_a_generated_id(client: FlaskClient) -> None:
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/no-such-page").headers["X-Request-ID"]

    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


def test_a_well_formed_incoming_id_is_kept(client: FlaskClient) -> None:
    incoming = "3f1c2a9e-5b7d-4e0f-9a1b-2c3d4e5f6a7b"

    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response.headers["X-Request-ID"] == incoming


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
def test_an_ill_formed_incoming_id_is_replaced(client: FlaskClient, hostile: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": hostile})

    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_audit_rows_record_the_request_id(app: Flask, client: FlaskClient) -> None:
    make_user()
    incoming = "req-0123456789abcdef"
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
