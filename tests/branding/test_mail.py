"""The brand in every mail: the subject names the service, the body says "your <brand>
account", and the signature names it (with the help link when there is one). Sent over SMTP to
a real server on loopback, from a page and from a command."""

from __future__ import annotations

from email.message import Message
from pathlib import Path

from flask import Flask

from authserver.cli import main
from tests.conftest import AppFactory
from tests.factories import make_user
from tests.support.brand import BRAND_NAME, SUPPORT_URL, brand_settings, png_bytes, write_logo
from tests.support.mailbox import smtp_app, text_of, wait_for_messages
from tests.support.smtp import smtp_server
from tests.support.web import csrf_token

EMAIL = "ada@example.com"


def request_reset(mailer: Flask) -> Message:
    browser = mailer.test_client()
    page = browser.get("/reset")
    browser.post(
        "/reset", data={"csrf_token": csrf_token(page.text), "email": EMAIL}, buffered=True
    )
    return text_message(mailer)


def text_message(mailer: Flask) -> Message:
    inbox = mailer.extensions["test.inbox"]
    [message] = wait_for_messages(inbox, 1)
    return message


def test_a_branded_mail_names_the_service_in_subject_body_and_signature(
    app: Flask, make_app: AppFactory, tmp_path: Path
) -> None:
    make_user(EMAIL)
    logo = write_logo(tmp_path / "brand", "logo.png", png_bytes())
    with smtp_server() as inbox:
        mailer = smtp_app(app, make_app, inbox, **brand_settings(logo))
        mailer.extensions["test.inbox"] = inbox
        message = request_reset(mailer)

    assert message["Subject"] == f"{BRAND_NAME}: Reset your password"
    body = text_of(message)
    assert f"reset the password of your {BRAND_NAME} account {EMAIL}." in body
    assert "http://localhost." not in body  # no "an account at <issuer>" any more
    assert body.splitlines()[-4:] == ["", "-- ", BRAND_NAME, f"Help: {SUPPORT_URL}"]


def test_an_unbranded_mail_names_the_issuers_host(app: Flask, make_app: AppFactory) -> None:
    make_user(EMAIL)
    with smtp_server() as inbox:
        mailer = smtp_app(app, make_app, inbox)
        mailer.extensions["test.inbox"] = inbox
        message = request_reset(mailer)

    assert message["Subject"] == "localhost: Reset your password"
    body = text_of(message)
    assert f"reset the password of your localhost account {EMAIL}." in body
    # No help link without AUTHSERVER_SUPPORT_URL.
    assert body.splitlines()[-3:] == ["", "-- ", "localhost"]


def test_a_commands_mail_is_branded_too(app: Flask, make_app: AppFactory) -> None:
    with smtp_server() as inbox:
        mailer = smtp_app(app, make_app, inbox, brand_name=BRAND_NAME)
        # The command runs in the app whose context is current: the one mailing to `inbox`.
        with mailer.app_context():
            result = mailer.test_cli_runner().invoke(
                main,
                ["user", "create", EMAIL, "--password-stdin"],
                input="a long enough passphrase\n",
            )
        assert result.exit_code == 0, result.output
        [message] = wait_for_messages(inbox, 1)

    assert message["Subject"] == f"{BRAND_NAME}: Confirm your email address"
    body = text_of(message)
    assert f"Your {BRAND_NAME} account uses this address: {EMAIL}." in body
    assert body.splitlines()[-3:] == ["", "-- ", BRAND_NAME]
