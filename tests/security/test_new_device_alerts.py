"""A sign-in from a browser new to the account mails its owner, with "This wasn't me" (issue 13).

Browsers are Flask test clients (each keeps its own cookies, so each is one browser); mail goes
to files (the file backend) and is read back by subject. The owner's own first browser signs in
first; a stranger's browser (Safari on an iPhone, from another address) signs in next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from authserver.extensions import db
from authserver.keys.manager import ensure_active_keys
from authserver.models import AuditEvent
from tests.conftest import AppFactory
from tests.factories import DEFAULT_EMAIL, DEFAULT_PASSWORD, make_user
from tests.support.account import (
    FIREFOX_LINUX,
    SAFARI_IPHONE,
    audit_tags,
    browser,
    is_signed_in,
    read_outbox,
    snapshot,
)
from tests.support.mailbox import has_subject, text_of
from tests.support.mfa import Clock, answer_challenge, enrol, frozen_clock
from tests.support.oauth import Pkce, exchange_code, make_relying_party, obtain_code, token_request
from tests.support.passkeys import passkey_sign_in, registered
from tests.support.web import csrf_token, sign_in

SUBJECT = "New sign-in to your account"
RESET_SUBJECT = "Reset your password"
STRANGER_IP = "203.0.113.77"
NOT_ME_LINK = re.compile(r"This wasn't me: (http://localhost/not-me/(\S+))")
RESET_LINK = re.compile(r"http://localhost/reset/(\S+)")


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def clock(app: Flask) -> Iterator[Clock]:
    with frozen_clock() as frozen:
        make_user()
        yield frozen


@pytest.fixture
def site(make_app: AppFactory, outbox: Path, clock: Clock) -> Flask:
    return make_app(mail_backend="file", mail_file_dir=str(outbox))


def signs_in(client: FlaskClient) -> TestResponse:
    """Sign in; the response is closed, as a server closes it, so after-response mail is out."""
    response = sign_in(client, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    response.close()
    assert response.status_code == 303, response.text
    return response


def owner(site: Flask) -> FlaskClient:
    return browser(site, user_agent=FIREFOX_LINUX)


def stranger(site: Flask) -> FlaskClient:
    return browser(site, user_agent=SAFARI_IPHONE, ip=STRANGER_IP)


def notices(outbox: Path) -> list[Message]:
    return [message for message in read_outbox(outbox) if has_subject(message, SUBJECT)]


def not_me_link(message: Message) -> tuple[str, str]:
    """The link's path and its token."""
    match = NOT_ME_LINK.search(text_of(message))
    assert match, text_of(message)
    return match.group(1).removeprefix("http://localhost"), match.group(2)


