"""The checks every browser test relies on, tried on pages made to break them.

The server sends no Content-Security-Policy yet; the pages here do, so the violation checks are
known to work on the day it does. Each page is served from loopback and opened in the same
headless Chromium as the real tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.support import chromium as chromium_support
from tests.support.chromium import WatchedPage
from tests.support.loopback_site import LoopbackSite, Resource, html_page, loopback_site

pytestmark = pytest.mark.e2e

# A 1x1 transparent PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
IMAGE = '<img src="/pixel.png" alt="a pixel">'
# No inline code anywhere, so only the CSP check can object to these.
NO_IMAGES = "img-src 'none'"
HEADINGS = {
    "/clean": "A page with nothing wrong",
    "/csp-enforced": "An image the policy blocks",
    "/csp-report-only": "An image the report-only policy would block",
    "/inline-script-under-csp": "An inline script without a nonce",
    "/console-error": "A script that logs an error",
    "/exception": "A script that throws",
    "/inline-style": "A style attribute",
    "/unlabelled": "A field without a label",
}
SITE = {
    "/clean": html_page(
        HEADINGS["/clean"],
        '<form><label for="q">Search</label><input id="q" name="q"><button>Go</button></form>'
        + IMAGE,
        Content_Security_Policy="default-src 'self'",
    ),
    "/csp-enforced": html_page(HEADINGS["/csp-enforced"], IMAGE, Content_Security_Policy=NO_IMAGES),
    "/csp-report-only": html_page(
        HEADINGS["/csp-report-only"], IMAGE, Content_Security_Policy_Report_Only=NO_IMAGES
    ),
    "/inline-script-under-csp": html_page(
        HEADINGS["/inline-script-under-csp"],
        "<script>document.body.dataset.ran = 'yes'</script>",
        Content_Security_Policy="script-src 'nonce-cmFuZG9tLW5vbmNl'",
    ),
    "/console-error": html_page(
        HEADINGS["/console-error"], '<script src="/log-error.js"></script>'
    ),
    "/exception": html_page(HEADINGS["/exception"], '<script src="/throw.js"></script>'),
    "/inline-style": html_page(HEADINGS["/inline-style"], '<p style="color: red">Red</p>'),
    "/unlabelled": html_page(HEADINGS["/unlabelled"], '<input name="q">'),
    "/pixel.png": Resource(PIXEL, "image/png"),
    "/log-error.js": Resource(b'console.error("something broke");', "text/javascript"),
    "/throw.js": Resource(b'throw new Error("kaboom");', "text/javascript"),
}


@pytest.fixture(scope="module")
def site() -> Iterator[LoopbackSite]:
    with loopback_site(SITE) as running:
        yield running


@pytest.fixture
def watched(chromium: Browser, tmp_path: Path) -> Iterator[WatchedPage]:
    """A watched tab whose findings the test inspects (the `tab` fixture would fail on them)."""
    context = chromium.new_context()
    try:
        yield WatchedPage(context.new_page(), tmp_path / "screenshots")
    finally:
        context.close()


def visit(watched: WatchedPage, site: LoopbackSite, path: str) -> None:
    watched.page.goto(site.url(path))
    watched.arrive(path, HEADINGS[path])


def test_a_clean_page_passes_and_is_screenshotted(watched: WatchedPage, site: LoopbackSite) -> None:
    visit(watched, site, "/clean")

    assert watched.problems == []
    assert [path.name for path in watched.screenshots] == ["01-a-page-with-nothing-wrong.png"]
    assert watched.screenshots[0].read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("path", "reported"),
    [
        ("/csp-enforced", "CSP violation: enforce img-src: blocked " + "{origin}/pixel.png"),
        ("/csp-report-only", "CSP violation: report img-src: blocked " + "{origin}/pixel.png"),
        ("/inline-script-under-csp", "CSP violation: enforce script-src-elem: blocked inline"),
        ("/inline-script-under-csp", "inline script: <script>"),
        ("/console-error", "console error: something broke"),
        ("/exception", "uncaught exception: kaboom"),
        ("/inline-style", 'style attribute: <p style="color: red">'),
        ("/unlabelled", 'control without a label: <input name="q"'),
    ],
)
def test_a_page_with_a_fault_fails_the_test(
    watched: WatchedPage, site: LoopbackSite, path: str, reported: str
) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        visit(watched, site, path)

    assert reported.format(origin=site.origin) in str(failed.value)
    assert f"screenshots: {watched.folder}" in str(failed.value)


def test_a_violation_on_a_page_left_at_once_is_still_reported(
    watched: WatchedPage, site: LoopbackSite
) -> None:
    """Chromium's console message outlives the page, unlike what the page itself recorded."""
    watched.page.goto(site.url("/csp-enforced"))
    with pytest.raises(pytest.fail.Exception) as failed:
        visit(watched, site, "/clean")

    [reported] = [line for line in str(failed.value).splitlines() if "/csp-enforced" in line]
    assert f"{site.origin}/csp-enforced: console error:" in reported
    assert "Content Security Policy" in reported


def test_a_page_that_never_comes_fails_with_what_the_browser_reported(
    watched: WatchedPage, site: LoopbackSite
) -> None:
    watched.page.goto(site.url("/csp-enforced"))
    with pytest.raises(pytest.fail.Exception) as failed:
        watched.arrive("/clean", HEADINGS["/clean"], timeout_ms=500)

    message = str(failed.value)
    assert f"the browser is at {site.url('/csp-enforced')}" in message
    assert "CSP violation" in message or "Content Security Policy" in message
    assert [path.name for path in watched.screenshots] == ["01-unexpected.png"]


def test_an_unexpected_status_fails_the_test(watched: WatchedPage, site: LoopbackSite) -> None:
    watched.page.goto(site.url("/clean"))
    with pytest.raises(pytest.fail.Exception) as failed:
        watched.arrive("/clean", HEADINGS["/clean"], status=401)

    assert "HTTP status 200, expected 401" in str(failed.value)


def test_without_chromium_the_tests_fail_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(chromium_support, "CHROMIUM", str(tmp_path / "chromium"))

    with pytest.raises(pytest.fail.Exception) as failed:
        chromium_support.chromium_executable()

    assert "apt-get install -y chromium" in str(failed.value)
