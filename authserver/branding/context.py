"""The brand as pages and mails see it: its name, its assets' paths, the footer links.

Templates get ``brand`` (a :class:`Brand`) from a context processor, which Flask runs for mails
rendered outside a request too (a command's mail names the service as well). The name defaults to
the issuer URL's host name, the name people already see in their address bar and authenticator
app, so an unbranded install names no product of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, request

from authserver.branding.colors import brand_stylesheet
from authserver.branding.logo import Logo, read_logo
from authserver.config import Settings

EXTENSION = "authserver.brand"
LOGO_PATH = "/branding/logo"
STYLESHEET_PATH = "/branding/style.css"


@dataclass(frozen=True)
class Brand:
    name: str
    logo: Logo | None
    stylesheet: str | None  # the colour overrides (colors.py); None keeps style.css's own
    stylesheet_version: str
    support_url: str
    privacy_url: str

    @property
    def logo_path(self) -> str | None:
        """The logo's URL path, versioned by its content so browsers may cache it for good."""
        if self.logo is None:
            return None
        return f"{_script_root()}{LOGO_PATH}?v={self.logo.etag}"

    @property
    def stylesheet_path(self) -> str | None:
        if self.stylesheet is None:
            return None
        return f"{_script_root()}{STYLESHEET_PATH}?v={self.stylesheet_version}"


def _script_root() -> str:
    return request.script_root if has_request_context() else ""


def default_brand_name(issuer: str) -> str:
    return urlsplit(issuer).hostname or issuer


def make_brand(settings: Settings) -> Brand:
    """The brand ``settings`` describe; the logo is read now (checked by checks.py before)."""
    stylesheet = brand_stylesheet(settings.brand_color) if settings.brand_color else None
    return Brand(
        name=settings.brand_name or default_brand_name(settings.issuer),
        logo=read_logo(settings.brand_logo) if settings.brand_logo else None,
        stylesheet=stylesheet,
        stylesheet_version=settings.brand_color.lstrip("#"),
        support_url=settings.support_url,
        privacy_url=settings.privacy_url,
    )


def current_brand() -> Brand:
    brand: Brand = current_app.extensions[EXTENSION]
    return brand


def branded_subject(subject: str) -> str:
    """A mail subject that names the service first: "<Brand>: Reset your password"."""
    return f"{current_brand().name}: {subject}"


def init_app(app: Flask, brand: Brand) -> None:
    app.extensions[EXTENSION] = brand
    app.context_processor(lambda: {"brand": brand})
