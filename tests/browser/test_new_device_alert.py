"""The new-device notice's "This wasn't me" link, in headless Chromium, used from the keyboard.

The live server mails through aiosmtpd on loopback. The account signs in once (its first
sign-in: no notice), then again from a browser with no device cookie (cookies cleared): the
notice arrives, its link opens a page that explains, and the button, reached and pressed with
the keyboard alone, signs the account out everywhere and mails a password-reset link.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.flows import PASSWORD, fill_in_sign_in, home_heading, new_account
from tests.support.chromium import WatchedPage
from tests.support.live_server import LiveServer
from tests.support.mailbox import link_in, wait_for_mail
from tests.support.smtp import Inbox

pytestmark = pytest.mark.e2e

BUTTON = "Sign out everywhere and reset my password"
MAX_TABS = 20  # the page has a handful of focusable things; more presses means it is not there


def test_this_wasnt_me_is_confirmed_with_the_keyboard(
    server: LiveServer, inbox: Inbox, tab: WatchedPage
) -> None:
    account = new_account(server)
    page = tab.page
    for attempt in ("first sign-in", "from a new browser"):
        page.goto(server.url("/login"))
        tab.arrive("/login", "Sign in", name=f"sign-in {attempt}")
        fill_in_sign_in(tab, account.email, PASSWORD)
        tab.arrive("/", home_heading(server), name=f"home {attempt}")
        page.context.clear_cookies()  # the next sign-in is a browser the account never saw

    notice = wait_for_mail(inbox, to=account.email, subject="New sign-in to your account")
    link = link_in(notice, server.url("/not-me/"))
    page.goto(link)
    tab.arrive(urlsplit(link).path, "Someone else signed in?")

    button = page.get_by_role("button", name=BUTTON)
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if button.evaluate("element => element === document.activeElement"):
            break
    expect(button).to_be_focused()
    tab.screenshot("button focused")
    page.keyboard.press("Enter")
    tab.arrive("/not-me/done", "Signed out everywhere")

    reset = wait_for_mail(inbox, to=account.email, subject="Reset your password")
    assert link_in(reset, server.url("/reset/"))
    page.get_by_role("link", name="ask for a new reset link").click()
    tab.arrive("/reset", "Reset your password")
