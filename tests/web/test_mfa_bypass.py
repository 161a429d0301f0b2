"""Once an account has an authenticator, no route leads to a session without it.

Each test holds what an attacker with the password has: a pending sign-in (the cookie a correct
password gives), perhaps replayed, expired or tampered with, and tries to turn it into a
session or into something only a session may have.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.keys.manager import ensure_active_keys
from authserver.sessions.cookies import COOKIE_NAME
from authserver.web.mfa import PENDING_COOKIE_NAME
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.mfa import Clock, Enrolment, answer_challenge, enrol, frozen_clock, post_code
from tests.support.oauth import Pkce, authorization_params, make_relying_party, redirect_params
from tests.support.web import csrf_token, sign_in


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        ensure_active_keys(now=frozen.now())
        make_user()
        yield frozen


@pytest.fixture
def enrolled(app: Flask, clock: Clock) -> Enrolment:
    setup = app.test_client()
    sign_in(setup, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    enrolment = enrol(setup)
    clock.next_step()
    return enrolment


@pytest.fixture
def pending(client: FlaskClient, enrolled: Enrolment) -> str:
    """The browser has given the right password and holds only a pending sign-in."""
    response = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    assert response.headers["Location"].startswith("/mfa")
    cookie = client.get_cookie(PENDING_COOKIE_NAME)
    assert cookie is not None
    return cookie.value


def assert_no_session(client: FlaskClient) -> None:
    assert client.get_cookie(COOKIE_NAME) is None
    landing = client.get("/")
    assert landing.status_code == 303
    assert landing.headers["Location"].startswith("/login")


def authorize_path(**extra: str) -> str:
    rp = make_relying_party(skip_consent=True)
    return "/oauth/authorize?" + urlencode(authorization_params(rp, Pkce(), **extra))


@pytest.mark.parametrize("path", ["/", "/account", "/account/mfa", "/account/mfa?next=/"])
def test_pages_for_signed_in_people_stay_shut(client: FlaskClient, pending: str, path: str) -> None:
    response = client.get(path)

    assert response.status_code in (303, 404)  # /account is another page's (404 without it)
    if response.status_code == 303:
        assert response.headers["Location"].startswith("/login")
    assert_no_session(client)


def test_the_authorization_endpoint_wants_a_sign_in(client: FlaskClient, pending: str) -> None:
    response = client.get(authorize_path())

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?")
    assert_no_session(client)


def test_the_authorization_endpoint_with_prompt_none_says_login_required(
    client: FlaskClient, pending: str
) -> None:
    response = client.get(authorize_path(prompt="none"))

    assert redirect_params(response)["error"] == "login_required"
    assert_no_session(client)


def test_the_consent_form_wants_a_sign_in(client: FlaskClient, pending: str) -> None:
    rp = make_relying_party()
    page = client.get("/login")

    response = client.post(
        "/oauth/authorize/consent",
        data={
            "csrf_token": csrf_token(page.text),
            "authorization_request": urlencode(authorization_params(rp, Pkce())),
            "decision": "allow",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?")
    assert_no_session(client)


def test_signing_in_again_gives_another_challenge_not_a_session(
    client: FlaskClient, pending: str
) -> None:
    assert client.get("/login").status_code == 200
    again = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    assert again.status_code == 303
    assert again.headers["Location"].startswith("/mfa")
    assert_no_session(client)


def test_the_pending_value_is_not_a_session_cookie(
    app: Flask, client: FlaskClient, pending: str
) -> None:
    other = app.test_client()
    other.set_cookie(COOKIE_NAME, pending)

    assert other.get("/").status_code == 303
    assert other.get("/account/mfa").status_code == 303


def test_a_pending_sign_in_cannot_be_replayed_after_it_succeeded(
    app: Flask, client: FlaskClient, pending: str, enrolled: Enrolment, clock: Clock
) -> None:
    assert answer_challenge(client, enrolled.authenticator.code()).status_code == 303
    clock.next_step()
    attacker = app.test_client()
    attacker.set_cookie(PENDING_COOKIE_NAME, pending)

    page = attacker.get("/mfa")
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/login")
    posted = _post_challenge_anyway(attacker, enrolled.authenticator.code())
    assert posted.status_code == 303
    assert posted.headers["Location"].startswith("/login")
    assert_no_session(attacker)


def test_an_expired_pending_sign_in_leads_back_to_sign_in(
    app: Flask, client: FlaskClient, pending: str, enrolled: Enrolment, clock: Clock
) -> None:
    clock.advance(app.extensions["authserver.settings"].mfa_pending_ttl + 1)

    posted = _post_challenge_anyway(client, enrolled.authenticator.code())

    assert posted.status_code == 303
    assert posted.headers["Location"].startswith("/login")
    assert_no_session(client)


@pytest.mark.parametrize(
    "tamper",
    ["flip-signature", "drop-signature", "edit-payload", "garbage"],
)
def test_a_tampered_pending_sign_in_leads_back_to_sign_in(
    app: Flask, client: FlaskClient, pending: str, enrolled: Enrolment, tamper: str
) -> None:
    payload, _, signature = pending.rpartition(".")
    forged = {
        "flip-signature": f"{payload}.{signature[::-1]}",
        "drop-signature": payload,
        "edit-payload": payload.replace(payload[2:6], "AAAA") + "." + signature,
        "garbage": "not-a-pending-sign-in",
    }[tamper]
    attacker = app.test_client()
    attacker.set_cookie(PENDING_COOKIE_NAME, forged)

    assert attacker.get("/mfa").headers["Location"].startswith("/login")
    posted = _post_challenge_anyway(attacker, enrolled.authenticator.code())
    assert posted.headers["Location"].startswith("/login")
    assert_no_session(attacker)


def test_a_wrong_code_leaves_no_session(
    client: FlaskClient, pending: str, enrolled: Enrolment
) -> None:
    right = enrolled.authenticator.code()
    for wrong in ("000000", "999999", "ABCDE-FGHJK"):
        if wrong != right:
            assert answer_challenge(client, wrong).status_code == 401
    assert_no_session(client)


def test_signing_out_while_pending_leaves_nothing_behind(client: FlaskClient, pending: str) -> None:
    page = client.get("/login")
    client.post("/logout", data={"csrf_token": csrf_token(page.text)})

    assert_no_session(client)


def test_the_challenge_sends_no_one_off_site(
    client: FlaskClient, pending: str, enrolled: Enrolment
) -> None:
    page = client.get("/mfa?next=//evil.example/")

    done = post_code(client, "/mfa", page, enrolled.authenticator.code())

    assert done.status_code == 303
    assert done.headers["Location"] == "/"


def test_without_a_pending_sign_in_or_a_session_the_challenge_sends_to_sign_in(
    client: FlaskClient, enrolled: Enrolment
) -> None:
    response = client.get("/mfa?next=/account/mfa")

    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/account/mfa"


def test_a_session_that_has_its_second_factor_goes_straight_on(
    client: FlaskClient, pending: str, enrolled: Enrolment
) -> None:
    answer_challenge(client, enrolled.authenticator.code())

    response = client.get("/mfa?next=/account/mfa")

    assert response.status_code == 303
    assert response.headers["Location"] == "/account/mfa"


def test_a_password_session_without_an_authenticator_is_sent_to_set_one_up(
    client: FlaskClient, clock: Clock
) -> None:
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    response = client.get("/mfa?next=/")

    assert response.status_code == 303
    assert response.headers["Location"] == "/account/mfa?next=/"


def test_a_session_from_before_enrolment_can_step_up(app: Flask, clock: Clock) -> None:
    older = app.test_client()
    sign_in(older, DEFAULT_EMAIL, DEFAULT_PASSWORD)  # a password-only session
    enrolment = enrol(_signed_in_elsewhere(app))
    clock.next_step()

    page = older.get("/mfa?next=/account/mfa")
    assert page.status_code == 200
    assert "asks for a second step" in page.text
    done = post_code(older, "/mfa", page, enrolment.authenticator.code())

    assert done.status_code == 303
    assert done.headers["Location"] == "/account/mfa"


def _signed_in_elsewhere(app: Flask) -> FlaskClient:
    browser = app.test_client()
    sign_in(browser, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    return browser


def _post_challenge_anyway(client: FlaskClient, code: str) -> TestResponse:
    """POST the challenge form with a valid CSRF token taken from another page."""
    page = client.get("/login")
    return client.post("/mfa", data={"csrf_token": csrf_token(page.text), "code": code})
