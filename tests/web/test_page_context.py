"""Pages people understand (issue 15): what each step says, failures that tell nothing about
accounts, and a way on from every final page. Driven through HTTP like a browser."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from authserver.web.login import GENERIC_LOGIN_FAILURE
from tests.support.device import answer, make_device_client, reach_consent, start
from tests.support.oauth import (
    PASSWORD,
    Pkce,
    authorization_params,
    authorize,
    csrf_token,
    make_relying_party,
    make_user,
    sign_in,
    token_request,
)

WRONG = "not the right password"


def without_varying_values(html: str) -> str:
    """The page minus what legitimately differs between two posts: the token and the echo."""
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", html)
    return re.sub(r'(name="email"[^>]*value=")[^"]*', r"\1", html)


def hidden_value(page: TestResponse, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page.text)
    assert match, page.text
    return match.group(1).replace("&amp;", "&")


def attempt(client: FlaskClient, email: str, password: str) -> TestResponse:
    response = sign_in(client, email, password)
    response.close()  # a lock notice goes out once the response is closed
    return response


# --- sign-in ------------------------------------------------------------------------------------


def test_signing_in_for_an_app_names_the_registered_app(client: FlaskClient) -> None:
    make_user()
    rp = make_relying_party(name="Orders Portal")

    to_login = authorize(client, rp, Pkce())
    page = client.get(to_login.headers["Location"])

    assert to_login.status_code == 302
    assert "Sign in to continue to <strong>Orders Portal</strong>" in page.text


def test_the_app_name_never_comes_from_the_url(client: FlaskClient) -> None:
    rp = make_relying_party(name="Orders Portal")
    forged = authorization_params(rp, Pkce(), client_id="Evil <b>Bank</b>")
    wrong_uri = authorization_params(rp, Pkce(), redirect_uri="https://evil.example/cb")

    for params in (forged, wrong_uri):
        page = client.get("/login?" + urlencode({"next": "/oauth/authorize?" + urlencode(params)}))
        assert page.status_code == 200
        assert "Sign in to continue" not in page.text
        # The URL is only ever echoed inside the hidden next field, escaped.
        assert "Evil" not in re.sub(r'<input[^>]*name="next"[^>]*>', "", page.text)
    assert "Sign in to continue" not in client.get("/login?next=/account").text


def test_unknown_wrong_and_locked_get_one_answer(client: FlaskClient) -> None:
    make_user()
    make_user("locked@example.com")
    for _ in range(5):  # the default lockout: five failures lock the account
        attempt(client, "locked@example.com", WRONG)

    unknown = attempt(client, "nobody@example.com", PASSWORD)
    wrong = attempt(client, "ada@example.com", WRONG)
    locked = attempt(client, "locked@example.com", PASSWORD)  # the right password, locked

    assert unknown.status_code == wrong.status_code == locked.status_code == 401
    assert str(GENERIC_LOGIN_FAILURE) in unknown.text
    assert "paused" in str(GENERIC_LOGIN_FAILURE) and "e-mail" in str(GENERIC_LOGIN_FAILURE)
    assert without_varying_values(unknown.text) == without_varying_values(wrong.text)
    assert without_varying_values(locked.text) == without_varying_values(wrong.text)


# --- consent ------------------------------------------------------------------------------------


def consent_page(client: FlaskClient, **extra: str) -> tuple[TestResponse, str]:
    """A signed-in user at the consent page; also the authorization URL that led there."""
    make_user()
    sign_in(client)
    rp = make_relying_party(name="Orders Portal")
    url = "/oauth/authorize?" + urlencode(authorization_params(rp, Pkce(), **extra))
    page = client.get(url)
    assert page.status_code == 200, page.text
    return page, url


def test_consent_names_the_app_and_the_account_in_plain_words(client: FlaskClient) -> None:
    page, _ = consent_page(client)

    assert "<h1>Allow Orders Portal?</h1>" in page.text
    assert "Signed in as <strong>ada@example.com</strong>" in page.text
    assert re.search(r'<button type="submit" class="link">Not you\?</button>', page.text)
    scopes = re.search(r'<ul class="scopes">(.*?)</ul>', page.text, re.S)
    assert scopes and "<code>" not in scopes.group(1) and "offline_access" not in scopes.group(1)
    details = re.search(r"<details>(.*?)</details>", page.text, re.S)
    assert details
    for scope in ("openid", "profile", "email", "offline_access"):
        assert f"<code>{scope}</code>" in details.group(1)
    assert re.search(r'<a href="/account#apps-heading">your account page</a>', page.text)
    assert "take this access back" in page.text


def test_not_you_signs_out_and_comes_back_to_the_same_request(client: FlaskClient) -> None:
    page, url = consent_page(client)
    assert hidden_value(page, "next") == url

    signed_out = client.post(
        "/logout", data={"csrf_token": csrf_token(page), "next": hidden_value(page, "next")}
    )
    assert signed_out.status_code == 303
    assert signed_out.headers["Location"] == url
    to_login = client.get(url)  # no session now: the same request asks for a sign-in
    assert to_login.status_code == 302
    login = urlsplit(to_login.headers["Location"])
    assert login.path == "/login"
    assert parse_qs(login.query)["next"] == [url]
    assert "Sign in to continue to" in client.get(to_login.headers["Location"]).text


def test_not_you_works_for_a_pushed_request_too(client: FlaskClient) -> None:
    """RFC 9126: the sign-in page finds the client through the pushed request, and "Not you?"
    resumes the same request_uri, which this browser may still use."""
    make_user()
    make_user("grace@example.com", name="Grace Hopper")
    rp = make_relying_party(name="Orders Portal")
    pushed = token_request(client, rp, authorization_params(rp, Pkce()), path="/oauth/par")
    assert pushed.status_code == 201, pushed.json
    url = "/oauth/authorize?" + urlencode(
        {"client_id": rp.client_id, "request_uri": pushed.json["request_uri"]}
    )
    login = client.get(client.get(url).headers["Location"])
    assert "Sign in to continue to <strong>Orders Portal</strong>" in login.text
    sign_in(client)
    page = client.get(url)
    assert "Signed in as <strong>ada@example.com</strong>" in page.text

    client.post(
        "/logout", data={"csrf_token": csrf_token(page), "next": hidden_value(page, "next")}
    )
    again = client.get(client.get(url).headers["Location"])
    assert "Sign in to continue to <strong>Orders Portal</strong>" in again.text
    sign_in(client, "grace@example.com")
    assert "Signed in as <strong>grace@example.com</strong>" in client.get(url).text


def test_sign_out_ignores_a_next_off_this_site(client: FlaskClient) -> None:
    page, _ = consent_page(client)

    response = client.post(
        "/logout", data={"csrf_token": csrf_token(page), "next": "https://evil.example/"}
    )

    assert response.headers["Location"] == "/login"


def test_the_device_consent_names_the_account_too(client: FlaskClient, app: Flask) -> None:
    user = make_user()
    rp = make_device_client()
    begun = start(client, rp)
    browser = app.test_client()

    page = reach_consent(browser, begun.user_code, user.email)

    assert "Signed in as <strong>ada@example.com</strong>" in page.text
    assert hidden_value(page, "next").startswith("/device/confirm")
    done = answer(browser, page, "allow")
    assert '<a href="/account">Go to your account</a>' in done.text


# --- logout confirmation ------------------------------------------------------------------------


def test_logout_confirmation_names_app_and_account(client: FlaskClient) -> None:
    make_user()
    sign_in(client)
    rp = make_relying_party(name="Orders Portal")
    query = {
        "client_id": rp.client_id,
        "post_logout_redirect_uri": "https://rp.example.com/logged-out",
        "state": "s-1",
    }

    page = client.get("/oauth/logout?" + urlencode(query))

    assert "<strong>Orders Portal</strong> asked to sign you out." in page.text
    assert "signed in as <strong>ada@example.com</strong>" in page.text
    stay = '<a href="https://rp.example.com/logged-out?state=s-1">Stay signed in</a>'
    assert stay in page.text
    assert client.get("/account").status_code == 200  # nothing ended


def test_stay_signed_in_goes_to_the_account_without_a_verified_return(
    client: FlaskClient,
) -> None:
    make_user()
    sign_in(client)
    rp = make_relying_party(name="Orders Portal")

    page = client.get("/oauth/logout?" + urlencode({"client_id": rp.client_id}))

    assert '<a href="/account">Stay signed in</a>' in page.text
    signed_out = client.post(
        "/oauth/logout/confirm",
        data={
            "csrf_token": csrf_token(page),
            "logout_request": hidden_value(page, "logout_request"),
        },
    )
    assert "You are signed out" in signed_out.text
    assert "<strong>Orders Portal</strong>" in signed_out.text
    assert '<a href="/login">Sign in again</a>' in signed_out.text


# --- final pages --------------------------------------------------------------------------------


def test_final_pages_offer_a_way_on(client: FlaskClient) -> None:
    assert '<a href="/account">Go to your account</a>' in client.get("/verify-email/done").text
    logged_out = client.get("/oauth/logout")
    assert '<a href="/login">Sign in again</a>' in logged_out.text
    home = client.get("/")
    assert home.status_code == 303 and home.headers["Location"].startswith("/login")
