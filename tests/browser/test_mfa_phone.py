"""MFA on a phone (issue 15 item 6), in headless Chromium at phone size (390x844).

A person sets up the authenticator app on the phone that also holds the app: the "Open in
authenticator app" link carries the key, the key can be copied, the recovery codes copied and
downloaded (the file is read back) and confirmed saved. After signing out, a recovery code signs
them in, and the page says how many are left; the owner is mailed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from playwright.sync_api import Browser, expect

from tests.browser.flows import PASSWORD, fill_in_sign_in, home_heading, new_account, sign_out
from tests.support.chromium import WatchedPage
from tests.support.live_server import LiveServer
from tests.support.mailbox import text_of, wait_for_mail
from tests.support.smtp import Inbox

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
RECOVERY_SUBJECT = "A recovery code was used to sign in to your account"


@pytest.fixture
def phone_tab(server: LiveServer, chromium: Browser, tmp_path: Path) -> Iterator[WatchedPage]:
    """A phone-sized tab that may use the clipboard (granted, as a person's tap would)."""
    context = chromium.new_context(locale="en-GB", **PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    try:
        watched = WatchedPage(context.new_page(), tmp_path / "steps")
        yield watched
        watched.assert_clean()
    finally:
        context.close()


def clipboard(tab: WatchedPage) -> str:
    text: str = tab.page.evaluate("navigator.clipboard.readText()")
    return text


def fits_the_screen(tab: WatchedPage) -> bool:
    fits: bool = tab.page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return fits


def test_set_up_copy_download_confirm_and_sign_in_with_a_recovery_code_on_a_phone(
    server: LiveServer, inbox: Inbox, phone_tab: WatchedPage
) -> None:
    tab, page = phone_tab, phone_tab.page
    account = new_account(server)
    page.goto(server.url("/account"))
    tab.arrive("/login", "Sign in")
    fill_in_sign_in(tab, account.email, PASSWORD)
    tab.arrive("/account", "Your account")
    page.get_by_role("link", name="Set up authenticator app").click()
    tab.arrive("/account/mfa", "Set up authenticator app")
    assert fits_the_screen(tab)

    # The link opens the app on this phone with the key (Key URI Format).
    link = page.get_by_role("link", name="Open in authenticator app")
    expect(link).to_be_visible()
    uri = link.get_attribute("href")
    assert uri is not None
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    issuer = urlsplit(server.base_url).hostname
    assert unquote(parts.path) == f"/{issuer}:{account.email}"
    assert "%40" in parts.path  # the account's "@", percent-encoded
    query = parse_qs(parts.query)
    secret = query["secret"][0]
    assert query["issuer"] == [issuer]

    # The key in groups of four, none broken across lines, and a button that copies it whole.
    groups = page.locator("code.secret .key-group")
    assert groups.all_inner_texts() == [secret[i : i + 4] for i in range(0, len(secret), 4)]
    for group in groups.all():
        assert group.evaluate("g => g.getClientRects().length") == 1
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("status")).to_have_text("Key copied.")
    assert clipboard(tab) == secret

    app = pyotp.TOTP(secret)
    page.get_by_label("Authentication code").fill(app.now())
    page.get_by_role("button", name="Verify").click()
    tab.arrive("/account/mfa", "Authenticator app set up")
    assert fits_the_screen(tab)
    codes = page.locator("ol.recovery-codes li").all_inner_texts()
    assert len(codes) == 10

    page.get_by_role("button", name="Copy codes").click()
    expect(page.get_by_role("status")).to_have_text("Recovery codes copied.")
    assert clipboard(tab).splitlines() == codes

    with page.expect_download() as started:
        page.get_by_role("button", name="Download as a text file").click()
    download = started.value
    assert download.suggested_filename == "recovery-codes.txt"
    saved = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert saved[0] == f"Recovery codes for {account.email} at {issuer}. Each works once."
    assert saved[2:] == codes

    # "Continue" needs the box: the browser stops the form until it is ticked.
    page.get_by_role("button", name="Continue").click()
    assert page.locator("#saved").evaluate("box => box.validity.valueMissing")
    expect(page.get_by_role("heading", level=1)).to_have_text("Authenticator app set up")
    page.get_by_label("I have saved my recovery codes").check()
    page.get_by_role("button", name="Continue").click()
    tab.arrive("/account/mfa", "Authenticator app")

    # Phone lost: a recovery code signs in, and the page says how many are left.
    sign_out(tab, server)
    fill_in_sign_in(tab, account.email, PASSWORD)
    tab.arrive("/mfa", "Two-step verification")
    page.get_by_label("Authentication code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    tab.arrive("/mfa", "Signed in with a recovery code")
    expect(page.get_by_role("status")).to_have_text("You have 9 recovery codes left.")
    assert fits_the_screen(tab)
    page.get_by_role("link", name="Continue").click()
    tab.arrive("/", home_heading(server), name="home after a recovery code")

    mail = wait_for_mail(inbox, to=account.email, subject=RECOVERY_SUBJECT)
    assert "You have 9 recovery codes left." in text_of(mail)
    assert codes[0] not in text_of(mail)
