"""The brand on every page: the title, the header with name and logo, the footer links, the
colour stylesheet, the logo route, and an operator's own templates (authserver/branding/)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.brand import (
    BRAND_NAME,
    PRIVACY_URL,
    SUPPORT_URL,
    SVG_LOGO,
    brand_settings,
    png_bytes,
    write_logo,
)

PAGES = ["/login", "/reset", "/not-a-page"]
DASH = "\N{EN DASH}"  # between the page's own title and the brand


class PageParts(HTMLParser):
    """The parts of a page the brand shows in: title, header, footer, stylesheets."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.title = ""
        self.header_text = ""
        self.header_images: list[dict[str, str | None]] = []
        self.footer_links: list[tuple[str | None, str]] = []
        self.stylesheets: list[str | None] = []
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("title", "header", "footer", "a"):
            self._open.append(tag)
        if tag == "img" and "header" in self._open:
            self.header_images.append(found)
        if tag == "a" and "footer" in self._open:
            self.footer_links.append((found.get("href"), ""))
        if tag == "link" and found.get("rel") == "stylesheet":
            self.stylesheets.append(found.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if "title" in self._open:
            self.title += data
        if "header" in self._open:
            self.header_text += data
        if "footer" in self._open and "a" in self._open:
            href, text = self.footer_links[-1]
            self.footer_links[-1] = (href, text + data.strip())


@pytest.fixture
def logo(tmp_path: Path) -> Path:
    return write_logo(tmp_path / "brand", "logo.png", png_bytes())


@pytest.fixture
def branded(make_app: AppFactory, logo: Path) -> Flask:
    return make_app(**brand_settings(logo))


@pytest.fixture
def visitor(branded: Flask) -> FlaskClient:
    return branded.test_client()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_shows_the_brand(visitor: FlaskClient, path: str) -> None:
    page = visitor.get(path)

    parts = PageParts(page.text)
    assert parts.title.endswith(f" {DASH} {BRAND_NAME}")
    assert parts.header_text.split() == BRAND_NAME.split()
    [image] = parts.header_images
    assert str(image["src"]).startswith("/branding/logo?v=")
    assert image["alt"] == ""  # the name beside it says what it is
    assert parts.footer_links == [(SUPPORT_URL, "Help"), (PRIVACY_URL, "Privacy")]
    assert parts.stylesheets[0] == "/static/style.css"
    assert str(parts.stylesheets[1]).startswith("/branding/style.css?v=")


def test_the_sign_in_title_names_the_brand(visitor: FlaskClient) -> None:
    assert PageParts(visitor.get("/login").text).title == f"Sign in {DASH} {BRAND_NAME}"


def test_unbranded_pages_name_the_issuers_host_and_no_product(client: FlaskClient) -> None:
    page = client.get("/login")

    parts = PageParts(page.text)
    assert parts.title == f"Sign in {DASH} localhost"  # tests/support/settings.py: http://localhost
    assert parts.header_text.split() == ["localhost"]
    assert parts.header_images == []
    assert parts.footer_links == []
    assert parts.stylesheets == ["/static/style.css"]
    assert "authserver" not in page.text.replace("authserver_", "")  # cookie names aside
    assert client.get("/branding/logo").status_code == 404
    assert client.get("/branding/style.css").status_code == 404


def test_the_logo_is_served_from_our_origin_with_its_type_and_cached(
    visitor: FlaskClient, logo: Path
) -> None:
    src = PageParts(visitor.get("/login").text).header_images[0]["src"]

    served = visitor.get(str(src))

    assert served.status_code == 200
    assert served.data == logo.read_bytes()
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in served.headers
    etag = served.headers["ETag"]
    again = visitor.get(str(src), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""


def test_an_unversioned_logo_url_must_be_revalidated(visitor: FlaskClient) -> None:
    served = visitor.get("/branding/logo")

    assert served.status_code == 200
    assert served.headers["Cache-Control"] == "public, no-cache"


@pytest.mark.parametrize(
    ("name", "content", "mimetype"),
    [
        ("logo.svg", SVG_LOGO, "image/svg+xml"),
        (
            "logo.webp",
            b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00",
            "image/webp",
        ),
        (
            "logo.JPG",
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32 + b"\xff\xd9",
            "image/jpeg",
        ),
    ],
)
def test_each_accepted_image_type_is_served_as_what_it_is(
    make_app: AppFactory, tmp_path: Path, name: str, content: bytes | str, mimetype: str
) -> None:
    logo = write_logo(tmp_path / "brand", name, content)
    client = make_app(brand_logo=str(logo)).test_client()

    served = client.get("/branding/logo")

    assert served.headers["Content-Type"] == mimetype
    assert served.data == logo.read_bytes()


def _luminance(color: str) -> float:
    """WCAG 2.2 relative luminance, written out here to check the server's own choice."""
    values = []
    for start in (1, 3, 5):
        channel = int(color[start : start + 2], 16) / 255
        values.append(channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4)
    return 0.2126 * values[0] + 0.7152 * values[1] + 0.0722 * values[2]


def _contrast(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _variables(css: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for declaration in css.replace("{", ";").replace("}", ";").split(";"):
        name, _, value = declaration.partition(":")
        if name.strip().startswith("--"):
            found[name.strip()] = value.strip()
    return found


@pytest.mark.parametrize(
    ("color", "on_accent"),
    [
        ("#ffcc00", "#000000"),
        ("#2456c8", "#ffffff"),
        ("#767676", "#000000"),
        # The hardest colour: white and black both reach only 4.58:1 on it (colors.py).
        ("#5d60ff", "#000000"),
        ("#000000", "#ffffff"),
    ],
)
def test_the_brand_colour_gets_text_and_links_that_reach_aa(
    make_app: AppFactory, color: str, on_accent: str
) -> None:
    client = make_app(brand_color=color).test_client()
    href = PageParts(client.get("/login").text).stylesheets[1]

    served = client.get(str(href))

    assert served.headers["Content-Type"].startswith("text/css")
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    variables = _variables(served.text)
    assert variables["--accent"] == color
    assert variables["--on-accent"] == on_accent
    assert _contrast(color, on_accent) >= 4.5
    # Links and focus rings on the light page (white) reach 4.5:1 too.
    assert variables["--link"] == variables["--focus"]
    assert _contrast(variables["--link"], "#ffffff") >= 4.5


def test_a_template_in_the_operators_folder_replaces_ours(
    make_app: AppFactory, tmp_path: Path
) -> None:
    own = tmp_path / "own-templates"
    own.mkdir()
    (own / "_brand_header.html").write_text(
        '<header class="brand"><span>{{ brand.name }}, our way</span></header>\n'
    )
    client = make_app(brand_name="Acme ID", templates_dir=str(own)).test_client()

    login = client.get("/login")
    reset = client.get("/reset")

    for page in (login, reset):
        assert PageParts(page.text).header_text == "Acme ID, our way"
    assert 'name="password"' in login.text  # the page itself is still ours
