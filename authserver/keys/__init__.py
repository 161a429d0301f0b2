"""Signing keys: lifecycle (next -> active -> retired -> removed), JWS signing, the JWKS."""

from __future__ import annotations

from flask import Flask

from authserver.config import app_settings
from authserver.edges.public_documents import PublicDocument, register
from authserver.keys import jwks, manager, rotation, views
from authserver.keys.handles import SigningKeyCache


def init_app(app: Flask) -> None:
    # Per-app, never module-level: tests build many apps, each on its own database.
    app.extensions[manager.CACHE_EXTENSION] = SigningKeyCache()
    settings = app_settings(app)
    app.extensions[jwks.CACHE_EXTENSION] = jwks.JwksCache(jwks_max_age=settings.jwks_max_age)
    rotation.init_app(app)
    app.register_blueprint(views.bp)
    register(
        app,
        PublicDocument(
            path=views.JWKS_PATH,
            current_body=views.fresh_jwks_body,
            fresh_headers=views.age_headers,
            fresh_header_names=frozenset({"age"}),
        ),
    )
