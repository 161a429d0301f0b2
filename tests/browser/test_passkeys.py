"""Passkeys in headless Chromium with its virtual authenticator (Chrome DevTools Protocol
``WebAuthn`` domain, through a Playwright CDP session): add one on the account page, sign out,
sign in with the passkey alone (the button, then the browser's own offer in the Email field),
use it as the second step after a password, remove it; accept an invitation with a passkey
instead of a password and sign in with it; a removed passkey and a copied one (its signature
counter put back) are refused, the copy also mailed to the owner. The other refusals
(wrong origin or RP id, no user verification, a replayed challenge) cannot be made by a real
browser, which refuses them itself: tests/web/test_passkeys.py makes them over HTTP.

WebAuthn needs a domain, so this module's server is reached at http://localhost:PORT (its
issuer too, so the relying-party id is "localhost"). The virtual authenticator is a platform
one (ctap2, internal) that keeps discoverable credentials and verifies the user at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import CDPSession, expect

from tests.browser.flows import (
    PASSWORD,
    Account,
    fill_in_sign_in,
    new_account,
    presence,
    sign_out,
    virtual_authenticator,
)
from tests.support.chromium import WatchedPage
from tests.support.databases import backends, fresh_postgres_database
from tests.support.live_server import LiveServer, live_server
from tests.support.mailbox import text_of, wait_for_mail
from tests.support.smtp import Inbox

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=backends())
def localhost_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, inbox: Inbox
) -> Iterator[LiveServer]:
    """As the package's server (SQLite, and PostgreSQL when it is set), at localhost."""
    workdir: Path = tmp_path_factory.mktemp(f"browser-passkeys-{request.param}")
    settings = {
        "AUTHSERVER_MAIL_BACKEND": "smtp",
        "AUTHSERVER_SMTP_HOST": inbox.host,
        "AUTHSERVER_SMTP_PORT": str(inbox.port),
        "AUTHSERVER_SMTP_STARTTLS": "false",
        "AUTHSERVER_REGISTRATION": "invite",  # the invitation pages answer
    }
    with ExitStack() as stack:
        if request.param == "postgresql":
            settings["AUTHSERVER_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        running = stack.enter_context(live_server(workdir, host_name="localhost", **settings))
        yield running
    assert running.error_lines() == [], running.log()


def credentials(cdp: CDPSession, authenticator: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cdp.send(
        "WebAuthn.getCredentials", {"authenticatorId": authenticator}
    )["credentials"]
    return found


def sign_in_with_password(tab: WatchedPage, server: LiveServer, email: str) -> None:
    tab.page.goto(server.url("/login?next=/account"))
    tab.arrive("/login", "Sign in")
    fill_in_sign_in(tab, email, PASSWORD)


def add_passkey(tab: WatchedPage) -> None:
    page = tab.page
    # The script reloads the account page once the passkey is stored: wait for that load.
    with page.expect_navigation():
        page.get_by_role("button", name="Add a passkey").click()
    tab.arrive("/account", "Your account", name="passkey added")
    expect(page.get_by_text("Your passkey was added")).to_be_visible()


def signed_in_with_an_authenticator(
    tab: WatchedPage, server: LiveServer
) -> tuple[Account, CDPSession, str]:
    """A new account, signed in with its password on the account page, in a browser that has
    a virtual authenticator (no passkey yet)."""
    account = new_account(server)
    cdp, authenticator = virtual_authenticator(tab)
    sign_in_with_password(tab, server, account.email)
    tab.arrive("/account", "Your account")
    return account, cdp, authenticator


def sign_in_with_the_button(
    tab: WatchedPage, server: LiveServer, cdp: CDPSession, authenticator: str
) -> None:
    """From a signed-out browser: the sign-in page, then its passkey button (a modal request,
    made once the authenticator answers touches again), back to the account page."""
    tab.page.goto(server.url("/login?next=/account"))
    tab.arrive("/login", "Sign in")
    presence(cdp, authenticator, automatic=True)
    with tab.page.expect_navigation():
        tab.page.get_by_role("button", name="Sign in with a passkey").click()
    tab.arrive("/account", "Your account", name="signed in with a passkey")


def test_add_a_passkey_sign_in_with_it_alone_and_remove_it(
    tab: WatchedPage, localhost_server: LiveServer
) -> None:
    server, page = localhost_server, tab.page
    _, cdp, authenticator = signed_in_with_an_authenticator(tab, server)

    add_passkey(tab)
    [stored] = credentials(cdp, authenticator)
    assert stored["isResidentCredential"] is True
    expect(page.get_by_text("Last used")).to_be_visible()
    # The sign-in page's conditional request (the Email field's offer) would be answered at
    # once, so the authenticator waits for a touch while the pages load.
    presence(cdp, authenticator, automatic=False)
    sign_out(tab, server)

    sign_in_with_the_button(tab, server, cdp, authenticator)
    expect(page.get_by_text("Never")).to_have_count(0)  # now used

    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Remove the passkey")
    tab.arrive(urlsplit(page.url).path, page.get_by_role("heading", level=1).inner_text())
    page.get_by_role("button", name="Remove").click()
    tab.arrive("/account", "Your account", name="passkey removed")
    expect(page.get_by_text("You have no passkeys yet.")).to_be_visible()

    # The authenticator still holds it; the server no longer knows it.
    presence(cdp, authenticator, automatic=False)
    sign_out(tab, server)
    presence(cdp, authenticator, automatic=True)
    # The refusal is a 401, which Chromium logs; this test expects it.
    tab.error_pages.add((server.url("/login/passkey"), 401))
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The passkey was not accepted. Try again, or use another way to sign in."
    )
    tab.screenshot("removed passkey refused")
    assert page.url.startswith(server.url("/login"))


def test_the_email_field_offers_the_passkey(tab: WatchedPage, localhost_server: LiveServer) -> None:
    server, page = localhost_server, tab.page
    _, cdp, authenticator = signed_in_with_an_authenticator(tab, server)
    add_passkey(tab)
    presence(cdp, authenticator, automatic=False)
    sign_out(tab, server)
    presence(cdp, authenticator, automatic=True)

    # Conditional mediation: the page asks as it loads, and the browser offers the passkey in
    # the Email field's suggestions; the virtual authenticator picks it as soon as it is asked.
    with page.expect_navigation(url=server.url("/account")):
        page.goto(server.url("/login?next=/account"))
        expect(page.get_by_label("Email")).to_have_attribute("autocomplete", "username webauthn")
    tab.arrive("/account", "Your account", name="signed in from the email field")


def test_a_passkey_is_the_second_step_after_a_password(
    tab: WatchedPage, localhost_server: LiveServer
) -> None:
    server, page = localhost_server, tab.page
    account, cdp, authenticator = signed_in_with_an_authenticator(tab, server)
    page.get_by_role("link", name="Set up authenticator app").click()
    tab.arrive("/account/mfa", "Set up authenticator app")
    phone = pyotp.TOTP(page.locator("code.secret").inner_text().replace(" ", ""))
    page.get_by_label("Authentication code").fill(phone.now())
    page.get_by_role("button", name="Verify").click()
    tab.arrive("/account/mfa", "Authenticator app set up")
    page.goto(server.url("/account"))
    tab.arrive("/account", "Your account")
    add_passkey(tab)
    presence(cdp, authenticator, automatic=False)  # not the Email field's offer this time
    sign_out(tab, server)

    sign_in_with_password(tab, server, account.email)
    tab.arrive("/mfa", "Two-step verification")
    presence(cdp, authenticator, automatic=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Use a passkey instead").click()
    tab.arrive("/account", "Your account", name="second step with a passkey")


def test_a_copied_passkey_is_refused_and_the_owner_told(
    tab: WatchedPage, localhost_server: LiveServer, inbox: Inbox
) -> None:
    """The signature counter going backwards, as a cloned authenticator would make it go
    (WebAuthn §6.1.1): the same key put back into the authenticator with its counter at 0."""
    server, page = localhost_server, tab.page
    account, cdp, authenticator = signed_in_with_an_authenticator(tab, server)
    add_passkey(tab)
    presence(cdp, authenticator, automatic=False)
    sign_out(tab, server)
    sign_in_with_the_button(tab, server, cdp, authenticator)
    [used] = credentials(cdp, authenticator)
    assert used["signCount"] >= 2  # created, then used once: the server has seen that count

    presence(cdp, authenticator, automatic=False)
    sign_out(tab, server)
    cdp.send(
        "WebAuthn.removeCredential",
        {"authenticatorId": authenticator, "credentialId": used["credentialId"]},
    )
    cdp.send(
        "WebAuthn.addCredential",
        {"authenticatorId": authenticator, "credential": {**used, "signCount": 0}},
    )
    presence(cdp, authenticator, automatic=True)
    tab.error_pages.add((server.url("/login/passkey"), 401))  # the refusal, which Chromium logs
    page.get_by_role("button", name="Sign in with a passkey").click()

    expect(page.get_by_role("alert")).to_have_text(
        "The passkey was not accepted. Try again, or use another way to sign in."
    )
    tab.screenshot("copied passkey refused")
    assert page.url.startswith(server.url("/login"))
    notice = wait_for_mail(
        inbox, to=account.email, subject="A sign-in with a copied passkey may have been tried"
    )
    assert "signature counter was lower" in text_of(notice)


def test_accept_an_invitation_with_a_passkey_and_sign_in_with_it(
    tab: WatchedPage, localhost_server: LiveServer
) -> None:
    server, page = localhost_server, tab.page
    email = f"invited-{secrets.token_hex(5)}@example.test"
    invited = server.cli_json("user", "invite", email)
    cdp, authenticator = virtual_authenticator(tab)
    page.goto(invited["link"])
    tab.arrive(urlsplit(invited["link"]).path, "Create your account", name="invitation")

    # The script goes to the done page once the account and its passkey are stored.
    with page.expect_navigation():
        page.get_by_role("button", name="Create a passkey").click()
    tab.arrive("/invitation/done", "Account created", name="invitation accepted with a passkey")
    expect(page.get_by_text("Sign in with a passkey")).to_be_visible()
    [stored] = credentials(cdp, authenticator)
    assert stored["isResidentCredential"] is True
    shown = server.cli_json("user", "show", email)
    assert (shown["created_via"], shown["has_password"]) == ("invitation", False)

    # As in the first test: the sign-in page's conditional request waits for a touch.
    presence(cdp, authenticator, automatic=False)
    sign_in_with_the_button(tab, server, cdp, authenticator)
    expect(page.get_by_text("Your account has no password")).to_be_visible()
    expect(page.get_by_role("button", name="Add password")).to_be_visible()
