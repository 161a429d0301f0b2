"""OpenID Connect on top of the OAuth server: discovery, userinfo and RP-initiated logout."""

from __future__ import annotations

from flask import Flask

from authserver.edges.public_documents import PublicDocument, register
from authserver.oidc import discovery, end_session, userinfo


def init_app(app: Flask) -> None:
    for module in (discovery, userinfo, end_session):
        app.register_blueprint(module.bp)
    for path in discovery.METADATA_PATHS:
        register(app, PublicDocument(path=path, current_body=discovery.built_body))
