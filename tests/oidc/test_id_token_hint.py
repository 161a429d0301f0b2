"""id_token_hint at the authorization endpoint (OIDC Core §3.1.2.1, §3.1.2.6).

The hint must be an ID token this server issued (an expired one is fine); with another user
signed in, prompt=none answers login_required and otherwise the user signs in again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authserver.extensions import db
from authserver.keys.signing import sign_jwt
from authserver.models.tokens import AuthorizationCode
from tests.support import web
from tests.support.oauth import (
    ISSUER,
    PASSWORD,
    Pkce,
    RelyingParty,
    authorization_params,
    authorize,
    csrf_token,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    redirect_params,
    sign_in,
    verify_jwt,
)

ADA, BOB = "ada@example.com", "bob@example.com"
NOT_OURS = "The id_token_hint is not an ID token issued here."
SOMEONE_ELSE = "The signed-in user is not the one id_token_hint names."


class Issued:
    """Ada's tokens for the relying party, as it keeps them after signing her in."""

    def __init__(self, browser: FlaskClient, rp: RelyingParty) -> None:
        pkce = Pkce()
        body = exchange_code(browser, rp, obtain_code(browser, rp, pkce), pkce).json
        self.id_token: str = body["id_token"]
        self.access_token: str = body["access_token"]
        self.claims = verify_jwt(browser, self.id_token, audience=rp.client_id, typ="JWT")


@pytest.fixture
def rp(app: Flask) -> RelyingParty:
    make_user(ADA)
    make_user(BOB, name="Bob")
    return make_relying_party(skip_consent=True)


@pytest.fixture
def ada(app: Flask, rp: RelyingParty) -> tuple[FlaskClient, Issued]:
    browser = app.test_client()
    sign_in(browser, ADA)
    return browser, Issued(browser, rp)


def codes_issued() -> int:
    return db.session.scalar(select(func.count()).select_from(AuthorizationCode)) or 0


def test_prompt_none_with_another_user_signed_in_is_login_required(
    app: Flask, rp: RelyingParty, ada: tuple[FlaskClient, Issued]
) -> None:
    _, issued = ada
    bob = app.test_client()
    sign_in(bob, BOB)
    before = codes_issued()

    response = authorize(bob, rp, Pkce(), prompt="none", id_token_hint=issued.id_token)

    assert redirect_params(response) == {
        "error": "login_required",
        "error_description": SOMEONE_ELSE,
        "state": "state-123",
        "iss": ISSUER,
    }
    assert codes_issued() == before


def test_without_prompt_another_user_is_asked_to_sign_in_as_the_hinted_one(
    app: Flask, rp: RelyingParty, ada: tuple[FlaskClient, Issued]
) -> None:
    _, issued = ada
    browser = app.test_client()
    sign_in(browser, BOB)
    pkce = Pkce()

    response = authorize(browser, rp, pkce, id_token_hint=issued.id_token)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    [resume] = parse_qs(location.query)["next"]
    signed_in = web.sign_in(browser, ADA, PASSWORD, next_path=resume)
    code = redirect_params(browser.get(signed_in.headers["Location"]))["code"]
    tokens = exchange_code(browser, rp, code, pkce).json
    claims = verify_jwt(browser, tokens["id_token"], audience=rp.client_id, typ="JWT")
    assert claims["sub"] == issued.claims["sub"]


def test_a_hint_naming_the_signed_in_user_is_answered(
    rp: RelyingParty, ada: tuple[FlaskClient, Issued]
) -> None:
    browser, issued = ada

    response = authorize(browser, rp, Pkce(), prompt="none", id_token_hint=issued.id_token)

    assert "code" in redirect_params(response)


def test_an_expired_hint_is_still_a_hint(
    app: Flask, rp: RelyingParty, ada: tuple[FlaskClient, Issued]
) -> None:
    browser, issued = ada
    expired_at = datetime.fromtimestamp(issued.claims["exp"], UTC)
    bob = app.test_client()

    with time_machine.travel(expired_at + timedelta(minutes=1), tick=False):
        sign_in(bob, BOB)
        assert "code" in redirect_params(
            authorize(browser, rp, Pkce(), prompt="none", id_token_hint=issued.id_token)
        )
        refused = authorize(bob, rp, Pkce(), prompt="none", id_token_hint=issued.id_token)
        assert redirect_params(refused)["error"] == "login_required"


def test_a_consent_form_cannot_answer_for_a_user_the_hint_does_not_name(
    app: Flask, ada: tuple[FlaskClient, Issued]
) -> None:
    """The consent form carries the request back; it goes through the hint check again."""
    _, issued = ada
    asks = make_relying_party(name="Asks for consent")
    bob = app.test_client()
    sign_in(bob, BOB)
    pkce = Pkce()
    page = authorize(bob, asks, pkce)
    assert page.status_code == 200
    hinted = authorization_params(asks, pkce, id_token_hint=issued.id_token)
    before = codes_issued()

    response = bob.post(
        "/oauth/authorize/consent",
        data={
            "csrf_token": csrf_token(page),
            "authorization_request": urlencode(hinted),
            "decision": "allow",
        },
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/oauth/authorize"
    assert codes_issued() == before


def _segments(token: str) -> list[str]:
    return token.split(".")


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _claims(issued: Issued, **changes: Any) -> dict[str, Any]:
    return {**issued.claims, **changes}


def _kid(issued: Issued) -> str:
    kid: str = jwt.get_unverified_header(issued.id_token)["kid"]
    return kid


def _foreign_key(issued: Issued) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(issued.claims, key, algorithm="RS256", headers={"kid": _kid(issued)})


def _unsigned(issued: Issued) -> str:
    return jwt.encode(issued.claims, None, algorithm="none", headers={"kid": _kid(issued)})


def _other_subject(issued: Issued) -> str:
    header, _, signature = _segments(issued.id_token)
    return ".".join((header, _b64(_claims(issued, sub="someone-else")), signature))


def _other_issuer(issued: Issued) -> str:
    return sign_jwt(_claims(issued, iss="https://other.example"), alg="RS256", typ="JWT")


Hint = Callable[[Issued], str]


@pytest.mark.parametrize(
    "make_hint",
    [
        pytest.param(lambda issued: "not-a-token", id="garbage"),
        pytest.param(lambda issued: "a.b.c", id="three-garbage-segments"),
        pytest.param(lambda issued: issued.access_token, id="our-access-token"),
        pytest.param(_foreign_key, id="signed-by-another-key"),
        pytest.param(_unsigned, id="alg-none"),
        pytest.param(_other_subject, id="tampered-subject"),
        pytest.param(_other_issuer, id="our-key-another-issuer"),
    ],
)
@pytest.mark.parametrize("prompt", [{"prompt": "none"}, {}], ids=["prompt-none", "no-prompt"])
def test_a_hint_that_is_not_our_id_token_is_invalid_request(
    rp: RelyingParty, ada: tuple[FlaskClient, Issued], make_hint: Hint, prompt: dict[str, str]
) -> None:
    browser, issued = ada
    before = codes_issued()

    response = authorize(browser, rp, Pkce(), id_token_hint=make_hint(issued), **prompt)

    assert redirect_params(response) == {
        "error": "invalid_request",
        "error_description": NOT_OURS,
        "state": "state-123",
        "iss": ISSUER,
    }
    assert codes_issued() == before
