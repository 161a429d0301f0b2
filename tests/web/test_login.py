"""The sign-in page, driven like a browser: read the form, post it back."""

from __future__ import annotations

import re

import pytest
from argon2 import extract_parameters
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.models import User
from authserver.security.passwords import verify_password
from authserver.sessions.cookies import COOKIE_NAME, SECURE_COOKIE_NAME
from authserver.web.login import GENERIC_LOGIN_FAILURE
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.web import csrf_token, sign_in, sign_out


def set_cookie_header(response: TestResponse, name: str) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.getlist("Set-Cookie")
    return headers[0]


def without_varying_values(html: str) -> str:
    """The page minus what legitimately differs between two posts: the token and the echo."""
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", html)
    return re.sub(r'(name="email"[^>]*value=")[^"]*', r"\1", html)


def test_the_page_has_a_labelled_csrf_protected_form(client: FlaskClient) -> None:
    response = client.get("/login")

    assert response.status_code == 200
    assert '<label for="email">Email</label>' in response.text
    assert '<label for="password">Password</label>' in response.text
    assert re.search(r"<button[^>]*>Sign in</button>", response.text)
    assert csrf_token(response.text)


def test_the_page_names_an_icon_that_is_served(client: FlaskClient) -> None:
    """Found by the browser tests: with no icon named, Chromium asked for /favicon.ico and
    logged the 404 as a console error on every page."""
    page = client.get("/login")
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page.text)
    assert icon, page.text

    with client.get(icon.group(1)) as served:  # a file response: closed, or it warns
        assert served.status_code == 200
        assert served.mimetype == "image/svg+xml"
        assert served.data.startswith(b"<svg ")
        assert b"style" not in served.data and b"<script" not in served.data


def test_login_hint_fills_in_the_email_and_next_is_carried(client: FlaskClient) -> None:
    response = client.get("/login?login_hint=alice@example.org&next=/account")

    assert re.search(r'<input[^>]*name="email"[^>]*value="alice@example.org"', response.text)
    assert re.search(r'<input[^>]*name="next"[^>]*value="/account"', response.text)


def test_signing_in_sets_the_session_cookie_and_goes_to_next(client: FlaskClient) -> None:
    make_user()

    response = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD, next_path="/account?tab=mfa")

    assert response.status_code == 303
    assert response.headers["Location"] == "/account?tab=mfa"
    cookie = set_cookie_header(response, COOKIE_NAME)
    attributes = {part.strip() for part in cookie.split(";")[1:]}
    assert attributes == {"HttpOnly", "SameSite=Lax", "Path=/"}
    assert response.headers["Cache-Control"] == "no-store"


def test_with_secure_cookies_the_cookie_is_host_prefixed_and_secure(
    app: Flask, make_app: AppFactory
) -> None:
    secure_app = make_app(secure_cookies=True)  # `app` only empties the database
    client = secure_app.test_client()
    with secure_app.app_context():
        make_user()

    response = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD, base_url="https://localhost")

    assert response.status_code == 303
    cookie = set_cookie_header(response, SECURE_COOKIE_NAME)
    attributes = {part.strip() for part in cookie.split(";")[1:]}
    assert attributes == {"Secure", "HttpOnly", "SameSite=Lax", "Path=/"}  # and no Domain
    home = client.get("/", base_url="https://localhost")
    assert "Signed in as alice@example.org" in home.text


def test_new_hashing_settings_upgrade_the_stored_hash_at_the_next_sign_in(
    app: Flask, make_app: AppFactory
) -> None:
    user_id = make_user().id  # hashed under the test app's parameters
    stronger = make_app(argon2_time_cost=4, argon2_memory_cost=16384, argon2_parallelism=2)

    response = sign_in(stronger.test_client(), DEFAULT_EMAIL, DEFAULT_PASSWORD)

    assert response.status_code == 303
    with stronger.app_context():
        stored = db.session.get(User, user_id)
        assert stored is not None
        upgraded = extract_parameters(stored.password_hash)
        assert verify_password(stored.password_hash, DEFAULT_PASSWORD)
    assert (upgraded.time_cost, upgraded.memory_cost, upgraded.parallelism) == (4, 16384, 2)


def test_without_next_the_landing_page_says_who_is_signed_in(client: FlaskClient) -> None:
    make_user()

    response = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Signed in as alice@example.org" in home.text
    assert re.search(r"<button[^>]*>Sign out</button>", home.text)


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example/path",
        "",
    ],
)
def test_next_outside_this_site_falls_back_to_the_landing_page(
    client: FlaskClient, target: str
) -> None:
    make_user()

    response = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD, next_path=target)

    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_unknown_email_and_wrong_password_look_the_same(client: FlaskClient) -> None:
    make_user()

    unknown = sign_in(client, "nobody@example.org", DEFAULT_PASSWORD)
    wrong = sign_in(client, DEFAULT_EMAIL, "not the right password")

    assert unknown.status_code == wrong.status_code == 401
    assert str(GENERIC_LOGIN_FAILURE) in unknown.text
    assert without_varying_values(unknown.text) == without_varying_values(wrong.text)
    assert client.get_cookie(COOKIE_NAME) is None


def test_a_disabled_account_gets_the_same_answer(client: FlaskClient) -> None:
    make_user()
    make_user("bob@example.org", DEFAULT_PASSWORD, disabled=True)

    wrong = sign_in(client, DEFAULT_EMAIL, "not the right password")
    disabled = sign_in(client, "bob@example.org", DEFAULT_PASSWORD)

    assert disabled.status_code == 401
    assert without_varying_values(disabled.text) == without_varying_values(wrong.text)
    assert client.get_cookie(COOKIE_NAME) is None


def test_a_failed_sign_in_keeps_the_email_but_never_the_password(client: FlaskClient) -> None:
    make_user()

    response = sign_in(client, DEFAULT_EMAIL, "not the right password", next_path="/account")

    assert re.search(r'<input[^>]*name="email"[^>]*value="alice@example.org"', response.text)
    assert re.search(r'<input[^>]*name="next"[^>]*value="/account"', response.text)
    assert "not the right password" not in response.text


def test_a_post_without_csrf_token_is_refused_with_the_page(client: FlaskClient) -> None:
    make_user()

    response = client.post("/login", data={"email": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD})

    assert response.status_code == 400
    assert "The sign-in form expired" in response.text
    assert '<label for="email">Email</label>' in response.text
    assert client.get_cookie(COOKIE_NAME) is None


@pytest.mark.parametrize(
    ("email", "password"),
    [("", DEFAULT_PASSWORD), (DEFAULT_EMAIL, ""), (DEFAULT_EMAIL, "x" * 129)],
    ids=["no email", "no password", "password too long"],
)
def test_an_incomplete_form_is_a_bad_request(
    client: FlaskClient, email: str, password: str
) -> None:
    make_user()

    response = sign_in(client, email, password)

    assert response.status_code == 400
    assert '<label for="email">Email</label>' in response.text
    assert client.get_cookie(COOKIE_NAME) is None


def test_the_landing_page_sends_strangers_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/")

    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/"


def test_signing_out_clears_the_cookie(client: FlaskClient) -> None:
    make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    response = sign_out(client)

    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    cleared = set_cookie_header(response, COOKIE_NAME)
    assert "Expires=Thu, 01 Jan 1970" in cleared
    assert client.get("/").status_code == 303


def test_signing_out_needs_the_csrf_token(client: FlaskClient) -> None:
    make_user()
    sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)

    response = client.post("/logout")

    assert response.status_code == 400
    assert client.get("/").status_code == 200
