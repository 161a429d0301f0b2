"""Password reset and email verification against a live server, with mail over real SMTP.

One `authserver serve` per module (and database backend) sends its mail to an SMTP server that
this test process runs on loopback. The person reads each message, takes the link out of it and
follows it in a browser (a requests.Session filling in HTML forms); Authlib is the relying
party, as in test_oidc_flow.py.
"""

from __future__ import annotations

import re
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from tests.support.databases import backends, fresh_postgres_database
from tests.support.live_browser import Browser, forms_of, redirect_target
from tests.support.live_server import LiveServer, live_server
from tests.support.mailbox import (
    SlowInbox,
    has_subject,
    link_in,
    slow_smtp_server,
    text_of,
    wait_for_messages,
)

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 10
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a new passphrase nobody has guessed"
REDIRECT_URI = "https://rp.example.test/cb"
SCOPE = "openid email offline_access"


@pytest.fixture(scope="module")
def inbox() -> Iterator[SlowInbox]:
    with slow_smtp_server() as running:
        yield running


@pytest.fixture(scope="module", params=backends())
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    inbox: SlowInbox,
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"reset-{request.param}")
    with ExitStack() as stack:
        settings = {
            "AUTHSERVER_MAIL_BACKEND": "smtp",
            "AUTHSERVER_SMTP_HOST": inbox.host,
            "AUTHSERVER_SMTP_PORT": str(inbox.port),
            "AUTHSERVER_SMTP_STARTTLS": "false",
            # Every request here comes from 127.0.0.1: the per-address reset limit would
            # turn the timing comparison into a comparison of 429s.
            "AUTHSERVER_RATELIMIT_RESET": "1000/minute",
        }
        if request.param == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        running = stack.enter_context(live_server(workdir, **settings))
        yield running
    assert running.error_lines() == [], running.log()


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as each:
        yield each


def new_email() -> str:
    return f"user-{secrets.token_hex(5)}@example.test"


def create_account(server: LiveServer, email: str, *options: str) -> None:
    server.cli("user", "create", email, "--password-stdin", *options, stdin=PASSWORD + "\n")


