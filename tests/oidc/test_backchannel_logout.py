"""OpenID Connect Back-Channel Logout 1.0: a session that ends sends logout tokens to the
relying parties that received an ID token in it.

The relying party is a real HTTP server on loopback (tests/support/logout_receiver.py); the
outbox is delivered by the worker's own delivery pass, run here in the test's app context, and
every token is checked with PyJWT against the published JWKS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from authserver.backchannel.delivery import deliver_due
from authserver.cli import main
from authserver.config import app_settings
from authserver.extensions import db
from authserver.models.types import utcnow
from authserver.sessions.cookies import COOKIE_NAME
from tests.conftest import AppFactory
from tests.support.account import read_outbox, submit
from tests.support.logout_receiver import LogoutReceiver, logout_receiver, verify_logout_token
from tests.support.mailbox import link_in
from tests.support.mfa import enrol
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
    token_request,
    verify_jwt,
)
from tests.support.web import csrf_token

EMAIL = "ada@example.com"  # make_user()'s


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


# --- every way a session ends ---------------------------------------------------------------------


def rp_initiated_logout(browser: FlaskClient, id_token: str) -> None:
    query = urlencode({"id_token_hint": id_token})
    assert browser.get("/oauth/logout?" + query).status_code == 200  # the signed-out page


def sign_out_everywhere(browser: FlaskClient) -> None:
    assert submit(browser, "/account/sessions/sign-out-everywhere", {}).status_code == 303


def admin_revokes_sessions(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["user", "revoke-sessions", EMAIL])
    assert result.exit_code == 0, result.output


def admin_deletes_account(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["user", "delete", EMAIL, "--yes"])
    assert result.exit_code == 0, result.output


ENDINGS = {
    "sign-out button": lambda browser, _token, _runner: sign_out_button(browser),
    "RP-initiated logout": lambda browser, token, _runner: rp_initiated_logout(browser, token),
    "sign out everywhere": lambda browser, _token, _runner: sign_out_everywhere(browser),
    "administrator ends the sessions": lambda _b, _t, runner: admin_revokes_sessions(runner),
    "administrator deletes the account": lambda _b, _t, runner: admin_deletes_account(runner),
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_each_way_a_session_ends_sends_the_logout_token(
    app: Flask, client: FlaskClient, receiver: LogoutReceiver, ending: str
) -> None:
    make_user()
    rp = make_relying_party(backchannel_logout_uri=receiver.uri)
    sign_in(client)
    id_claims, body = id_token_claims(client, rp)
    db.session.commit()

    ENDINGS[ending](client, body["id_token"], app.test_cli_runner())
    assert receiver.snapshot() == [], "nothing is sent from the request itself"
    deliver()

    [claims] = received_claims(client, receiver, rp)
    assert (claims["sid"], claims["sub"]) == (id_claims["sid"], id_claims["sub"])


def test_signing_out_one_session_from_another_browser(app: Flask, receiver: LogoutReceiver) -> None:
    make_user()
    rp = make_relying_party(backchannel_logout_uri=receiver.uri)
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone)
    sign_in(laptop)
    phone_claims, _ = id_token_claims(phone, rp)

    sid = phone_claims["sid"]
    assert submit(laptop, "/account/sessions/sign-out", {"sid": str(sid)}).status_code == 303
    deliver()

    [claims] = received_claims(laptop, receiver, rp)
    assert claims["sid"] == sid


def test_a_password_reset_sends_the_logout_token(
    app: Flask, make_app: AppFactory, tmp_path: Path, receiver: LogoutReceiver
) -> None:
    mail = tmp_path / "mail"
    # The same secrets as `app`, whose signing keys the package's fixture made; mail to files.
    mailing = make_app(
        mail_backend="file",
        mail_file_dir=str(mail),
        encryption_keys=app_settings(app).encryption_keys,
    )
    with mailing.app_context():
        make_user()
        rp = make_relying_party(backchannel_logout_uri=receiver.uri)
        browser = mailing.test_client()
        sign_in(browser)
        id_claims, _ = id_token_claims(browser, rp)

        other = mailing.test_client()
        page = other.get("/reset")
        other.post(
            "/reset",
            data={"csrf_token": csrf_token(page.text), "email": EMAIL},
            buffered=True,  # closed, as a server closes it: the mail goes out then
        )
        [message] = read_outbox(mail)
        link = urlsplit(link_in(message, ISSUER + "/reset/")).path
        form = other.get(link)
        done = other.post(
            link,
            data={"csrf_token": csrf_token(form.text), "password": "a brand new passphrase"},
            buffered=True,
        )
        assert done.status_code in (200, 302, 303), done.text
        deliver()

        [claims] = received_claims(browser, receiver, rp)
        assert claims["sid"] == id_claims["sid"]


# --- who gets nothing -----------------------------------------------------------------------------


def test_clients_without_a_uri_and_sessions_without_an_id_token_get_nothing(
    app: Flask, receiver: LogoutReceiver
) -> None:
    make_user()
    listening = make_relying_party(name="Listening", backchannel_logout_uri=receiver.uri)
    silent = make_relying_party(name="Silent")
    first, second = app.test_client(), app.test_client()
    sign_in(first)
    sign_in(second)
    # The first browser used only the client without a URI; the second used the listening one.
    id_token_claims(first, silent)
    second_claims, _ = id_token_claims(second, listening)

    sign_out_button(first)
    deliver()
    assert receiver.snapshot() == []

    sign_out_button(second)
    deliver()
    [claims] = received_claims(second, receiver, listening)
    assert claims["sid"] == second_claims["sid"]


def test_a_session_that_ended_is_announced_once(app: Flask, receiver: LogoutReceiver) -> None:
    make_user()
    rp = make_relying_party(backchannel_logout_uri=receiver.uri)
    browser = app.test_client()
    sign_in(browser)
    id_token_claims(browser, rp)
    id_token_claims(browser, rp)  # two ID tokens, one session: one record

    sign_out_everywhere(browser)  # ends the session twice over (revoked, and before the cutoff)
    admin_revokes_sessions(app.test_cli_runner())
    deliver()

    assert len(received_claims(browser, receiver, rp)) == 1


def test_an_id_token_from_a_refresh_names_the_session_and_another_sign_in_ends_it(
    app: Flask, receiver: LogoutReceiver
) -> None:
    make_user()
    make_user("grace@example.com", name="Grace Hopper")
    rp = make_relying_party(backchannel_logout_uri=receiver.uri)
    browser = app.test_client()
    sign_in(browser)
    first, body = id_token_claims(browser, rp)
    refreshed = token_request(
        browser, rp, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    ).json
    assert refreshed is not None
    claims = verify_jwt(browser, refreshed["id_token"], audience=rp.client_id, typ="JWT")
    assert claims["sid"] == first["sid"]

    sign_in(browser, "grace@example.com")  # another person on this browser ends Ada's session
    deliver()

    [logout] = received_claims(browser, receiver, rp)
    assert logout["sid"] == first["sid"]


def test_authenticating_again_while_signed_in_is_not_a_logout(
    app: Flask, receiver: LogoutReceiver
) -> None:
    """Signing in again as the same person, or setting up a second factor (which steps the
    session up), renews the session's cookie but keeps its `sid`; relying parties signed in
    through it hear nothing, and its ID tokens still name it."""
    make_user()
    rp = make_relying_party(backchannel_logout_uri=receiver.uri)
    browser = app.test_client()
    sign_in(browser)
    first, _ = id_token_claims(browser, rp)
    cookie_before = browser.get_cookie(COOKIE_NAME)

    sign_in(browser)
    enrol(browser)
    deliver()

    assert receiver.snapshot() == []
    assert browser.get("/account").status_code == 200
    after = browser.get_cookie(COOKIE_NAME)
    assert after is not None and cookie_before is not None
    assert after.value != cookie_before.value, "a new token at every authentication"
    again, _ = id_token_claims(browser, rp)
    assert again["sid"] == first["sid"]
    assert again["amr"] == ["pwd", "otp"]  # the step-up shows in the same session
    sign_out_button(browser)
    deliver()
    [logout] = received_claims(browser, receiver, rp)
    assert logout["sid"] == first["sid"]
