"""The branding settings as an operator writes them: accepted values, and clear refusals of
bad ones at start-up, every one named by its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from authserver.config import ConfigError, Settings
from tests.support.brand import SVG_LOGO, png_bytes, write_logo


def load(tmp_path: Path, **variables: str) -> Settings:
    environ = {"AUTHSERVER_INSTANCE_PATH": str(tmp_path / "instance"), **variables}
    return Settings.from_env(environ, dotenv_path=tmp_path / ".env")


def problems_of(tmp_path: Path, **variables: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **variables)
    return caught.value.problems


def test_every_branding_setting_is_read(tmp_path: Path) -> None:
    logo = write_logo(tmp_path, "logo.png", png_bytes())
    templates = tmp_path / "templates"
    templates.mkdir()

    settings = load(
        tmp_path,
        AUTHSERVER_BRAND_NAME="Acme ID",
        AUTHSERVER_BRAND_LOGO=str(logo),
        AUTHSERVER_BRAND_COLOR="#FFCC00",
        AUTHSERVER_SUPPORT_URL="https://help.acme.test/",
        AUTHSERVER_PRIVACY_URL="http://localhost:8080/privacy",
        AUTHSERVER_TEMPLATES_DIR=str(templates),
    )

    assert settings.brand_name == "Acme ID"
    assert settings.brand_logo == str(logo)
    assert settings.brand_color == "#ffcc00"
    assert settings.support_url == "https://help.acme.test/"
    assert settings.privacy_url == "http://localhost:8080/privacy"
    assert settings.templates_dir == str(templates)


def test_unset_branding_is_neutral(tmp_path: Path) -> None:
    settings = load(tmp_path)

    assert (settings.brand_name, settings.brand_logo, settings.brand_color) == ("", "", "")
    assert (settings.support_url, settings.privacy_url, settings.templates_dir) == ("", "", "")


@pytest.mark.parametrize("raw", ["red", "#fc0", "#ffcc0g", "ffcc00", "#ffcc00 ;x"])
def test_a_colour_that_is_not_rrggbb_is_refused(tmp_path: Path, raw: str) -> None:
    assert problems_of(tmp_path, AUTHSERVER_BRAND_COLOR=raw) == [
        f"AUTHSERVER_BRAND_COLOR: expected a colour as #rrggbb (e.g. #2456c8), got {raw!r}"
    ]


@pytest.mark.parametrize("variable", ["AUTHSERVER_SUPPORT_URL", "AUTHSERVER_PRIVACY_URL"])
@pytest.mark.parametrize(
    "raw", ["http://help.acme.test/", "ftp://acme.test/", "javascript:alert(1)", "help.acme.test"]
)
def test_footer_links_must_be_https_but_on_localhost(
    tmp_path: Path, variable: str, raw: str
) -> None:
    assert problems_of(tmp_path, **{variable: raw}) == [
        f"{variable}: expected an https URL (http only for localhost), got {raw!r}"
    ]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("logo.gif", b"GIF89a\x01\x00\x01\x00", "is not a PNG, SVG, WebP or JPEG image"),
        ("logo.png", b"\xff\xd8\xff\xe0\x00\x10JFIF", "holds image/jpeg but is named .png"),
        ("logo", png_bytes(), "holds image/png but is named without an extension"),
        ("logo.html", "<html><body>hello</body></html>", "is not a PNG, SVG, WebP or JPEG image"),
        (
            "logo.svg",
            SVG_LOGO.replace("</svg>", "<script>alert(1)</script></svg>"),
            "is an SVG with script or event handlers",
        ),
        (
            "logo.svg",
            SVG_LOGO.replace("<rect ", '<rect onclick="alert(1)" '),
            "is an SVG with script or event handlers",
        ),
        (
            "logo.png",
            png_bytes(width=400, height=400) + b"\x00" * 600_000,
            "is larger than 512 KiB",
        ),
    ],
)
def test_a_logo_that_is_not_an_accepted_image_is_refused(
    tmp_path: Path, name: str, content: bytes | str, reason: str
) -> None:
    logo = write_logo(tmp_path / "brand", name, content)

    assert problems_of(tmp_path, AUTHSERVER_BRAND_LOGO=str(logo)) == [
        f"AUTHSERVER_BRAND_LOGO: {str(logo)!r} {reason}"
    ]


def test_a_missing_logo_and_template_folder_are_named_together(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "logo.png"

    problems = problems_of(
        tmp_path,
        AUTHSERVER_BRAND_LOGO=str(missing),
        AUTHSERVER_TEMPLATES_DIR=str(tmp_path / "no-templates"),
    )

    assert problems == [
        f"AUTHSERVER_BRAND_LOGO: cannot read {str(missing)!r} (No such file or directory)",
        "AUTHSERVER_TEMPLATES_DIR: no such folder",
    ]
