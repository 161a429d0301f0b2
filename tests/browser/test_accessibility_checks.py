"""The accessibility audit (tests/support/axe.py) tried on pages made to break it, so a clean
result from test_accessibility.py means the pages are clean, not that the audit saw nothing.

The pages come from loopback under a strict CSP (`default-src 'self'`, as ours), which shows
that the audit runs in such a page without a violation of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.support.axe import audit, contrast, focus_rings, reflow
from tests.support.chromium import WatchedPage
from tests.support.loopback_site import LoopbackSite, Resource, html_page, loopback_site

pytestmark = pytest.mark.e2e

STRICT = "default-src 'self'"
STYLE = b"""
body { background: #121212; color: #ececec; }
a, button { color: #8ab4f8; background: none; border: 1px solid #8ab4f8; }
a:focus-visible, button:focus-visible { outline: 3px solid #8ab4f8; outline-offset: 2px; }
.faint { color: #3a3a3a; }
.no-ring:focus-visible { outline: none; }
.dim-ring:focus-visible { outline: 3px solid #2456c8; }
.over-gradient { background: linear-gradient(#121212, #fafafa); color: #808080; }
.too-wide { width: 40rem; }
"""
HEADINGS = {
    "/clean": "Readable in the dark",
    "/faint-text": "Text too faint",
    "/no-ring": "A button without a focus ring",
    "/dim-ring": "A focus ring too dim",
    "/over-gradient": "Text on a gradient",
    "/too-wide": "A box wider than a phone",
}
STYLESHEET = '<link rel="stylesheet" href="/style.css">'
SITE = {
    "/clean": html_page(
        HEADINGS["/clean"],
        STYLESHEET + '<main><p>Plain text <a href="/clean">and a link</a></p>'
        "<button>Go</button></main>",
        Content_Security_Policy=STRICT,
    ),
    "/faint-text": html_page(
        HEADINGS["/faint-text"],
        STYLESHEET + '<main><p class="faint">Hard to read</p></main>',
        Content_Security_Policy=STRICT,
    ),
    "/no-ring": html_page(
        HEADINGS["/no-ring"],
        STYLESHEET + '<main><button class="no-ring">Hidden focus</button></main>',
        Content_Security_Policy=STRICT,
    ),
    "/dim-ring": html_page(
        HEADINGS["/dim-ring"],
        STYLESHEET + '<main><button class="dim-ring">Dim focus</button></main>',
        Content_Security_Policy=STRICT,
    ),
    "/over-gradient": html_page(
        HEADINGS["/over-gradient"],
        STYLESHEET + '<main><p class="over-gradient">Readable here and there</p></main>',
        Content_Security_Policy=STRICT,
    ),
    "/too-wide": html_page(
        HEADINGS["/too-wide"],
        STYLESHEET + '<main><p class="too-wide">Forty rems of text</p></main>',
        Content_Security_Policy=STRICT,
    ),
    "/style.css": Resource(STYLE, "text/css"),
}


@pytest.fixture(scope="module")
def site() -> Iterator[LoopbackSite]:
    with loopback_site(SITE) as running:
        yield running


@pytest.fixture
def watched(chromium: Browser, tmp_path: Path) -> Iterator[WatchedPage]:
    context = chromium.new_context()
    try:
        yield WatchedPage(context.new_page(), tmp_path / "screenshots")
    finally:
        context.close()


def visit(watched: WatchedPage, site: LoopbackSite, path: str) -> None:
    watched.page.goto(site.url(path))
    watched.arrive(path, HEADINGS[path])


def test_a_clean_page_has_no_findings_and_the_audit_breaks_no_csp(
    watched: WatchedPage, site: LoopbackSite
) -> None:
    visit(watched, site, "/clean")

    assert audit(watched.page) == []
    assert focus_rings(watched.page) == []
    assert reflow(watched.page) == []
    watched.assert_clean()  # no CSP violation, console error or exception from the audit


def test_text_below_4_5_to_1_is_a_violation_with_its_element_and_ratio(
    watched: WatchedPage, site: LoopbackSite
) -> None:
    visit(watched, site, "/faint-text")

    [violation] = audit(watched.page)

    assert (violation.rule, violation.impact, violation.target) == (
        "color-contrast",
        "serious",
        "p",  # axe's shortest selector that names the element
    )
    assert "foreground color: #3a3a3a, background color: #121212" in str(violation)


def test_text_whose_contrast_axe_cannot_decide_is_reported_too(
    watched: WatchedPage, site: LoopbackSite
) -> None:
    """Undecided is not passed: a gradient behind text, say, is for a person to judge."""
    visit(watched, site, "/over-gradient")

    [undecided] = audit(watched.page)

    assert (undecided.rule, undecided.target) == ("color-contrast undecided", "p")
    assert "gradient" in undecided.summary


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("/no-ring", 'no visible focus ring on <button class="no-ring">Hidden focus</button>'),
        (
            "/dim-ring",
            "focus ring 2.89:1 against its background (needs 3.0:1) on "
            '<button class="dim-ring">Dim focus</button>',
        ),
    ],
)
def test_a_missing_or_dim_focus_ring_is_found(
    watched: WatchedPage, site: LoopbackSite, path: str, found: str
) -> None:
    visit(watched, site, path)

    assert focus_rings(watched.page) == [found]


@pytest.mark.parametrize(
    ("first", "second", "ratio"),
    [
        ([255, 255, 255], [0, 0, 0], 21.0),
        ([0x24, 0x56, 0xC8], [0x12, 0x12, 0x12], 2.89),  # the old dark-mode links
        ([0x8A, 0xB4, 0xF8], [0x12, 0x12, 0x12], 8.88),  # and the new ones
    ],
)
def test_contrast_follows_wcag_relative_luminance(
    first: list[int], second: list[int], ratio: float
) -> None:
    assert contrast(first, second) == pytest.approx(ratio, abs=0.01)
    assert contrast(second, first) == pytest.approx(ratio, abs=0.01)


def test_a_page_wider_than_a_phone_names_what_reaches_past_its_edge(
    chromium: Browser, site: LoopbackSite, tmp_path: Path
) -> None:
    # A window as narrow as a small phone (this page has no viewport meta tag, so a phone's
    # emulation would lay it out 980 pixels wide, as phones do such pages).
    context = chromium.new_context(viewport={"width": 320, "height": 640})
    try:
        phone = WatchedPage(context.new_page(), tmp_path / "screenshots")
        visit(phone, site, "/too-wide")

        [finding] = reflow(phone.page)
    finally:
        context.close()

    assert (
        finding.startswith("the page is ") and "px wide in a 320px viewport (SC 1.4.10)" in finding
    )
    assert '<p class="too-wide">' in finding
