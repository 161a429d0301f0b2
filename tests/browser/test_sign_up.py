"""Sign-up in headless Chromium: the form is reached from the sign-in page, filled in and sent
with the keyboard alone; its refusals are announced; the mailed link makes the account usable.

Its own live server, with AUTHSERVER_REGISTRATION=open (the package's server keeps the default,
closed), mailing to the package's SMTP server.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.flows import home_heading
from tests.support.chromium import WatchedPage
from tests.support.live_server import LiveServer
from tests.support.mailbox import link_in, wait_for_mail
from tests.support.smtp import Inbox

pytestmark = pytest.mark.e2e

EMAIL = "katherine@example.com"
PASSWORD = "a long phrase nobody else would pick"


def test_sign_up_with_the_keyboard_then_verify_and_sign_in(
    open_server: LiveServer, inbox: Inbox, tab: WatchedPage
) -> None:
    page = tab.page
    page.goto(open_server.url("/login"))
    tab.arrive("/login", "Sign in")
    page.get_by_role("link", name="Create account").click()
    tab.arrive("/signup", "Create account")

    # The email field has the focus; everything else is typed, tabbed and submitted with Enter.
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    # Long enough for the form's minlength (tests/browser/test_forms.py), refused by the server.
    page.keyboard.type("password1234")
    page.keyboard.press("Enter")
    tab.arrive("/signup", "Create account", status=400, name="refused")
    expect(page.get_by_role("alert")).to_contain_text("Password is too common")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Password")).to_be_focused()  # the field to correct

    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    tab.arrive("/signup", "Check your mail")

    message = wait_for_mail(inbox, to=EMAIL, subject="Confirm your email address")
    link = link_in(message, open_server.url("/verify-email/"))
    page.goto(link)
    tab.arrive(urlsplit(link).path, "Confirm your email address")
    page.get_by_role("button", name="Verify email address").press("Enter")
    tab.arrive("/verify-email/done", "Email address verified")

    page.goto(open_server.url("/login"))
    tab.arrive("/login", "Sign in")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    tab.arrive("/", home_heading(open_server), name="home")
    expect(page.get_by_text(f"Signed in as {EMAIL}")).to_be_visible()
