"""Email verification: `user create` mails a link over SMTP; the link page verifies on a POST.

Also the rule that reset and verification tokens are different purposes: neither works as the
other.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.accounts.lifecycle import find_user_by_email
from authserver.cli import main
from authserver.extensions import db
from authserver.models import AuditEvent, EmailVerificationToken, User
from tests.support.mailbox import link_in
from tests.support.oauth import (
    PASSWORD,
    Pkce,
    exchange_code,
    make_relying_party,
    obtain_code,
    sign_in,
)
from tests.support.smtp import Inbox
from tests.support.web import csrf_token

EMAIL = "ada@example.com"
ISSUER = "http://localhost"
VERIFY_LINK_PREFIX = ISSUER + "/verify-email/"
RESET_LINK_PREFIX = ISSUER + "/reset/"


def run_cli(mailer: Flask, *args: str, stdin: str | None = None) -> Result:
    # Commands reuse the app context they find; the test's own belongs to the console-mail app.
    with mailer.app_context():
        return mailer.test_cli_runner().invoke(main, args, input=stdin)


def create_account(mailer: Flask, *options: str) -> str:
    result = run_cli(mailer, "user", "create", EMAIL, "--password-stdin", *options, stdin=PASSWORD)
    assert result.exit_code == 0, result.output
    return result.stdout


def verification_link(inbox: Inbox, index: int = -1) -> str:
    message = inbox.messages[index]
    assert message["Subject"] == "localhost: Confirm your email address"
    return link_in(message, VERIFY_LINK_PREFIX)


def press_verify(browser: FlaskClient, link: str) -> TestResponse:
    path = urlsplit(link).path
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return browser.post(path, data={"csrf_token": csrf_token(page.text)})


def stored_user(email: str = EMAIL) -> User:
    db.session.rollback()  # see what the requests committed
    user = find_user_by_email(email)
    assert user is not None
    return user


def userinfo(browser: FlaskClient) -> dict[str, object]:
    sign_in(browser)
    rp = make_relying_party()
    pkce = Pkce()
    code = obtain_code(browser, rp, pkce, scope="openid email")
    token = exchange_code(browser, rp, code, pkce).json["access_token"]
    response = browser.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_a_new_account_verifies_its_address_through_the_mailed_link(
    mailer: Flask, browser: FlaskClient, inbox: Inbox
) -> None:
    output = create_account(mailer)
    assert f"verification link sent to {EMAIL}" in output
    [message] = inbox.messages
    assert message["To"] == EMAIL
    link = verification_link(inbox)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", link.removeprefix(VERIFY_LINK_PREFIX))
    assert userinfo(browser)["email_verified"] is False

    page = browser.get(urlsplit(link).path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert re.search(r"<button[^>]*>Verify email address</button>", page.text)
    assert stored_user().email_verified_at is None  # opening the link alone verifies nothing
    done = press_verify(browser, link)

    assert done.status_code == 303
    assert done.headers["Location"] == "/verify-email/done"
    assert "Email address verified" in browser.get("/verify-email/done").text
    assert stored_user().email_verified_at is not None
    assert userinfo(mailer.test_client())["email_verified"] is True
    events = db.session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert [e for e in events if e.startswith("user:email-verification")] == [
        "user:email-verification:request",
        "user:email-verification",
    ]


def test_verified_accounts_get_no_mail(mailer: Flask, inbox: Inbox) -> None:
    output = create_account(mailer, "--verified")

    assert "verification link" not in output
    assert inbox.messages == []
    assert stored_user().email_verified_at is not None


def test_a_link_verifies_once(mailer: Flask, browser: FlaskClient, inbox: Inbox) -> None:
    create_account(mailer)
    link = verification_link(inbox)
    path = urlsplit(link).path
    page = browser.get(path)
    assert press_verify(browser, link).status_code == 303
    verified_at = stored_user().email_verified_at

    again = browser.get(path)
    replayed = browser.post(path, data={"csrf_token": csrf_token(page.text)})

    for refused in (again, replayed):
        assert refused.status_code == 400
        assert "This verification link cannot be used" in refused.text
    assert stored_user().email_verified_at == verified_at


def test_a_link_lasts_24_hours(mailer: Flask, browser: FlaskClient, inbox: Inbox) -> None:
    sent_at = datetime.now(UTC)
    with time_machine.travel(sent_at, tick=False):
        create_account(mailer)
    path = urlsplit(verification_link(inbox)).path
    with time_machine.travel(sent_at + timedelta(hours=23, minutes=59), tick=False):
        page = browser.get(path)
        assert page.status_code == 200

    with time_machine.travel(sent_at + timedelta(hours=24), tick=False):
        expired = browser.post(path, data={"csrf_token": csrf_token(page.text)})

    assert expired.status_code == 400
    assert stored_user().email_verified_at is None
    db.session.rollback()
    [row] = db.session.scalars(select(EmailVerificationToken))
    assert row.expires_at - row.created_at == timedelta(hours=24)


def test_a_link_does_not_verify_an_address_the_account_no_longer_has(
    mailer: Flask, browser: FlaskClient, inbox: Inbox
) -> None:
    create_account(mailer)
    user = stored_user()
    user.email = "ada.new@example.com"  # no change-address service yet; the column will do
    db.session.commit()

    response = browser.get(urlsplit(verification_link(inbox)).path)

    assert response.status_code == 400
    assert stored_user("ada.new@example.com").email_verified_at is None


def test_the_confirmation_needs_its_csrf_token(
    mailer: Flask, browser: FlaskClient, inbox: Inbox
) -> None:
    create_account(mailer)
    path = urlsplit(verification_link(inbox)).path

    forged = browser.post(path)

    assert forged.status_code == 400
    assert "The form expired. Please try again." in forged.text
    assert stored_user().email_verified_at is None


def test_send_verification_replaces_the_earlier_link(
    mailer: Flask, browser: FlaskClient, inbox: Inbox
) -> None:
    create_account(mailer)
    result = run_cli(mailer, "user", "send-verification", EMAIL)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"verification link sent to {EMAIL}\n"
    first, second = verification_link(inbox, 0), verification_link(inbox, 1)
    assert browser.get(urlsplit(first).path).status_code == 400
    assert press_verify(browser, second).status_code == 303
    already = run_cli(mailer, "user", "send-verification", EMAIL)
    assert already.exit_code == 1
    assert already.stderr == f"error: {EMAIL} is already verified\n"
    assert len(inbox.messages) == 2


# --- reset and verification tokens are different purposes ----------------------------------------


def test_a_reset_token_does_not_verify_an_address(
    mailer: Flask, browser: FlaskClient, inbox: Inbox
) -> None:
    create_account(mailer)
    page = browser.get("/reset")
    browser.post(
        "/reset", data={"csrf_token": csrf_token(page.text), "email": EMAIL}, buffered=True
    )
    reset_token = link_in(inbox.messages[-1], RESET_LINK_PREFIX).removeprefix(RESET_LINK_PREFIX)

    shown = browser.get(f"/verify-email/{reset_token}")
    pressed = browser.post(
        f"/verify-email/{reset_token}", data={"csrf_token": csrf_token(page.text)}
    )

    assert shown.status_code == pressed.status_code == 400
    assert stored_user().email_verified_at is None


def test_a_verification_token_does_not_reset_a_password(
    mailer: Flask, browser: FlaskClient, inbox: Inbox
) -> None:
    create_account(mailer)
    token = verification_link(inbox).removeprefix(VERIFY_LINK_PREFIX)
    hash_before = stored_user().password_hash
    page = browser.get("/reset")

    shown = browser.get(f"/reset/{token}")
    posted = browser.post(
        f"/reset/{token}",
        data={"csrf_token": csrf_token(page.text), "password": "a brand new passphrase"},
    )

    assert shown.status_code == posted.status_code == 400
    assert stored_user().password_hash == hash_before


@pytest.mark.parametrize("path", ["/verify-email/nope", "/verify-email/" + "B" * 43])
def test_made_up_links_are_refused(browser: FlaskClient, path: str) -> None:
    response = browser.get(path)

    assert response.status_code == 400
    assert "This verification link cannot be used" in response.text