def mail_to(inbox: SlowInbox, email: str, subject: str, *, count: int = 1) -> Message:
    """The `count`-th message to `email` with `subject`, waiting for it if need be."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        matching = [m for m in inbox.messages if m["To"] == email and has_subject(m, subject)]
        if len(matching) >= count:
            return matching[count - 1]
        assert time.monotonic() < deadline, f"no message {count} {subject!r} to {email}"
        time.sleep(0.05)


def request_reset(browser: Browser, email: str) -> requests.Response:
    sign_in_page = browser.open(browser_url(browser, "/login"))
    [forgot] = [href for href in hrefs(sign_in_page.text) if href == "/reset"]
    request_page = browser.open(browser_url(browser, forgot))
    sent = browser.submit(request_page, email=email)
    assert sent.status_code == 200, sent.text
    assert "Check your email" in sent.text
    return sent


def browser_url(browser: Browser, path: str) -> str:
    scheme, netloc = browser.origin
    return f"{scheme}://{netloc}{path}"


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def sign_in(browser: Browser, email: str, password: str) -> requests.Response:
    page = browser.open(browser_url(browser, "/login"))
    return browser.submit(page, email=email, password=password)


# --- a relying party and a resource server, registered by the operator ---------------------------


def register(server: LiveServer, *options: str) -> dict[str, Any]:
    created: dict[str, Any] = server.cli_json(
        "client", "create", "--name", f"app-{secrets.token_hex(4)}", *options
    )
    return created


def tokens_for(server: LiveServer, browser: Browser, email: str) -> tuple[dict[str, Any], Any]:
    """Authorization code + PKCE for `email`; returns the token response and the client."""
    client = register(server, "--redirect-uri", REDIRECT_URI, "--scope", SCOPE)
    rp = OAuth2Session(
        client["client_id"],
        client["client_secret"],
        token_endpoint_auth_method=client["token_endpoint_auth_method"],
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        default_timeout=TIMEOUT_SECONDS,
    )
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(
        server.url("/oauth/authorize"), code_verifier=verifier, nonce=secrets.token_urlsafe(8)
    )
    sign_in_page = browser.open(url)
    consent = browser.submit(sign_in_page, email=email, password=PASSWORD)
    callback = redirect_target(browser.submit(consent, press=("decision", "allow")))
    token = rp.fetch_token(
        server.url("/oauth/token"),
        authorization_response=callback,
        state=state,
        code_verifier=verifier,
    )
    return dict(token), rp


def introspect(server: LiveServer, rp: OAuth2Session, token: str) -> dict[str, Any]:
    """Asked by the app the token was issued to: the one client told about it (RFC 7662 §4)."""
    response = rp.introspect_token(server.url("/oauth/introspect"), token=token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- the tests -----------------------------------------------------------------------------------


def test_verification_then_reset_ends_every_old_credential(
    server: LiveServer, inbox: SlowInbox, browser: Browser
) -> None:
    email = new_email()
    create_account(server, email)

    # The address is verified through the link `user create` mailed.
    verify_link = link_in(mail_to(inbox, email, "Confirm your email address"), server.url("/"))
    confirm_page = browser.open(verify_link)
    assert confirm_page.headers["Referrer-Policy"] == "no-referrer"
    verified = browser.submit(confirm_page)
    assert "Email address verified" in verified.text
    token, rp = tokens_for(server, browser, email)
    with rp:
        assert rp.get(server.url("/oauth/userinfo")).json()["email_verified"] is True

        # Forgot password? -> the request page -> the mail -> the link -> a new password.
        with Browser(server.base_url, timeout=TIMEOUT_SECONDS) as other:
            request_reset(other, email)
            message = mail_to(inbox, email, "Reset your password")
            link = link_in(message, server.url("/reset/"))
            form_page = other.open(link)
            assert form_page.status_code == 200
            assert form_page.headers["Referrer-Policy"] == "no-referrer"
            done = other.submit(form_page, password=NEW_PASSWORD)
            assert urlsplit(done.url).path == "/reset/done"
            assert "Password changed" in done.text

            # The link was single use.
            reused = other.open(link)
            assert reused.status_code == 400
            assert "This reset link cannot be used" in reused.text

        notice = mail_to(inbox, email, "Your password was changed")
        assert "signed out" in text_of(notice)
        # Everything issued before the reset is dead: access token, refresh token, session.
        assert introspect(server, rp, token["access_token"]) == {"active": False}
        with pytest.raises(OAuthError) as refreshed:
            rp.refresh_token(server.url("/oauth/token"), token["refresh_token"])
        assert refreshed.value.error == "invalid_grant"
    home = browser.open(server.url("/"))
    assert urlsplit(home.url).path == "/login"

    # The old password is gone and the new one works.
    assert sign_in(browser, email, PASSWORD).status_code == 401
    assert "Signed in as" in sign_in(browser, email, NEW_PASSWORD).text


def test_a_forged_host_header_still_yields_an_issuer_link(
    server: LiveServer, inbox: SlowInbox, browser: Browser
) -> None:
    email = new_email()
    create_account(server, email, "--verified")
    page = browser.open(server.url("/reset"))
    [form] = forms_of(page.text)

    # requests matches cookies against the Host header, so the session cookie (which holds the
    # CSRF secret) is passed by hand.
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.http.cookies)
    answer = requests.post(
        server.url("/reset"),
        data={**form.fields, "email": email},
        headers={
            "Host": "attacker.example",
            "X-Forwarded-Host": "attacker.example",
            "Cookie": cookies,
        },
        timeout=TIMEOUT_SECONDS,
    )

    assert answer.status_code == 200, answer.text
    message = mail_to(inbox, email, "Reset your password")
    assert "attacker.example" not in text_of(message)
    assert link_in(message, server.url("/reset/"))


def timed_request(browser: Browser, email: str) -> float:
    page = browser.open(browser_url(browser, "/reset"))
    started = time.perf_counter()
    answer = browser.submit(page, email=email)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200
    return elapsed


def test_the_answer_does_not_wait_for_the_mail(
    server: LiveServer, inbox: SlowInbox, browser: Browser
) -> None:
    email = new_email()
    create_account(server, email, "--verified")
    inbox.delay_seconds = 3.0
    try:
        before = len(inbox.messages)
        elapsed = timed_request(browser, email)
        assert elapsed < 2.0, f"the answer took {elapsed:.2f}s: it waited for the SMTP server"
        wait_for_messages(inbox, before + 1)
    finally:
        inbox.delay_seconds = 0.0


def test_known_and_unknown_addresses_take_the_same_time(
    server: LiveServer, inbox: SlowInbox, browser: Browser
) -> None:
    email = new_email()
    create_account(server, email, "--verified")
    known: list[float] = []
    unknown: list[float] = []
    for _ in range(10):
        known.append(timed_request(browser, email))
        unknown.append(timed_request(browser, new_email()))

    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 <= ratio <= 2.0, (known, unknown)
    # Only the real account received mail: ten messages, all to it.
    mail_to(inbox, email, "Reset your password", count=10)
