"""The branding settings (AUTHSERVER_BRAND_*, the footer links, the template folder), inherited
by Settings.

Each value is parsed here; what a value must meet beyond its own text (the logo file's type, the
template folder existing) is checked by authserver/branding/checks.py at start-up. What the pages
and mails make of them is in authserver/branding/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from authserver.config_fields import InvalidValue, parse_str, setting

_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# Loopback names a developer's own machine: plain http is fine there, and only there.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def parse_brand_color(raw: str) -> str:
    """``#rrggbb``, kept in lower case; empty means the stylesheet's own colours."""
    value = raw.strip()
    if value and not _HEX_COLOR.fullmatch(value):
        raise InvalidValue(f"expected a colour as #rrggbb (e.g. #2456c8), got {raw!r}")
    return value.lower()


def parse_page_link(raw: str) -> str:
    """An absolute https URL (http only on loopback) shown as a link on every page."""
    value = raw.strip()
    if not value:
        return ""
    parts = urlsplit(value)
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS
    if not parts.netloc or not (parts.scheme == "https" or local):
        raise InvalidValue(f"expected an https URL (http only for localhost), got {raw!r}")
    return value


@dataclass(frozen=True)
class BrandingSettings:
    brand_name: str = setting(
        "",
        parse_str,
        "Name of the service in page titles, the page header and mails; empty means the issuer "
        "URL's host name",
    )
    brand_logo: str = setting(
        "",
        parse_str,
        "Logo image file (PNG, SVG, WebP or JPEG) shown in the page header; empty means none",
    )
    brand_color: str = setting(
        "",
        parse_brand_color,
        "Accent colour (#rrggbb) of the header and buttons; their text turns white or black, "
        "whichever contrasts more; empty keeps the built-in blue",
    )
    support_url: str = setting(
        "",
        parse_page_link,
        "Help link in the footer of every page and in mails (https); empty means none",
    )
    privacy_url: str = setting(
        "",
        parse_page_link,
        "Privacy notice link in the footer of every page (https); empty means none",
    )
    templates_dir: str = setting(
        "",
        parse_str,
        "Folder of templates that replace ours of the same name (e.g. login.html, "
        "mail/password_reset.txt); empty means none",
    )
