"""OpenID Connect Back-Channel Logout 1.0: a session that ends sends logout tokens to the
relying parties that received an ID token in it.

The relying party is a real HTTP server on loopback (tests/support/logout_receiver.py); the
outbox is delivered by the worker's own delivery pass, run here in the test's app context, and
every token is checked with PyJWT against the published JWKS.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from authserver.backchannel.delivery import deliver_due
from authserver.extensions import db
from authserver.models.types import utcnow
from tests.support.logout_receiver import LogoutReceiver, logout_receiver, verify_logout_token
from tests.support.oauth import (
    ISSUER,
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    published_keys,
    sign_in,
    verify_jwt,
)
from tests.support.web import csrf_token


@pytest.fixture
def receiver() -> Iterator[LogoutReceiver]:
    with logout_receiver() as running:
        yield running


def id_token_claims(
    browser: FlaskClient, rp: RelyingParty, **exchange: str
) -> tuple[dict[str, object], dict[str, str]]:
    """Run the code flow in ``browser`` (signed in); the ID token's claims and the response."""
    pkce = Pkce()
    body = exchange_code(browser, rp, obtain_code(browser, rp, pkce), pkce, **exchange).json
    assert body is not None and "id_token" in body, body
    claims = verify_jwt(browser, body["id_token"], audience=rp.client_id, typ="JWT")
    return claims, body


def deliver() -> None:
    deliver_due(now=utcnow())
    db.session.commit()


def received_claims(
    browser: FlaskClient, receiver: LogoutReceiver, rp: RelyingParty, count: int = 1
) -> list[dict[str, object]]:
    got = receiver.wait_for(count)
    for each in got:
        # §2.5: POSTed as a form, one parameter.
        assert each.content_type == "application/x-www-form-urlencoded"
        assert set(each.form) == {"logout_token"}
    keys = published_keys(browser)
    return [
        verify_logout_token(token, keys, issuer=ISSUER, audience=rp.client_id)
        for token in receiver.tokens()
    ]


def sign_out_button(browser: FlaskClient) -> None:
    home = browser.get("/")
    response = browser.post("/logout", data={"csrf_token": csrf_token(home.text)})
    assert response.status_code in (302, 303), response.text


def test_signing_out_sends_a_logout_token_naming_the_session(
    app: Flask, client: FlaskClient, receiver: LogoutReceiver
) -> None:
    make_user()
    rp = make_relying_party(backchannel_logout_uri=receiver.uri)
    sign_in(client)
    id_claims, _ = id_token_claims(client, rp)
    assert isinstance(id_claims["sid"], str) and id_claims["sid"]

    sign_out_button(client)
    deliver()

    [claims] = received_claims(client, receiver, rp)
    assert claims["sid"] == id_claims["sid"]
    assert claims["sub"] == id_claims["sub"]
    assert claims["aud"] == rp.client_id
    assert claims["exp"] - claims["iat"] <= 120
    deliver()
    assert len(receiver.snapshot()) == 1, "delivered once, then the message is gone"