def confirm(client: FlaskClient, path: str) -> TestResponse:
    """Open the link, then press the page's button (a POST with the page's CSRF token)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = path.rsplit("/", 1)[1]
    response = client.post("/not-me", data={"csrf_token": csrf_token(page.text), "token": token})
    response.close()
    return response


def audit_rows(tag: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == tag)))


def test_the_first_sign_in_of_an_account_mails_nothing(site: Flask, outbox: Path) -> None:
    signs_in(owner(site))

    assert notices(outbox) == []
    assert "user:login:new-device-notice" not in audit_tags()


def test_a_second_browser_mails_one_notice_with_when_what_and_where(
    site: Flask, outbox: Path, clock: Clock
) -> None:
    signs_in(owner(site))
    clock.advance(3600)

    signs_in(stranger(site))

    [notice] = notices(outbox)
    assert notice["To"] == DEFAULT_EMAIL
    body = text_of(notice)
    now = clock.now()  # as English writes it (mail_language.written_time): "Tuesday, May 6, ..."
    assert f"When: {now:%A, %B} {now.day}, {now:%Y, %H:%M} UTC" in body
    assert "Safari on iOS" in body
    assert STRANGER_IP in body
    assert "within 24 hours" in " ".join(body.split())
    path, token = not_me_link(notice)
    assert path.startswith("/not-me/") and len(token) == 43
    [row] = audit_rows("user:login:new-device-notice")
    assert row.ip == STRANGER_IP and row.detail == {"device": "Safari on iOS"}
    assert token not in str(row.detail)


def test_the_same_browser_again_and_the_first_browser_mail_nothing_more(
    site: Flask, outbox: Path
) -> None:
    first, second = owner(site), stranger(site)
    signs_in(first)
    signs_in(second)

    signs_in(second)
    signs_in(first)
    signs_in(second)

    assert len(notices(outbox)) == 1


def test_a_browser_whose_device_cookie_was_lost_is_new_again(site: Flask, outbox: Path) -> None:
    signs_in(owner(site))
    forgetful = stranger(site)
    signs_in(forgetful)
    forgetful.delete_cookie("authserver_device")

    signs_in(forgetful)

    assert len(notices(outbox)) == 2


def test_the_setting_turns_the_notices_off(
    make_app: AppFactory, outbox: Path, clock: Clock
) -> None:
    site = make_app(mail_backend="file", mail_file_dir=str(outbox), new_device_alerts=False)
    signs_in(owner(site))
    signs_in(stranger(site))

    assert notices(outbox) == []
    assert "user:login:new-device-notice" not in audit_tags()


def test_the_address_is_the_one_trusted_proxies_report(
    make_app: AppFactory, outbox: Path, clock: Clock
) -> None:
    site = make_app(mail_backend="file", mail_file_dir=str(outbox), trusted_proxies=("127.0.0.1",))
    signs_in(owner(site))
    behind_proxy = browser(site, user_agent=SAFARI_IPHONE)  # the proxy's connection: 127.0.0.1
    behind_proxy.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.23"

    signs_in(behind_proxy)

    [notice] = notices(outbox)
    assert "Address: 198.51.100.23" in text_of(notice)


def test_with_a_second_factor_the_notice_waits_for_the_code(
    site: Flask, outbox: Path, clock: Clock
) -> None:
    first = owner(site)
    signs_in(first)
    enrolment = enrol(first)
    clock.next_step()
    second = stranger(site)

    to_challenge = sign_in(second, DEFAULT_EMAIL, DEFAULT_PASSWORD)
    to_challenge.close()
    assert to_challenge.headers["Location"].startswith("/mfa")
    assert notices(outbox) == []

    location = to_challenge.headers["Location"]
    done = answer_challenge(second, enrolment.authenticator.code(), location)
    done.close()
    assert done.status_code == 303, done.text
    assert len(notices(outbox)) == 1


# --- the "This wasn't me" link --------------------------------------------------------------


@pytest.fixture
def keys(site: Flask, clock: Clock) -> None:
    with site.app_context():
        ensure_active_keys(now=clock.now())


def refresh_token_of(client: FlaskClient, rp: Any) -> str:
    pkce = Pkce()
    code = obtain_code(client, rp, pkce)
    tokens = exchange_code(client, rp, code, pkce)
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json["refresh_token"])


def refresh(client: FlaskClient, rp: Any, token: str) -> TestResponse:
    return token_request(client, rp, {"grant_type": "refresh_token", "refresh_token": token})


def test_opening_the_link_changes_nothing(site: Flask, outbox: Path) -> None:
    first = owner(site)
    signs_in(first)
    signs_in(stranger(site))
    path, _ = not_me_link(notices(outbox)[0])
    before = snapshot()

    page = browser(site).get(path)
    page_again = browser(site).get(path)

    assert page.status_code == page_again.status_code == 200
    assert "Sign out everywhere and reset my password" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert snapshot() == before
    assert is_signed_in(first)


def test_the_button_ends_every_session_and_token_and_mails_a_reset_link(
    site: Flask, outbox: Path, keys: None
) -> None:
    rp = make_relying_party(name="Calendar")
    first = owner(site)
    signs_in(first)
    refresh_token = refresh_token_of(first, rp)
    intruder = stranger(site)
    signs_in(intruder)
    path, _ = not_me_link(notices(outbox)[0])

    done = confirm(browser(site), path)

    assert done.status_code == 303 and done.headers["Location"] == "/not-me/done"
    assert not is_signed_in(first)
    assert not is_signed_in(intruder)
    refused = refresh(browser(site), rp, refresh_token)
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    # ...and leads to a password reset: a reset link is in the mailbox, and it works.
    [reset] = [m for m in read_outbox(outbox) if has_subject(m, RESET_SUBJECT)]
    match = RESET_LINK.search(text_of(reset))
    assert match, text_of(reset)
    assert browser(site).get(f"/reset/{match.group(1)}").status_code == 200
    landing = browser(site).get("/not-me/done")
    assert landing.status_code == 200 and "Signed out everywhere" in landing.text
    assert '<a href="/reset">' in landing.text
    tags = audit_tags()
    assert tags.count("user:login:not-me") == 1
    assert tags.count("user:sessions:revoke-all") == 1
    assert tags.count("user:password-reset:request") == 1


def test_after_the_button_every_browser_is_new_to_the_account_again(
    site: Flask, outbox: Path
) -> None:
    first = owner(site)
    signs_in(first)
    intruder = stranger(site)
    signs_in(intruder)
    confirm(browser(site), not_me_link(notices(outbox)[0])[0])

    signs_in(intruder)  # the password has not been changed yet

    assert len(notices(outbox)) == 2
    [row] = audit_rows("user:login:not-me")
    assert row.detail == {"devices": 2}


def test_a_used_link_is_refused_and_changes_nothing(site: Flask, outbox: Path) -> None:
    signs_in(owner(site))
    signs_in(stranger(site))
    path, token = not_me_link(notices(outbox)[0])
    clicker = browser(site)
    page = clicker.get(path)
    form = {"csrf_token": csrf_token(page.text), "token": token}
    assert clicker.post("/not-me", data=form).status_code == 303
    later = owner(site)
    signs_in(later)
    before = snapshot()

    again = clicker.post("/not-me", data=form)
    reopened = clicker.get(path)

    assert again.status_code == 400
    assert "This link cannot be used" in again.text
    assert reopened.status_code == 404
    assert "Sign out everywhere" not in reopened.text
    assert is_signed_in(later)
    after = snapshot()
    assert after.audit_events == before.audit_events + 1  # the refusal, nothing else
    assert (after.tokens_valid_after, after.open_sessions) == (
        before.tokens_valid_after,
        before.open_sessions,
    )
    [refusal] = audit_rows("user:login:not-me:failure")
    assert refusal.outcome == "failure" and refusal.detail == {"reason": "used"}


def test_an_expired_link_is_refused_and_changes_nothing(
    site: Flask, outbox: Path, clock: Clock
) -> None:
    signs_in(owner(site))
    signs_in(stranger(site))
    path, token = not_me_link(notices(outbox)[0])
    clicker = browser(site)
    page = clicker.get(path)
    before = snapshot()
    clock.advance(24 * 3600)

    stale = clicker.post("/not-me", data={"csrf_token": csrf_token(page.text), "token": token})
    fresh_csrf = csrf_token(clicker.get("/login").text)  # a form of today, for the old link
    expired = clicker.post("/not-me", data={"csrf_token": fresh_csrf, "token": token})

    assert stale.status_code == expired.status_code == 400
    assert "This link cannot be used" in stale.text
    assert "This link cannot be used" in expired.text
    assert clicker.get(path).status_code == 404
    after = snapshot()
    assert (after.tokens_valid_after, after.revoked_refresh_tokens) == (
        before.tokens_valid_after,
        before.revoked_refresh_tokens,
    )
    assert "user:login:not-me" not in audit_tags()
    [refusal] = audit_rows("user:login:not-me:failure")
    assert refusal.detail == {"reason": "expired"}


@pytest.mark.parametrize("token", ["x" * 43, "not-a-token", "A" * 200])
def test_an_unknown_link_is_refused(site: Flask, token: str) -> None:
    signs_in(owner(site))
    before = snapshot()
    clicker = browser(site)

    page = clicker.get(f"/not-me/{token}")
    login = clicker.get("/login")
    posted = clicker.post("/not-me", data={"csrf_token": csrf_token(login.text), "token": token})

    assert page.status_code == 404 and "This link cannot be used" in page.text
    assert posted.status_code == 400 and "This link cannot be used" in posted.text
    assert snapshot().tokens_valid_after == before.tokens_valid_after


def test_the_button_without_a_csrf_token_changes_nothing(site: Flask, outbox: Path) -> None:
    first = owner(site)
    signs_in(first)
    signs_in(stranger(site))
    path, token = not_me_link(notices(outbox)[0])
    clicker = browser(site)
    clicker.get(path)

    forged = clicker.post("/not-me", data={"token": token})

    assert forged.status_code == 400
    assert is_signed_in(first)
    assert "user:login:not-me" not in audit_tags()
    # The link still works: a stale form is not a spent link.
    assert confirm(clicker, path).status_code == 303


def test_a_passkey_sign_in_from_a_new_browser_speaks_of_passkeys_not_a_password(
    site: Flask, outbox: Path
) -> None:
    passkey = registered(site)  # the owner's first sign-in, with the password, then a passkey

    assert passkey_sign_in(stranger(site), passkey).status_code == 200

    [notice] = notices(outbox)
    body = " ".join(text_of(notice).split())
    assert "someone signed in with one of your passkeys: remove any you do not recognise" in body
    assert "someone knows your password" not in body
    not_me_link(notice)
