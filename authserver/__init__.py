"""authserver: an OAuth 2.0 / OpenID Connect identity provider."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from authserver import (  # noqa: F401
    branding,
    edges,
    extensions,
    keys,
    models,
    oauth,
    observability,
    oidc,
    outages,
    ratelimit,
    security,
    serving,
    sessions,
    web,
)

# `models` is imported for its side effect: it registers every table with the metadata.
from authserver.config import Settings, attach_settings
from authserver.edges import last_resort

# Templates and the stylesheet live at the top of the repository (DESIGN.md: "Layout").
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(settings: Settings | None = None) -> Flask:
    """Build the application: settings, extensions, then each feature attaches itself."""
    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        instance_path=str(Path(settings.instance_path).resolve()),
        template_folder=str(_PROJECT_ROOT / "templates"),
        static_folder=str(_PROJECT_ROOT / "templates" / "static"),
    )
    app.config.from_mapping(settings.flask_mapping())
    attach_settings(app, settings)
    # Sessions before security: after_request hooks run in reverse order, so the session cookie
    # becomes the last Set-Cookie of a sign-in (after the device cookie). Clients that keep only
    # one Set-Cookie per response, such as wrk's Lua API in bench/, still follow the sign-in.
    # Edges before extensions: its checks (body size, TLS, CORS preflight) run before CSRF's.
    # Outages first: every feature may report a dependency that stopped answering.
    # Serving last: its time limit wraps every other middleware (authserver/serving/).
    features = (
        outages, observability, edges, extensions, sessions, security, ratelimit, keys, branding,
        web, oauth, oidc, serving,
    )  # fmt: skip
    for feature in features:
        feature.init_app(app)
    # Last: it must wrap every middleware the features added (edges/last_resort.py).
    last_resort.init_app(app)
    return app
