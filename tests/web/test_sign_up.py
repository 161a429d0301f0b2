"""Sign-up (AUTHSERVER_REGISTRATION=open) over a real SMTP server: the account is usable once
its address is verified; an address with an account answers the same and mails its owner."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.models import AuditEvent, User
from tests.conftest import AppFactory
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.support.mailbox import link_in, smtp_app, text_of, wait_for_messages
from tests.support.oauth import Pkce, authorization_params, consent, make_relying_party
from tests.support.smtp import Inbox
from tests.support.web import csrf_token, sign_in
from tests.web.test_invitations import run_cli
from tests.web.test_verify_email import VERIFY_LINK_PREFIX, press_verify, stored_user

EMAIL = "barbara@example.com"
PASSWORD = "a long phrase nobody else would pick"


def open_app(app: Flask, make_app: AppFactory, inbox: Inbox, **settings: str) -> Flask:
    return smtp_app(app, make_app, inbox, registration="open", **settings)


@pytest.fixture
def opener(app: Flask, make_app: AppFactory, inbox: Inbox) -> Flask:
    return open_app(app, make_app, inbox)


def submit(
    browser: FlaskClient, email: str = EMAIL, password: str = PASSWORD, *, next_path: str = ""
) -> TestResponse:
    page = browser.get("/signup" + (f"?{urlencode({'next': next_path})}" if next_path else ""))
    assert page.status_code == 200, page.text
    next_field = re.search(r'name="next" type="hidden" value="([^"]*)"', page.text)
    assert next_field is not None
    form = {
        "csrf_token": csrf_token(page.text),
        "email": email,
        "password": password,
        "next": next_field.group(1).replace("&amp;", "&"),
    }
    answer = browser.post("/signup", data=form)
    answer.close()  # what the WSGI server does once the answer is written: the work after it runs
    return answer


def events(prefix: str) -> list[tuple[str, str]]:
    db.session.rollback()
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    return [(row.event, row.outcome) for row in rows if row.event.startswith(prefix)]


def account_count() -> int:
    db.session.rollback()
    return len(db.session.scalars(select(User.id)).all())


@pytest.mark.parametrize("mode", ["closed", "invite"])
def test_sign_up_is_hidden_unless_open(
    app: Flask, make_app: AppFactory, inbox: Inbox, mode: str
) -> None:
    browser = smtp_app(app, make_app, inbox, registration=mode).test_client()

    login = browser.get("/login")

    assert login.status_code == 200
    assert "Create account" not in login.text
    assert browser.get("/signup").status_code == 404
    form = {"csrf_token": csrf_token(login.text), "email": EMAIL, "password": PASSWORD}
    assert browser.post("/signup", data=form).status_code == 404
    assert account_count() == 0


def test_the_sign_in_page_links_to_the_form_when_open(opener: Flask) -> None:
    browser = opener.test_client()
    login = browser.get("/login")

    assert re.search(r'<a href="/signup\?next=/">Create account</a>', login.text)
    for label in ("Email", "Password"):
        assert f">{label}</label>" in login.text
    assert ">Sign in</button>" in login.text
    form = browser.get("/signup").text
    assert '<label for="email">Email</label>' in form
    assert '<label for="password">Password</label>' in form
    assert '<button type="submit">Create account</button>' in form


def test_a_signed_up_account_signs_in_once_verified(opener: Flask, inbox: Inbox) -> None:
    browser = opener.test_client()

    answer = submit(browser)

    assert answer.status_code == 200
    assert "Check your mail" in answer.text
    [message] = wait_for_messages(inbox, 1)
    assert message["To"] == EMAIL
    link = link_in(message, VERIFY_LINK_PREFIX)
    user = stored_user(EMAIL)
    assert user.created_via == "sign-up"
    assert user.email_verified_at is None
    # Not before the address is verified: the usual failure, nothing more.
    assert sign_in(opener.test_client(), EMAIL, PASSWORD).status_code == 401

    verified = press_verify(browser, link)

    assert verified.status_code == 303
    assert verified.headers["Location"] == "/verify-email/done"
    assert sign_in(opener.test_client(), EMAIL, PASSWORD).status_code == 303
    assert events("user:sign-up") == [("user:sign-up", "success")]
    assert [each for each in events("user:email-verification")] == [
        ("user:email-verification:request", "success"),
        ("user:email-verification", "success"),
    ]
    listed = json.loads(run_cli(opener, "user", "list", "--json").stdout)
    assert [(each["email"], each["created_via"]) for each in listed] == [(EMAIL, "sign-up")]
    assert "sign-up" in run_cli(opener, "user", "list").stdout


def test_an_address_with_an_account_answers_the_same_and_mails_its_owner(
    opener: Flask, inbox: Inbox
) -> None:
    make_user("owner@example.com")
    other = "newcomer@example.com"

    taken = submit(opener.test_client(), "owner@example.com")
    new = submit(opener.test_client(), other)

    assert taken.status_code == new.status_code == 200
    assert taken.text.replace("owner@example.com", "X") == new.text.replace(other, "X")
    messages = wait_for_messages(inbox, 2)
    by_address = {message["To"]: message for message in messages}
    notice = by_address["owner@example.com"]
    assert notice["Subject"] == "localhost: Someone tried to create an account with your address"
    assert "http://localhost/reset" in text_of(notice)
    assert VERIFY_LINK_PREFIX not in text_of(notice)
    assert by_address[other]["Subject"] == "localhost: Confirm your email address"
    db.session.rollback()
    # The owner's account is untouched: still their password, still one account.
    assert sign_in(opener.test_client(), "owner@example.com", DEFAULT_PASSWORD).status_code == 303
    assert account_count() == 2
    assert events("user:sign-up") == [
        ("user:sign-up:failure", "failure"),
        ("user:sign-up", "success"),
    ]


def test_weak_and_breached_passwords_are_refused_with_every_problem_shown(
    opener: Flask, inbox: Inbox
) -> None:
    browser = opener.test_client()

    both = submit(browser, "not-an-address", "short")
    breached = submit(browser, EMAIL, "password1234")

    assert both.status_code == breached.status_code == 400
    assert "Email address must look like name@example.org." in both.text
    assert "Password must be at least 12 characters." in both.text
    assert 'aria-invalid="true"' in both.text
    assert "Password is too common" in breached.text
    assert account_count() == 0
    assert inbox.messages == []


def test_sign_up_is_rate_limited(app: Flask, make_app: AppFactory, inbox: Inbox) -> None:
    browser = open_app(app, make_app, inbox, ratelimit_signup="2/minute").test_client()

    answers = [submit(browser, f"person{n}@example.com").status_code for n in range(3)]

    assert answers == [200, 200, 429]
    wait_for_messages(inbox, 2)
    assert account_count() == 2


def test_a_sign_up_within_an_oauth_flow_returns_to_it_after_verification(
    opener: Flask, inbox: Inbox
) -> None:
    browser = opener.test_client()
    rp = make_relying_party()
    pkce = Pkce()
    authorize_path = "/oauth/authorize?" + urlencode(authorization_params(rp, pkce))
    to_login = browser.get(authorize_path)
    assert to_login.status_code in (302, 303)
    login_location = to_login.headers["Location"]
    next_path = parse_qs(urlsplit(login_location).query)["next"][0]
    login = browser.get(login_location)
    assert "Create account" in login.text

    assert submit(browser, next_path=next_path).status_code == 200
    [message] = wait_for_messages(inbox, 1)
    verified = press_verify(browser, link_in(message, VERIFY_LINK_PREFIX))

    assert verified.status_code == 303
    assert verified.headers["Location"] == next_path
    signed_in = sign_in(browser, EMAIL, PASSWORD, next_path=next_path)
    assert signed_in.headers["Location"] == next_path
    page = browser.get(next_path)
    answer = consent(browser, page) if page.status_code == 200 else page
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(rp.redirect_uri + "?code=")


def test_a_next_target_off_this_site_is_dropped(opener: Flask, inbox: Inbox) -> None:
    browser = opener.test_client()
    page = browser.get("/signup?" + urlencode({"next": "https://evil.example/"}))
    assert 'value="https://evil.example/"' not in page.text
    form = {
        "csrf_token": csrf_token(page.text),
        "email": EMAIL,
        "password": PASSWORD,
        "next": "//evil.example/",
    }
    posted = browser.post("/signup", data=form)
    posted.close()
    assert posted.status_code == 200
    [message] = wait_for_messages(inbox, 1)

    verified = press_verify(browser, link_in(message, VERIFY_LINK_PREFIX))

    assert verified.headers["Location"] == "/verify-email/done"
