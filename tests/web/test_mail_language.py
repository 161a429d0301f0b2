"""Mails in the recipient's language: the pages they last used, not whoever caused the mail.

A catalog of the test's own (Dutch, compiled into the operator's folder) translates the
subjects, so the tests hold whichever languages the project ships. Mail goes over SMTP to an
aiosmtpd server on loopback and is read there.
"""

from __future__ import annotations

from email.message import Message
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from authserver.cli import main
from authserver.extensions import db
from authserver.models import Invitation, User
from authserver.web.languages import shipped_languages
from tests.conftest import AppFactory
from tests.support.mailbox import smtp_app, text_of, wait_for_messages
from tests.support.oauth import make_user, sign_in
from tests.support.smtp import Inbox
from tests.support.web import csrf_token
from tests.web.test_languages import compile_catalog

EMAIL = "ada@example.com"
# The default brand name is the issuer's host (tests/support/settings.py: http://localhost).
BRAND_PREFIX = "localhost: "
RESET_NL = "Stel je wachtwoord opnieuw in"
DUTCH = {
    "Reset your password": RESET_NL,
    "Someone tried to create an account with your address": "Iemand wilde een account maken",
    "Confirm your email address": "Bevestig je e-mailadres",
    "You are invited to create an account": "Je bent uitgenodigd",
    "Hello,": "Hallo,",
    "Help": "Hulp",
}


@pytest.fixture
def dutch_mailer(app: Flask, make_app: AppFactory, inbox: Inbox, tmp_path: Path) -> Flask:
    own = tmp_path / "translations"
    compile_catalog(own, "nl", DUTCH)
    return smtp_app(
        app,
        make_app,
        inbox,
        translations_dir=str(own),
        registration="open",
        support_url="https://help.example.com",
    )


def browser_in(mailer: Flask, language: str) -> FlaskClient:
    browser = mailer.test_client()
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    return browser


def request_reset(browser: FlaskClient, email: str = EMAIL) -> None:
    page = browser.get("/reset")
    answer = browser.post(
        "/reset", data={"csrf_token": csrf_token(page.text), "email": email}, buffered=True
    )
    assert answer.status_code == 200


def sign_up_from(browser: FlaskClient, password: str) -> None:
    page = browser.get("/signup")
    answer = browser.post(
        "/signup",
        data={"csrf_token": csrf_token(page.text), "email": EMAIL, "password": password},
        buffered=True,  # closes the response: the account is made after it has gone
    )
    assert answer.status_code == 200, answer.text


def stored_language(email: str = EMAIL) -> str | None:
    db.session.rollback()  # see what the app's requests committed
    return db.session.execute(select(User.language).where(User.email == email)).scalar_one()


def subjects(inbox: Inbox, count: int) -> list[str]:
    """The subjects without the service's name before them (authserver/branding/)."""
    messages: list[Message] = wait_for_messages(inbox, count)
    named = [str(message["Subject"]).partition(BRAND_PREFIX) for message in messages]
    assert all(before == "" and prefix for before, prefix, _ in named), named
    return [subject for _, _, subject in named]


def test_a_sign_in_keeps_the_pages_language_for_later_mails(
    dutch_mailer: Flask, inbox: Inbox
) -> None:
    make_user(EMAIL)
    assert stored_language() is None  # made by an operator: not known yet
    assert sign_in(browser_in(dutch_mailer, "nl")).status_code == 303
    assert stored_language() == "nl"

    # The reset is asked for from an English browser; the owner reads Dutch, body included.
    request_reset(browser_in(dutch_mailer, "en"))
    assert subjects(inbox, 1) == [RESET_NL]
    body = text_of(inbox.messages[0])
    assert body.startswith("Hallo,")
    assert "We received a request" in body  # what the catalog does not translate stays English
    assert body.rstrip().endswith("Hulp: https://help.example.com")  # the signature too


def test_an_account_that_never_used_the_pages_gets_the_language_of_the_page_that_mails(
    dutch_mailer: Flask, inbox: Inbox
) -> None:
    make_user(EMAIL)
    request_reset(browser_in(dutch_mailer, "nl"))
    request_reset(browser_in(dutch_mailer, "en"))
    assert subjects(inbox, 2) == [RESET_NL, "Reset your password"]
    assert stored_language() is None  # asking for a reset proves nothing about who asked


def test_the_switcher_used_while_signed_in_changes_the_mails_language(
    dutch_mailer: Flask, inbox: Inbox
) -> None:
    make_user(EMAIL)
    browser = browser_in(dutch_mailer, "en")
    sign_in(browser)
    assert stored_language() == "en"
    answer = browser.post("/language", data={"language": "nl", "next": "/account"})
    assert answer.status_code == 303
    assert stored_language() == "nl"

    # Signed out, the switcher changes only the cookie.
    stranger = browser_in(dutch_mailer, "en")
    stranger.post("/language", data={"language": "en", "next": "/"})
    assert stored_language() == "nl"


def test_sign_up_records_the_language_and_mails_the_owner_in_theirs(
    dutch_mailer: Flask, inbox: Inbox
) -> None:
    sign_up_from(browser_in(dutch_mailer, "nl"), "a long enough passphrase")
    assert stored_language() == "nl"
    assert subjects(inbox, 1) == ["Bevestig je e-mailadres"]

    # Someone else tries the same address from an English page: the owner is told in Dutch.
    sign_up_from(browser_in(dutch_mailer, "en"), "another long passphrase")
    assert subjects(inbox, 2)[1] == "Iemand wilde een account maken"


def test_an_invitation_is_written_in_the_language_the_operator_names(
    dutch_mailer: Flask, inbox: Inbox
) -> None:
    runner: FlaskCliRunner = dutch_mailer.test_cli_runner()
    with dutch_mailer.app_context():  # the command's app, not the test's own
        dutch = runner.invoke(main, ["user", "invite", "nl@example.com", "--language", "nl"])
        english = runner.invoke(main, ["user", "invite", "en@example.com"])
    assert dutch.exit_code == 0, dutch.output
    assert english.exit_code == 0, english.output
    assert subjects(inbox, 2) == ["Je bent uitgenodigd", "You are invited to create an account"]


def test_an_unknown_invitation_language_is_refused_and_nothing_is_made(
    dutch_mailer: Flask, inbox: Inbox
) -> None:
    runner: FlaskCliRunner = dutch_mailer.test_cli_runner()
    with dutch_mailer.app_context():
        answer = runner.invoke(main, ["user", "invite", "xx@example.com", "--language", "xx"])
        shipped = shipped_languages()
    assert answer.exit_code != 0
    assert "unknown language 'xx'" in answer.output
    # Every language there is (English first, the operator's Dutch, and what the project ships).
    assert shipped[0] == "en" and "nl" in shipped
    assert f"this server ships {', '.join(shipped)}" in answer.output
    db.session.rollback()
    assert db.session.execute(select(Invitation)).first() is None
    assert inbox.messages == []
