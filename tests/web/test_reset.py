"""Password reset by email, through the pages, with a real SMTP server receiving the mail.

Each test reads the delivered message, takes the link out of it and follows it with the test
client, as the account owner would with a mail program and a browser.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.accounts.credentials import end_all_credentials
from authserver.accounts.lifecycle import authenticate, find_user_by_email
from authserver.extensions import db
from authserver.models import AuditEvent, PasswordResetToken
from authserver.security.errors import InvalidCredentials
from tests.conftest import AppFactory
from tests.support.logs import captured_log
from tests.support.mailbox import link_in, smtp_app, text_of
from tests.support.oauth import (
    PASSWORD,
    Pkce,
    RelyingParty,
    exchange_code,
    make_relying_party,
    make_user,
    obtain_code,
    sign_in,
    token_request,
)
from tests.support.smtp import Inbox
from tests.support.web import csrf_token

EMAIL = "ada@example.com"
NEW_PASSWORD = "a brand new passphrase for ada"
ISSUER = "http://localhost"  # tests/support/settings.py
RESET_LINK_PREFIX = ISSUER + "/reset/"


def request_reset(browser: FlaskClient, email: str = EMAIL, **kwargs: object) -> TestResponse:
    """GET the request page, POST its form; the response is closed, so its mail has gone."""
    page = browser.get("/reset", **kwargs)  # type: ignore[arg-type]
    return browser.post(
        "/reset",
        data={"csrf_token": csrf_token(page.text), "email": email},
        buffered=True,  # closes the response, as a WSGI server does once it is sent
        **kwargs,  # type: ignore[arg-type]
    )


def set_password(browser: FlaskClient, link: str, password: str) -> TestResponse:
    path = urlsplit(link).path
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return browser.post(
        path, data={"csrf_token": csrf_token(page.text), "password": password}, buffered=True
    )


def reset_link(inbox: Inbox, index: int = -1) -> str:
    message = inbox.messages[index]
    assert message["Subject"] == "localhost: Reset your password"
    return link_in(message, RESET_LINK_PREFIX)


def password_works(email: str, password: str) -> bool:
    db.session.rollback()  # see what the requests committed
    try:
        authenticate(email, password, now=datetime.now(UTC))
    except InvalidCredentials:
        return False
    return True


def stored_links() -> int:
    db.session.rollback()
    return len(db.session.scalars(select(PasswordResetToken)).all())


def audit_events(prefix: str) -> list[AuditEvent]:
    db.session.rollback()
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    return [event for event in events if event.event.startswith(prefix)]


def tokens_for(browser: FlaskClient, rp: RelyingParty) -> dict[str, str]:
    sign_in(browser)
    pkce = Pkce()
    response = exchange_code(browser, rp, obtain_code(browser, rp, pkce), pkce)
    assert response.status_code == 200, response.json
    return dict(response.json)


# --- the pages -------------------------------------------------------------------------------


def test_the_sign_in_page_links_to_a_labelled_request_form(browser: FlaskClient) -> None:
    login = browser.get("/login")
    assert re.search(r'<a href="/reset">Forgot password\?</a>', login.text)

    page = browser.get("/reset")

    assert page.status_code == 200
    assert '<label for="email">Email</label>' in page.text
    assert re.search(r"<button[^>]*>Send reset link</button>", page.text)
    assert csrf_token(page.text)


# --- the whole flow ------------------------------------------------------------------------------


def test_a_reset_sets_the_password_and_ends_everything_the_account_held(
    browser: FlaskClient, mailer: Flask, inbox: Inbox
) -> None:
    make_user()
    rp = make_relying_party()
    other_browser = mailer.test_client()
    tokens = tokens_for(other_browser, rp)
    assert "Signed in as" in other_browser.get("/").text

    sent = request_reset(browser)
    assert sent.status_code == 200
    assert "Check your email" in sent.text
    [message] = inbox.messages
    assert message["To"] == EMAIL
    link = reset_link(inbox)
    token = link.removeprefix(RESET_LINK_PREFIX)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 256 random bits, base64url

    page = browser.get(urlsplit(link).path)
    assert page.status_code == 200
    assert '<label for="password">New password</label>' in page.text
    assert re.search(r"<button[^>]*>Set password</button>", page.text)
    done = set_password(browser, link, NEW_PASSWORD)

    assert done.status_code == 303
    assert done.headers["Location"] == "/reset/done"
    assert "Password changed" in browser.get("/reset/done").text
    assert password_works(EMAIL, NEW_PASSWORD)
    assert not password_works(EMAIL, PASSWORD)
    # Every credential issued before the reset is dead: the session, the access token (RFC 7662
    # introspection says inactive) and the refresh token (RFC 6749 §5.2 invalid_grant).
    assert other_browser.get("/").status_code == 303
    introspected = token_request(
        browser, rp, {"token": tokens["access_token"]}, path="/oauth/introspect"
    )
    assert introspected.json == {"active": False}
    refreshed = token_request(
        browser, rp, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 400
    assert refreshed.json["error"] == "invalid_grant"
    # The owner is told, at the account's address.
    [_, notice] = inbox.messages
    assert notice["To"] == EMAIL
    assert notice["Subject"] == "localhost: Your password was changed"
    assert "signed out" in text_of(notice)
    assert [(event.event, event.outcome) for event in audit_events("user:password-reset")] == [
        ("user:password-reset:request", "success"),
        ("user:password-reset", "success"),
    ]


def test_the_stored_token_is_a_hash_of_the_one_in_the_link(
    browser: FlaskClient, inbox: Inbox
) -> None:
    make_user()

    request_reset(browser)

    token = reset_link(inbox).removeprefix(RESET_LINK_PREFIX)
    db.session.rollback()
    [row] = db.session.scalars(select(PasswordResetToken))
    assert len(row.token_hash) == 64  # SHA-256, hex
    assert token not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(minutes=30)


# --- no enumeration ------------------------------------------------------------------------------


def without_echo(html: str, email: str) -> str:
    return html.replace(email, "EMAIL")


def test_every_address_gets_the_same_answer_and_only_a_real_account_gets_mail(
    browser: FlaskClient, inbox: Inbox
) -> None:
    make_user()
    disabled = make_user("grace@example.com")
    disabled.is_disabled = True
    db.session.commit()

    answers = {
        email: request_reset(browser, email)
        for email in (EMAIL, "nobody@example.com", "grace@example.com", "not even an address")
    }

    assert {answer.status_code for answer in answers.values()} == {200}
    assert len({without_echo(answer.text, email) for email, answer in answers.items()}) == 1
    assert len({tuple(sorted(answer.headers.keys())) for answer in answers.values()}) == 1
    assert [message["To"] for message in inbox.messages] == [EMAIL]
    requests = audit_events("user:password-reset:request")
    assert [(event.outcome, event.detail) for event in requests] == [
        ("success", {}),
        ("failure", {"reason": "no-account"}),
        ("failure", {"reason": "disabled"}),
        ("failure", {"reason": "no-account"}),
    ]


def test_the_link_is_made_and_mailed_after_the_response(browser: FlaskClient, inbox: Inbox) -> None:
    """Only real accounts get a link and a mail, so neither may delay the answer (ASVS 5.0
    V6.3.8): the whole response exists before the address is looked up."""
    make_user()
    page = browser.get("/reset")

    response = browser.post("/reset", data={"csrf_token": csrf_token(page.text), "email": EMAIL})

    assert response.status_code == 200
    assert inbox.messages == []
    assert stored_links() == 0
    assert audit_events("password_reset") == []
    response.close()  # what the WSGI server does after writing the last byte
    assert [message["To"] for message in inbox.messages] == [EMAIL]
    assert stored_links() == 1


def test_a_database_failure_after_the_answer_is_logged_and_asking_again_works(
    browser: FlaskClient, inbox: Inbox
) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the failure is injected by holding SQLite's write lock")
    make_user()
    page = browser.get("/reset")
    response = browser.post("/reset", data={"csrf_token": csrf_token(page.text), "email": EMAIL})
    assert response.status_code == 200

    blocker = sqlite3.connect(str(db.engine.url.database), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the link cannot be written past the busy timeout
        with captured_log() as log:
            response.close()  # raises nothing: the answer has gone, there is no one to tell
    finally:
        blocker.rollback()
        blocker.close()

    [error] = [r for r in log.records() if r["level"] == "ERROR"]
    assert error["message"] == "work after the response not done: database locked"
    assert "exception" not in error
    assert inbox.messages == [] and stored_links() == 0
    assert request_reset(browser).status_code == 200
    assert reset_link(inbox).startswith(RESET_LINK_PREFIX)


def test_an_unreachable_mail_server_does_not_change_the_answer(
    app: Flask, make_app: AppFactory
) -> None:
    make_user()
    broken = make_app(mail_backend="smtp", smtp_host="127.0.0.1", smtp_port=1, smtp_starttls=False)

    answer = request_reset(broken.test_client())

    assert answer.status_code == 200
    assert "Check your email" in answer.text


# --- where the link points -----------------------------------------------------------------------


def test_the_link_is_built_from_the_issuer_whatever_host_the_request_names(
    browser: FlaskClient, inbox: Inbox
) -> None:
    make_user()

    request_reset(
        browser,
        base_url="http://attacker.example",
        headers={"X-Forwarded-Host": "attacker.example", "Forwarded": "host=attacker.example"},
    )

    [message] = inbox.messages
    assert "attacker.example" not in text_of(message)
    assert reset_link(inbox).startswith(RESET_LINK_PREFIX)


def test_the_link_page_keeps_the_token_to_itself(browser: FlaskClient, inbox: Inbox) -> None:
    make_user()
    request_reset(browser)
    path = urlsplit(reset_link(inbox)).path

    page = browser.get(path)

    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    # Nothing on the page is fetched from, or points to, another site.
    references = re.findall(r'(?:src|href|action)="([^"]*)"', page.text)
    assert references
    assert all(reference.startswith("/") for reference in references), references


# --- links that cannot be used -------------------------------------------------------------------


def test_a_used_link_is_refused_and_changes_nothing(browser: FlaskClient, inbox: Inbox) -> None:
    make_user()
    request_reset(browser)
    link = reset_link(inbox)
    path = urlsplit(link).path
    form_page = browser.get(path)
    assert set_password(browser, link, NEW_PASSWORD).status_code == 303

    again = browser.get(path)
    replayed = browser.post(
        path,
        data={"csrf_token": csrf_token(form_page.text), "password": "yet another passphrase"},
    )

    for refused in (again, replayed):
        assert refused.status_code == 400
        assert "This reset link cannot be used" in refused.text
        assert refused.headers["Referrer-Policy"] == "no-referrer"
    assert password_works(EMAIL, NEW_PASSWORD)
    assert not password_works(EMAIL, "yet another passphrase")
    failures = audit_events("user:password-reset:failure")
    assert [event.detail for event in failures] == [{"reason": "used"}, {"reason": "used"}]
    owner = find_user_by_email(EMAIL)
    assert owner is not None
    assert {event.user_subject for event in failures} == {owner.subject}


def test_an_expired_link_is_refused(browser: FlaskClient, inbox: Inbox) -> None:
    make_user()
    requested_at = datetime.now(UTC)
    with time_machine.travel(requested_at, tick=False):
        request_reset(browser)
    path = urlsplit(reset_link(inbox)).path
    with time_machine.travel(requested_at + timedelta(minutes=29), tick=False):
        page = browser.get(path)
        assert page.status_code == 200

    with time_machine.travel(requested_at + timedelta(minutes=30), tick=False):
        expired = browser.post(
            path, data={"csrf_token": csrf_token(page.text), "password": NEW_PASSWORD}
        )

    assert expired.status_code == 400
    assert "This reset link cannot be used" in expired.text
    assert password_works(EMAIL, PASSWORD)
    assert audit_events("user:password-reset:failure")[-1].detail == {"reason": "expired"}


def test_the_lifetime_is_a_setting(app: Flask, make_app: AppFactory, inbox: Inbox) -> None:
    short = smtp_app(app, make_app, inbox, reset_token_ttl=60)
    make_user()
    request_reset(short.test_client())

    db.session.rollback()
    [row] = db.session.scalars(select(PasswordResetToken))
    assert row.expires_at - row.created_at == timedelta(seconds=60)
    assert "within 1 minute:" in text_of(inbox.messages[0])


def test_a_new_link_replaces_the_older_ones(browser: FlaskClient, inbox: Inbox) -> None:
    make_user()
    request_reset(browser)
    request_reset(browser)
    first, second = reset_link(inbox, 0), reset_link(inbox, 1)
    assert first != second

    assert browser.get(urlsplit(first).path).status_code == 400
    assert set_password(browser, second, NEW_PASSWORD).status_code == 303
    assert password_works(EMAIL, NEW_PASSWORD)


@pytest.mark.parametrize(
    "path",
    [
        "/reset/not-a-token",
        "/reset/" + "A" * 43,  # the right shape, never issued
        "/reset/" + "A" * 5000,
        "/reset/%00%ff",
    ],
)
def test_made_up_links_get_the_same_refusal(browser: FlaskClient, path: str) -> None:
    response = browser.get(path)

    assert response.status_code == 400
    assert "This reset link cannot be used" in response.text


def test_a_link_dies_with_the_account_s_other_credentials(
    browser: FlaskClient, inbox: Inbox
) -> None:
    user = make_user()
    request_reset(browser)

    end_all_credentials(user, now=datetime.now(UTC))  # e.g. an administrator disabled it
    db.session.commit()

    assert browser.get(urlsplit(reset_link(inbox)).path).status_code == 400


# --- choosing the new password -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("too short", "Password must be at least 12 characters."),
        ("password1234", "Password is too common: it appears in lists of passwords leaked"),
        ("my name is ADALACE, see", "Password must not contain the part of the email address"),
    ],
)
def test_a_password_the_policy_refuses_says_why_and_keeps_the_link(
    browser: FlaskClient, inbox: Inbox, password: str, reason: str
) -> None:
    make_user(email="adalace@example.com")
    request_reset(browser, "adalace@example.com")
    link = reset_link(inbox)

    refused = set_password(browser, link, password)

    assert refused.status_code == 400
    assert reason in refused.text
    assert refused.headers["Referrer-Policy"] == "no-referrer"
    assert password_works("adalace@example.com", PASSWORD)
    assert set_password(browser, link, NEW_PASSWORD).status_code == 303


def test_the_form_needs_its_csrf_token(browser: FlaskClient, inbox: Inbox) -> None:
    make_user()
    request_reset(browser)
    path = urlsplit(reset_link(inbox)).path

    forged = browser.post(path, data={"password": NEW_PASSWORD})
    request_without_token = browser.post("/reset", data={"email": EMAIL})

    assert forged.status_code == 400
    assert "The form expired. Please try again." in forged.text
    assert request_without_token.status_code == 400
    assert "The form expired. Please try again." in request_without_token.text
    assert password_works(EMAIL, PASSWORD)
    assert len(inbox.messages) == 1


def test_over_https_the_form_works_without_a_referer(browser: FlaskClient, inbox: Inbox) -> None:
    """`Referrer-Policy: no-referrer` means the browser posts the form without a Referer, which
    Flask-WTF's global check would refuse over https; the form's own token check stands in."""
    make_user()
    request_reset(browser)
    path = urlsplit(reset_link(inbox)).path
    page = browser.get(path, base_url="https://localhost")

    without_token = browser.post(
        path, data={"password": NEW_PASSWORD}, base_url="https://localhost"
    )
    with_token = browser.post(
        path,
        data={"csrf_token": csrf_token(page.text), "password": NEW_PASSWORD},
        base_url="https://localhost",
    )

    assert without_token.status_code == 400
    assert with_token.status_code == 303
    assert password_works(EMAIL, NEW_PASSWORD)


def test_two_submissions_of_one_link_at_once_set_one_password(mailer: Flask, inbox: Inbox) -> None:
    make_user()
    first_browser, second_browser = mailer.test_client(), mailer.test_client()
    request_reset(first_browser)
    path = urlsplit(reset_link(inbox)).path
    forms = [
        (client, csrf_token(client.get(path).text)) for client in (first_browser, second_browser)
    ]
    passwords = ["first concurrent passphrase", "second concurrent passphrase"]
    start = threading.Barrier(2)

    def submit(index: int) -> int:
        client, token = forms[index]
        start.wait()
        response = client.post(path, data={"csrf_token": token, "password": passwords[index]})
        return response.status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(submit, range(2)))

    assert statuses == [303, 400]
    assert [password_works(EMAIL, password) for password in passwords].count(True) == 1
