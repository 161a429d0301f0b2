"""Invitations: `user invite` mails a single-use link over SMTP; the page behind it sets a
password and the account exists, its address verified, and signs in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.accounts.lifecycle import list_users
from authserver.cli import main
from authserver.extensions import db
from authserver.models import AuditEvent
from tests.accounts.test_email_addresses import CYRILLIC
from tests.conftest import AppFactory
from tests.support.mailbox import link_in, smtp_app, text_of
from tests.support.oauth import make_user
from tests.support.smtp import Inbox
from tests.support.web import csrf_token, sign_in
from tests.web.test_verify_email import stored_user

EMAIL = "grace@example.com"
PASSWORD = "a long phrase nobody else would pick"
LINK_PREFIX = "http://localhost/invitation/"


def invited_app(app: Flask, make_app: AppFactory, inbox: Inbox, mode: str) -> Flask:
    return smtp_app(app, make_app, inbox, registration=mode)


@pytest.fixture
def inviter(app: Flask, make_app: AppFactory, inbox: Inbox) -> Flask:
    return invited_app(app, make_app, inbox, "invite")


def run_cli(mailer: Flask, *args: str) -> Result:
    with mailer.app_context():
        return mailer.test_cli_runner().invoke(main, args)


def invite(mailer: Flask, *options: str) -> dict[str, object]:
    result = run_cli(mailer, "user", "invite", EMAIL, "--json", *options)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def accept(browser: FlaskClient, link: str, password: str = PASSWORD) -> TestResponse:
    path = urlsplit(link).path
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return browser.post(path, data={"csrf_token": csrf_token(page.text), "password": password})


def events(prefix: str) -> list[tuple[str, str, str | None]]:
    db.session.rollback()
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    return [(r.event, r.outcome, r.user_subject) for r in rows if r.event.startswith(prefix)]


def test_an_invitation_creates_a_verified_account_that_signs_in(
    inviter: Flask, inbox: Inbox
) -> None:
    printed = invite(inviter, "--name", "Grace Hopper")

    [message] = inbox.messages
    assert message["To"] == EMAIL
    assert message["Subject"] == "localhost: You are invited to create an account"
    link = link_in(message, LINK_PREFIX)
    assert printed["link"] == link
    assert printed["email"] == EMAIL
    assert printed["mailed"] is True
    assert "within 7 days" in text_of(message)
    expires_at = datetime.fromisoformat(str(printed["expires_at"]))
    assert timedelta(days=7) - timedelta(minutes=1) < expires_at - datetime.now(UTC)
    browser = inviter.test_client()
    page = browser.get(urlsplit(link).path)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert EMAIL in page.text
    assert '<label for="password">Password</label>' in page.text

    done = accept(browser, link)

    assert done.status_code == 303
    assert done.headers["Location"] == "/invitation/done"
    assert "Account created" in browser.get("/invitation/done").text
    user = stored_user(EMAIL)
    assert user.email_verified_at is not None
    assert user.name == "Grace Hopper"
    assert user.created_via == "invitation"
    signed_in = sign_in(inviter.test_client(), EMAIL, PASSWORD)
    assert signed_in.status_code == 303
    assert events("admin:user:invite") == [("admin:user:invite", "success", None)]
    assert events("user:invitation") == [("user:invitation:accept", "success", user.subject)]
    listed = run_cli(inviter, "user", "list")
    assert f"{user.subject}  {EMAIL}  active  invitation  Grace Hopper" in listed.stdout
    as_json = json.loads(run_cli(inviter, "user", "list", "--json").stdout)
    assert [each["created_via"] for each in as_json] == ["invitation"]


def test_an_invitation_works_once(inviter: Flask, inbox: Inbox) -> None:
    link = str(invite(inviter)["link"])
    browser = inviter.test_client()
    assert accept(browser, link).status_code == 303

    again = browser.get(urlsplit(link).path)

    assert again.status_code == 400
    assert "This invitation link cannot be used" in again.text
    assert events("user:invitation:failure") == [("user:invitation:failure", "failure", None)]


def test_an_expired_invitation_gives_a_clear_page_and_creates_nothing(
    inviter: Flask, inbox: Inbox
) -> None:
    link = str(invite(inviter)["link"])
    browser = inviter.test_client()
    page = browser.get(urlsplit(link).path)
    token = csrf_token(page.text)

    with time_machine.travel(datetime.now(UTC) + timedelta(days=7, minutes=1)):
        shown = browser.get(urlsplit(link).path)
        posted = browser.post(urlsplit(link).path, data={"csrf_token": token, "password": PASSWORD})

    for answer in (shown, posted):
        assert answer.status_code == 400
        assert "This invitation link cannot be used" in answer.text
        assert "it may have expired" in answer.text
    db.session.rollback()
    assert run_cli(inviter, "user", "show", EMAIL).exit_code == 1


def test_a_newer_invitation_replaces_the_earlier_one(inviter: Flask, inbox: Inbox) -> None:
    first = str(invite(inviter)["link"])
    second = str(invite(inviter)["link"])
    browser = inviter.test_client()

    assert browser.get(urlsplit(first).path).status_code == 400
    assert accept(browser, second).status_code == 303


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Password must be at least 12 characters."),
        ("password1234", "Password is too common"),
    ],
)
def test_a_refused_password_keeps_the_link_usable(
    inviter: Flask, inbox: Inbox, password: str, message: str
) -> None:
    link = str(invite(inviter)["link"])
    browser = inviter.test_client()

    refused = accept(browser, link, password)

    assert refused.status_code == 400
    assert message in refused.text
    assert accept(browser, link).status_code == 303


def test_an_address_with_an_account_is_not_invited(inviter: Flask, inbox: Inbox) -> None:
    assert accept(inviter.test_client(), str(invite(inviter)["link"])).status_code == 303

    refused = run_cli(inviter, "user", "invite", EMAIL.upper())

    assert refused.exit_code == 1
    assert f"an account with email {EMAIL} already exists; it needs no invitation" in (
        refused.stderr
    )


# An all-Cyrillic local part that reads as "sea" (accounts/email_addresses.py).
SEA_IN_CYRILLIC = CYRILLIC["s"] + CYRILLIC["e"] + CYRILLIC["a"]


def test_an_address_of_mixed_scripts_is_not_invited(inviter: Flask, inbox: Inbox) -> None:
    refused = run_cli(inviter, "user", "invite", f"{CYRILLIC['p']}aypal@example.com")

    assert refused.exit_code == 1
    assert "email address mixes Latin, Cyrillic or Greek letters" in refused.stderr
    assert inbox.messages == [] and events("user:invitation") == []


def test_an_invitation_that_came_to_imitate_a_newer_account_is_refused_at_the_link(
    inviter: Flask, inbox: Inbox
) -> None:
    result = run_cli(inviter, "user", "invite", f"{SEA_IN_CYRILLIC}@example.com", "--json")
    assert result.exit_code == 0, result.output
    link = json.loads(result.stdout)["link"]
    # The real sea@ signs up after the invitation went out: the invitation now imitates it.
    make_user("sea@example.com", name=None)

    refused = accept(inviter.test_client(), link)

    assert refused.status_code == 400
    assert "This invitation link cannot be used" in refused.text
    assert [user.email for user in list_users()] == ["sea@example.com"]
    assert events("user:invitation:failure") == [("user:invitation:failure", "failure", None)]
    failures = select(AuditEvent.detail).where(AuditEvent.event == "user:invitation:failure")
    assert db.session.scalars(failures).all() == [{"reason": "refused"}]


def test_closed_registration_refuses_invitations_and_hides_the_pages(
    app: Flask, make_app: AppFactory, inbox: Inbox
) -> None:
    inviter = invited_app(app, make_app, inbox, "invite")
    link = str(invite(inviter)["link"])
    closed = invited_app(app, make_app, inbox, "closed")

    refused = run_cli(closed, "user", "invite", "someone@example.com")

    assert refused.exit_code == 1
    assert "registration is closed" in refused.stderr
    assert closed.test_client().get(urlsplit(link).path).status_code == 404
    assert closed.test_client().get("/invitation/done").status_code == 404
    assert len(inbox.messages) == 1


def test_a_text_invite_says_where_it_went(inviter: Flask, inbox: Inbox) -> None:
    result = run_cli(inviter, "user", "invite", EMAIL)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"invitation sent to {EMAIL}, valid until ")
    assert LINK_PREFIX not in result.stdout  # the link only with --json
