"""A forgotten password replaced through the mailed link, in headless Chromium.

The live server mails through a real SMTP server on loopback (aiosmtpd); the person reads the
message, opens its link in the browser and sets a new password there.
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

NEW_PASSWORD = "a new passphrase nobody has guessed"
GENERIC_FAILURE = (
    "The email address or password is incorrect, or sign-in to this account is paused after "
    "repeated attempts. If it is paused, we have sent an e-mail with a way to unlock it."
)


def test_forgotten_password_is_replaced_through_the_mailed_link(
    server: LiveServer, inbox: Inbox, tab: WatchedPage
) -> None:
    account = new_account(server)
    page = tab.page

    page.goto(server.url("/login"))
    tab.arrive("/login", "Sign in")
    page.get_by_role("link", name="Forgot password?").click()
    tab.arrive("/reset", "Reset your password")
    page.get_by_label("Email").fill(account.email)
    page.get_by_role("button", name="Send reset link").click()
    tab.arrive("/reset", "Check your email")
    expect(page.get_by_text(account.email)).to_be_visible()

    message = wait_for_mail(inbox, to=account.email, subject="Reset your password")
    link = link_in(message, server.url("/reset/"))
    page.goto(link)
    tab.arrive(urlsplit(link).path, "Choose a new password")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    tab.arrive("/reset/done", "Password changed")

    # The old password no longer works...
    page.get_by_role("link", name="Sign in").click()
    tab.arrive("/login", "Sign in")
    fill_in_sign_in(tab, account.email, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(GENERIC_FAILURE)
    tab.arrive("/login", "Sign in", status=401, name="sign-in-refused")

    # ...and the new one does.
    fill_in_sign_in(tab, account.email, NEW_PASSWORD)
    tab.arrive("/", home_heading(server), name="home")
    expect(page.get_by_text(f"Signed in as {account.email}")).to_be_visible()
