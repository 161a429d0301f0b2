"""A branded server in headless Chromium: the logo shows, the title and header name the brand,
the footer links are there, the buttons take the brand colour with readable text, and axe-core
finds nothing in either colour scheme at desktop or phone size.

The sign-in page's screenshot is kept as docs/images/branding-sign-in.png, the picture
docs/configuration.md's "Branding" section shows; a run that changes the look changes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.flows import PASSWORD, fill_in_sign_in, new_account
from tests.support.axe import audit, focus_rings
from tests.support.brand import (
    BRAND_COLOR,
    BRAND_NAME,
    PRIVACY_URL,
    SUPPORT_URL,
    SVG_LOGO,
    write_logo,
)
from tests.support.chromium import WatchedPage
from tests.support.databases import backends
from tests.support.live_server import LiveServer, live_server_on

pytestmark = pytest.mark.e2e

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "branding-sign-in.png"
DASH = "\N{EN DASH}"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module", params=backends())
def branded_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp(f"branding-{request.param}")
    logo = write_logo(workdir / "brand", "logo.svg", SVG_LOGO)
    with live_server_on(
        request.param,
        workdir,
        AUTHSERVER_BRAND_NAME=BRAND_NAME,
        AUTHSERVER_BRAND_LOGO=str(logo),
        AUTHSERVER_BRAND_COLOR=BRAND_COLOR,
        AUTHSERVER_SUPPORT_URL=SUPPORT_URL,
        AUTHSERVER_PRIVACY_URL=PRIVACY_URL,
    ) as server:
        yield server


def test_the_branded_sign_in_page(branded_server: LiveServer, tab: WatchedPage) -> None:
    page = tab.page
    page.goto(branded_server.url("/login"))
    tab.arrive("/login", "Sign in")

    assert page.title() == f"Sign in {DASH} {BRAND_NAME}"
    header = page.get_by_role("banner")
    expect(header).to_contain_text(BRAND_NAME)
    logo = header.locator("img")
    expect(logo).to_be_visible()
    # Decoded, not just laid out: a logo the browser could not show has no natural width.
    assert logo.evaluate("image => image.complete && image.naturalWidth") == 96
    footer = page.get_by_role("contentinfo")
    expect(footer.get_by_role("link", name="Help")).to_have_attribute("href", SUPPORT_URL)
    expect(footer.get_by_role("link", name="Privacy")).to_have_attribute("href", PRIVACY_URL)
    button = page.get_by_role("button", name="Sign in", exact=True)
    colours = button.evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    )
    assert colours == ["rgb(255, 204, 0)", "rgb(0, 0, 0)"]  # black on the pale brand colour

    page.set_viewport_size({"width": 900, "height": 720})
    DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=DOCS_SCREENSHOT)


def test_a_signed_in_page_names_the_brand(branded_server: LiveServer, tab: WatchedPage) -> None:
    account = new_account(branded_server)
    tab.page.goto(branded_server.url("/login"))
    tab.arrive("/login", "Sign in")
    fill_in_sign_in(tab, account.email, PASSWORD)

    tab.arrive("/", BRAND_NAME)
    assert tab.page.title() == f"Signed in {DASH} {BRAND_NAME}"


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("path", ["/login", "/reset"])
def test_branded_pages_pass_axe_in_both_schemes(
    branded_server: LiveServer, tab: WatchedPage, size: str, path: str
) -> None:
    page = tab.page
    page.set_viewport_size(SIZES[size])
    page.goto(branded_server.url(path))
    tab.arrive(path, page.get_by_role("heading", level=1).inner_text())

    findings = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        findings.extend(f"{scheme}: {found}" for found in audit(page))
        findings.extend(f"{scheme}: {found}" for found in focus_rings(page))
    assert findings == []
