"""Outgoing mail through each backend, over a real SMTP connection for smtp."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask

from authserver.mail import MailDeliveryError, mail_directory, send_mail
from tests.conftest import AppFactory
from tests.support.smtp import free_port, smtp_server


def test_smtp_backend_delivers_to_a_real_server(app: Flask, make_app: AppFactory) -> None:
    with smtp_server() as inbox:
        mailer = make_app(
            mail_backend="smtp",
            smtp_host=inbox.host,
            smtp_port=inbox.port,
            smtp_starttls=False,
            mail_from="id@example.com",
        )
        with mailer.app_context():
            send_mail("ada@example.com", "Hello", "Body line\n")

    [message] = inbox.messages
    assert message["To"] == "ada@example.com"
    assert message["From"] == "id@example.com"
    assert message["Subject"] == "Hello"
    assert message.get_payload(decode=True).splitlines() == [b"Body line"]


def test_unreachable_smtp_server_is_a_delivery_error(app: Flask, make_app: AppFactory) -> None:
    mailer = make_app(mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=free_port())

    with mailer.app_context(), pytest.raises(MailDeliveryError):
        send_mail("ada@example.com", "Hello", "Body")


def test_file_backend_writes_private_files(
    app: Flask, make_app: AppFactory, tmp_path: Path
) -> None:
    mailer = make_app(mail_backend="file", mail_file_dir=str(tmp_path / "outbox"))

    with mailer.app_context():
        send_mail("ada@example.com", "Reset", "https://id.example.com/reset/abc")
        [written] = list(mail_directory(mailer.extensions["authserver.settings"]).iterdir())

    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert b"https://id.example.com/reset/abc" in written.read_bytes()


def test_console_backend_prints_for_the_developer(
    app: Flask, make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    mailer = make_app(mail_backend="console")

    with mailer.app_context():
        send_mail("ada@example.com", "Hi", "See you")

    printed = capsys.readouterr()
    assert "Subject: Hi" in printed.err
    assert printed.out == ""  # stdout is left to the command that sent the mail
