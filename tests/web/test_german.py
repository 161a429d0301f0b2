"""German, the language shipped beside English: pages, form errors and mails read in German.

The app reads the shipped catalog (authserver/translations/de/.../messages.po), compiled here
into the operator's folder as `make translations` compiles it, so these tests do not depend
on a build step having run. The contract labels (Email, Password, Sign in) are English-page
labels: a German page says E-Mail, Passwort, Anmelden.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from authserver.mail_language import written_time
from authserver.web.languages import TRANSLATIONS
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.security.test_new_device_alerts import audit_rows
from tests.support.account import SAFARI_IPHONE, audit_tags, read_outbox, submit, the_user
from tests.support.web import csrf_token, sign_in

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE, de;q=0.9, en;q=0.5"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-GB, en;q=0.9"}
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
NEW_PASSWORD = "ein ganz neuer Satz als Passwort"


@pytest.fixture(scope="session")
def german_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("translations")
    target = folder / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="de")
    with (target / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)
    return folder


@pytest.fixture
def site(app: Flask, make_app: AppFactory, german_catalog: Path, tmp_path: Path) -> Iterator[Flask]:
    """Open sign-up, mail written to files; `app` only empties the database."""
    built = make_app(
        translations_dir=str(german_catalog),
        registration="open",
        mail_backend="file",
        mail_file_dir=str(tmp_path / "outbox"),
    )
    with built.app_context():
        make_user()
        yield built


def browser(site: Flask, language: dict[str, str]) -> FlaskClient:
    client = site.test_client()
    client.environ_base.update(language, HTTP_USER_AGENT=FIREFOX_LINUX)
    return client


def subject_of(message: Message) -> str:
    return str(make_header(decode_header(str(message["Subject"]))))


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def test_a_german_browser_gets_the_sign_in_page_in_german(site: Flask) -> None:
    page = browser(site, GERMAN).get("/login").text
    assert '<html lang="de">' in page
    assert "<title>Anmelden " in page
    assert '<label for="email">E-Mail</label>' in page
    assert '<label for="password">Passwort</label>' in page
    assert '<button type="submit">Anmelden</button>' in page
    assert "Passwort vergessen?" in page
    assert '"password-toggle-text">Passwort anzeigen</span>' in page
    assert 'class="visually-hidden"> (Passwort)</span>' in page  # the toggle's name ends so
    # Nothing of the English page is left on it.
    for english in (">Sign in<", ">Email<", ">Password<", "Forgot password?", "Show password"):
        assert english not in page


def test_the_switcher_offers_deutsch_named_in_itself(site: Flask) -> None:
    page = browser(site, ENGLISH).get("/login").text
    assert '<html lang="en">' in page
    assert '<option value="de" lang="de">Deutsch</option>' in page
    assert '<option value="en" lang="en" selected>English</option>' in page


def test_the_switcher_turns_an_english_browser_german(site: Flask) -> None:
    client = browser(site, ENGLISH)
    answer = client.post("/language", data={"language": "de", "next": "/reset"})
    assert answer.status_code == 303
    page = client.get("/reset").text
    assert '<html lang="de">' in page
    assert "<h1>Passwort zurücksetzen</h1>" in page


def test_password_policy_errors_are_german_on_a_german_page(site: Flask) -> None:
    client = browser(site, GERMAN)
    form = client.get("/signup").text
    answer = client.post(
        "/signup",
        data={"csrf_token": csrf_token(form), "email": "not-an-address", "password": "password"},
    )
    assert answer.status_code == 400
    page = answer.text
    assert "<title>Fehler: Konto erstellen " in page
    assert "Das Passwort muss mindestens 12 Zeichen lang sein." in page
    assert "Das Passwort ist zu verbreitet" in page
    assert "Die E-Mail-Adresse muss die Form name@example.org haben." in page
    assert "Password must be" not in page


def test_the_same_errors_stay_english_on_an_english_page(site: Flask) -> None:
    client = browser(site, ENGLISH)
    form = client.get("/signup").text
    answer = client.post(
        "/signup", data={"csrf_token": csrf_token(form), "email": "x@example.org", "password": "p"}
    )
    assert answer.status_code == 400
    assert "Password must be at least 12 characters." in answer.text


def test_wtforms_own_messages_are_german_too(site: Flask) -> None:
    client = browser(site, GERMAN)
    form = client.get("/login").text
    answer = client.post(
        "/login", data={"csrf_token": csrf_token(form), "email": "", "password": ""}
    )
    assert answer.status_code == 400
    assert "Dieses Feld wird benötigt." in answer.text
    assert "This field is required." not in answer.text


def test_error_pages_are_german_and_protocol_errors_stay_english(site: Flask) -> None:
    client = browser(site, GERMAN)
    missing = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    assert "<h1>Seite nicht gefunden</h1>" in missing.text

    wrong_method = client.delete("/login", headers={"Accept": "text/html"})
    assert wrong_method.status_code == 405
    assert "<h1>Methode nicht erlaubt</h1>" in wrong_method.text

    # RFC 6749 §5.2: error_description is for the client's developer, in US-ASCII.
    protocol = client.get("/oauth/token")
    assert protocol.status_code == 405
    assert protocol.json == {"error": "invalid_request", "error_description": "Method Not Allowed"}


def test_a_german_account_page_names_the_device_in_german(
    site: Flask,
) -> None:
    client = browser(site, GERMAN)
    assert sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code == 303
    page = client.get("/account").text
    assert "Firefox unter Linux" in page
    assert "Firefox on Linux" not in page
    assert "Wo Sie angemeldet sind" in page


def test_a_new_device_notice_names_the_device_in_german_and_audits_it_in_english(
    site: Flask, tmp_path: Path
) -> None:
    assert sign_in(browser(site, GERMAN), DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code == 303
    phone = site.test_client()
    phone.environ_base.update(GERMAN, HTTP_USER_AGENT=SAFARI_IPHONE, REMOTE_ADDR="203.0.113.7")
    signed_in = sign_in(phone, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    signed_in.close()  # the notice goes after the response
    assert signed_in.status_code == 303

    [notice] = read_outbox(tmp_path / "outbox")
    assert subject_of(notice) == "localhost: Neue Anmeldung bei Ihrem Konto"
    body = " ".join(body_of(notice).split())
    assert "Gerät: Safari unter iOS (wie sich der Browser selbst beschreibt)" in body
    assert "IP-Adresse: 203.0.113.7" in body
    [row] = audit_rows("user:login:new-device-notice")
    assert row.detail == {"device": "Safari on iOS"}


def test_mail_follows_the_account_language_not_the_asking_browser(
    site: Flask, tmp_path: Path
) -> None:
    german = browser(site, GERMAN)
    assert sign_in(german, DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code == 303
    assert the_user().language == "de"

    # Someone asks for a reset from an English page: the owner reads German.
    english = browser(site, ENGLISH)
    form = english.get("/reset").text
    asked = english.post(
        "/reset", data={"csrf_token": csrf_token(form), "email": DEFAULT_EMAIL}, buffered=True
    )
    assert asked.status_code == 200
    assert '<html lang="en">' in asked.text
    [reset] = read_outbox(tmp_path / "outbox")
    assert subject_of(reset) == "localhost: Passwort zurücksetzen"
    body = body_of(reset)
    assert body.startswith("Guten Tag,")
    assert "Wir haben eine Anfrage erhalten, das Passwort Ihres localhost-Kontos" in body
    assert "We received a request" not in body


def test_a_german_notice_names_the_day_in_german(site: Flask, tmp_path: Path) -> None:
    german = browser(site, GERMAN)
    assert sign_in(german, DEFAULT_EMAIL, DEFAULT_PASSWORD).status_code == 303
    changed = submit(
        german,
        "/account/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 303
    assert "user:password-change" in audit_tags()
    [notice] = read_outbox(tmp_path / "outbox")
    assert subject_of(notice) == "localhost: Ihr Passwort wurde geändert"
    body = " ".join(body_of(notice).split())
    weekdays = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
    assert any(f"wurde am {day}, " in body for day in weekdays), body
    assert " UTC geändert." in body


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Monday, December 7, 2026, 15:04 UTC"),
        ("de", "Montag, 7. Dezember 2026, 15:04 UTC"),
    ],
)
def test_a_written_time_is_in_the_mails_language(site: Flask, language: str, expected: str) -> None:
    moment = datetime(2026, 12, 7, 15, 4, 59, tzinfo=UTC)
    with force_locale(language):
        assert str(written_time(moment)) == expected
