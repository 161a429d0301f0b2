"""Branding by settings: the service's name, logo, colour and links on every page and mail, and
an operator's own templates.

The settings are declared in authserver/config_branding.py and checked by ``checks.py``; the
colour's stylesheet is worked out in ``colors.py``, the logo read in ``logo.py``, both served by
``assets.py``; ``context.py`` gives templates the ``brand``.

The colour reaches the pages as a small generated stylesheet, linked after style.css, that
overrides its colour variables. Not a class: a class can only choose among colours written in
advance, and a ``style`` attribute or element would need the CSP to allow inline style.

AUTHSERVER_TEMPLATES_DIR is put before our templates folder (a Jinja ``ChoiceLoader``), so a
template of the same name there replaces ours: a page, a mail, or the header and footer
includes (``_brand_header.html``, ``_brand_footer.html``).
"""

from __future__ import annotations

from flask import Flask
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader

from authserver.branding import assets, context
from authserver.branding.checks import branding_problems
from authserver.config import ConfigError, app_settings


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    # Settings.from_env checked these already; a Settings built in code has not been.
    problems = branding_problems(settings)
    if problems:
        raise ConfigError(problems)
    context.init_app(app, context.make_brand(settings))
    if settings.templates_dir:
        ours: BaseLoader | None = app.jinja_env.loader
        own = FileSystemLoader(settings.templates_dir)
        app.jinja_env.loader = ChoiceLoader([own, ours] if ours else [own])
    app.register_blueprint(assets.bp)
