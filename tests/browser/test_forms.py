"""Forms that help (issue 15, item 4), in headless Chromium.

The "Show password" button shows and hides the password, says so in its name and aria-pressed,
and works from the keyboard; without JavaScript it is not there and the form still works. The
browser itself stops a new password shorter than the policy's minimum. Chromium finds a
username field on every new-password form: it logs "[DOM] Password forms should have
(optionally hidden) username fields" otherwise, which a page made for it here shows the check
would catch.

Its own live server, with sign-up open, mailing to the package's SMTP server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect

from tests.browser.flows import PASSWORD, fill_in_sign_in, home_heading, new_account
from tests.support.chromium import WatchedPage
from tests.support.live_server import LiveServer
from tests.support.loopback_site import LoopbackSite, Resource, html_page, loopback_site
from tests.support.mailbox import link_in, wait_for_mail
from tests.support.smtp import Inbox

pytestmark = pytest.mark.e2e

# Chromium's own words for a form it cannot file a password under (a "[DOM]" console message).
MISSING_USERNAME = re.compile(r"password forms? should have .*username", re.IGNORECASE)
NO_USERNAME_FORM = (
    '<form method="post" action="/"><label for="p">New password</label>'
    '<input type="password" id="p" name="p" autocomplete="new-password">'
    "<button>Save</button></form>"
)
ICON = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>'

RECORD_FIELD_TYPE_ON_SUBMIT = """
() => window.addEventListener("submit", () => {
  sessionStorage.setItem("sent-as", document.getElementById("password").type);
})
"""


@pytest.fixture(scope="module")
def no_username_site() -> Iterator[LoopbackSite]:
    """A page Chromium warns about; up for the module, so the icon it asks for next is served
    (a site gone meanwhile would be a failed load in the console)."""
    resources = {
        "/": html_page("No username", NO_USERNAME_FORM),
        "/favicon.ico": Resource(ICON, "image/svg+xml"),
    }
    with loopback_site(resources) as site:
        yield site


def test_the_toggle_shows_and_hides_the_password_from_the_keyboard(
    open_server: LiveServer, tab: WatchedPage
) -> None:
    account = new_account(open_server)
    page = tab.page
    page.goto(open_server.url("/login"))
    tab.arrive("/login", "Sign in")
    password = page.get_by_label("Password")
    page.get_by_label("Email").fill(account.email)
    password.fill(PASSWORD)

    # The next stop after the field: a real button, reached and pressed with the keyboard.
    password.press("Tab")
    # Its name, as Chromium computes it, names the field too (text only screen readers read).
    toggle = page.get_by_role("button", name="Show password (Password)", exact=True)
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(password).to_have_attribute("type", "password")
    page.keyboard.press("Space")
    hide = page.get_by_role("button", name="Hide password (Password)", exact=True)
    expect(hide).to_be_focused()
    expect(hide).to_have_attribute("aria-pressed", "true")
    expect(password).to_have_attribute("type", "text")
    expect(password).to_have_value(PASSWORD)
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(password).to_have_attribute("type", "password")

    # Shown again, then sent: the field is a password field again when the form goes.
    toggle.click()
    expect(password).to_have_attribute("type", "text")
    # What the field is once the form's own submit handlers have run (window hears it last).
    page.evaluate(RECORD_FIELD_TYPE_ON_SUBMIT)
    page.get_by_role("button", name="Sign in", exact=True).click()
    tab.arrive("/", home_heading(open_server), name="home")
    assert page.evaluate("() => sessionStorage.getItem('sent-as')") == "password"


def test_without_javascript_there_is_no_toggle_and_signing_in_works(
    open_server: LiveServer, chromium: Browser
) -> None:
    account = new_account(open_server)
    context = chromium.new_context(java_script_enabled=False, locale="en-GB")
    try:
        page = context.new_page()
        page.goto(open_server.url("/login"))
        expect(page.get_by_role("button", name="Show password")).to_have_count(0)
        page.get_by_label("Email").fill(account.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("heading", level=1, name=home_heading(open_server))).to_be_visible()
    finally:
        context.close()


def test_the_browser_stops_a_new_password_shorter_than_the_minimum(
    open_server: LiveServer, tab: WatchedPage
) -> None:
    page = tab.page
    page.goto(open_server.url("/signup"))
    tab.arrive("/signup", "Create account")
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.get_by_label("Email").fill("short@example.test")
    password = page.get_by_label("Password")
    password.fill("too short")
    password.press("Enter")

    # Constraint validation refuses to submit; nothing went to the server.
    assert password.evaluate("field => field.validity.tooShort") is True
    assert "12" in password.evaluate("field => field.validationMessage")
    expect(page).to_have_url(open_server.url("/signup"))
    assert [r.url for r in requests if r.method == "POST"] == []


def warnings_about_usernames(page: Page, messages: list[ConsoleMessage]) -> list[str]:
    page.wait_for_load_state("load")
    return [m.text for m in messages if MISSING_USERNAME.search(m.text)]


def test_chromium_finds_a_username_on_every_new_password_form(
    open_server: LiveServer, inbox: Inbox, no_username_site: LoopbackSite, tab: WatchedPage
) -> None:
    page = tab.page
    messages: list[ConsoleMessage] = []
    page.on("console", lambda message: messages.append(message))

    # The check sees Chromium's message: a page without a username field gets it.
    with page.expect_console_message(lambda m: bool(MISSING_USERNAME.search(m.text))):
        page.goto(no_username_site.url("/"))
    messages.clear()

    page.goto(open_server.url("/signup"))
    tab.arrive("/signup", "Create account")
    assert warnings_about_usernames(page, messages) == []

    account = new_account(open_server)
    page.goto(open_server.url("/reset"))
    tab.arrive("/reset", "Reset your password")
    page.get_by_label("Email").fill(account.email)
    page.get_by_role("button", name="Send reset link").click()
    tab.arrive("/reset", "Check your email")
    link = link_in(wait_for_mail(inbox, to=account.email, subject="Reset your password"),
                   open_server.url("/reset/"))  # fmt: skip
    page.goto(link)
    tab.arrive(urlsplit(link).path, "Choose a new password")
    expect(page.get_by_label("Email")).to_have_value(account.email)
    assert warnings_about_usernames(page, messages) == []

    invited = open_server.cli_json(
        "user", "invite", f"invited-{account.subject[:8]}@example.test", "--json"
    )
    page.goto(invited["link"])
    tab.arrive(urlsplit(invited["link"]).path, "Create your account")
    assert warnings_about_usernames(page, messages) == []

    page.goto(open_server.url("/login"))
    tab.arrive("/login", "Sign in")
    fill_in_sign_in(tab, account.email, PASSWORD)
    tab.arrive("/", home_heading(open_server), name="home")
    page.goto(open_server.url("/account"))
    tab.arrive("/account", "Your account")
    assert warnings_about_usernames(page, messages) == []
