"""Steps the browser tests share, done as a person does them: read the page, fill it in, press."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.sync_api import CDPSession

from tests.support.chromium import WatchedPage
from tests.support.live_server import LiveServer

PASSWORD = "correct horse battery staple"


def home_heading(server: LiveServer) -> str:
    """The home page's heading: the brand name, by default the issuer's host name (127.0.0.1,
    or localhost for the servers that passkeys need; tests/support/live_server.py)."""
    host = urlsplit(server.base_url).hostname
    assert host is not None
    return host


@dataclass(frozen=True)
class Account:
    email: str
    subject: str


def new_account(server: LiveServer, *, name: str = "Ada Lovelace") -> Account:
    """A verified account, made as an operator makes one: with the CLI."""
    email = f"user-{secrets.token_hex(5)}@example.test"
    created = server.cli_json(
        "user", "create", email, "--name", name, "--verified", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    return Account(email=email, subject=created["subject"])


def fill_in_sign_in(tab: WatchedPage, email: str, password: str) -> None:
    """On the sign-in page: type the credentials and press "Sign in"."""
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(tab: WatchedPage, server: LiveServer) -> None:
    """From the landing page, which is where "Sign out" is."""
    tab.page.goto(server.url("/"))
    tab.arrive("/", home_heading(server), name="home")
    tab.page.get_by_role("button", name="Sign out").click()
    tab.arrive("/login", "Sign in")


def virtual_authenticator(tab: WatchedPage) -> tuple[CDPSession, str]:
    """A platform authenticator that holds passkeys and verifies the user (a fingerprint)."""
    cdp = tab.page.context.new_cdp_session(tab.page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def presence(cdp: CDPSession, authenticator: str, *, automatic: bool) -> None:
    cdp.send(
        "WebAuthn.setAutomaticPresenceSimulation",
        {"authenticatorId": authenticator, "enabled": automatic},
    )
