"""Signing in to an app and the consent page, in headless Chromium (issue 15): the pages name
the app and the account, and "Not you?" is reached with the keyboard alone and leads back to
the same request. Every page is checked for console errors, CSP violations and accessibility
problems by WatchedPage.arrive."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.flows import PASSWORD, fill_in_sign_in, new_account
from tests.support.chromium import WatchedPage
from tests.support.live_server import LiveServer
from tests.support.loopback_site import LoopbackSite, html_page, loopback_site

pytestmark = pytest.mark.e2e

APP_NAME = "Context Test App"
CALLBACK_PATH = "/cb"
CALLBACK_HEADING = "Back at the app"
MAX_TABS = 20  # more stops than the consent page has before "Not you?"


@pytest.fixture(scope="module")
def relying_party() -> Iterator[LoopbackSite]:
    with loopback_site({CALLBACK_PATH: html_page(CALLBACK_HEADING)}) as site:
        yield site


def authorization_url(server: LiveServer, app: dict[str, Any], redirect_uri: str) -> str:
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return server.url("/oauth/authorize?") + urlencode(params)


def tab_to(tab: WatchedPage, name: str) -> None:
    """Press Tab until the focused element is the one called `name`, as a keyboard user does."""
    for _ in range(MAX_TABS):
        tab.page.keyboard.press("Tab")
        focused = tab.page.evaluate("document.activeElement && document.activeElement.textContent")
        if focused and focused.strip() == name:
            return
    tab.fail(f"{name!r} was not reached with {MAX_TABS} presses of Tab")


def test_sign_in_for_an_app_then_not_you_by_keyboard(
    server: LiveServer, tab: WatchedPage, relying_party: LoopbackSite
) -> None:
    first, second = new_account(server), new_account(server, name="Grace Hopper")
    redirect_uri = relying_party.url(CALLBACK_PATH)
    app = server.cli_json(
        "client", "create", "--name", APP_NAME,
        "--redirect-uri", redirect_uri, "--scope", "openid profile email",
    )  # fmt: skip
    page = tab.page
    request_url = authorization_url(server, app, redirect_uri)

    page.goto(request_url)
    tab.arrive("/login", "Sign in")
    expect(page.get_by_text(f"Sign in to continue to {APP_NAME}")).to_be_visible()
    fill_in_sign_in(tab, first.email, PASSWORD)
    tab.arrive("/oauth/authorize", f"Allow {APP_NAME}?")
    expect(page.get_by_text(f"Signed in as {first.email}")).to_be_visible()
    expect(page.locator("details code")).to_have_text(["openid", "profile", "email"])

    tab_to(tab, "Not you?")
    page.keyboard.press("Enter")

    tab.arrive("/login", "Sign in", name="sign in as someone else")
    expect(page.get_by_text(f"Sign in to continue to {APP_NAME}")).to_be_visible()
    fill_in_sign_in(tab, second.email, PASSWORD)
    tab.arrive("/oauth/authorize", f"Allow {APP_NAME}?", name="consent as the second person")
    expect(page.get_by_text(f"Signed in as {second.email}")).to_be_visible()
    # The same request as before, parameter for parameter (state included).
    assert parse_qs(urlsplit(page.url).query) == parse_qs(urlsplit(request_url).query)
    page.get_by_role("button", name="Allow").click()
    tab.arrive(CALLBACK_PATH, CALLBACK_HEADING, origin=relying_party.origin)
