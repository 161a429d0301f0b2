"""The OAuth 2.0 authorization server: authorize, token, introspection and revocation, APIs
(RFC 8707), DPoP (RFC 9449) and the device authorization grant (RFC 8628)."""

from __future__ import annotations

from flask import Flask

from authserver.keys.verification import init_app_cache
from authserver.oauth import (
    authorize_endpoint,
    device_authorization,
    introspection,
    revocation,
    token_endpoint,
)
from authserver.oauth.server import SERVER_EXTENSION, build_server


def init_app(app: Flask) -> None:
    server = build_server(app)
    server.register_endpoint(introspection.TokenIntrospection)
    server.register_endpoint(revocation.TokenRevocation)
    server.register_endpoint(device_authorization.DeviceAuthorization)
    app.extensions[SERVER_EXTENSION] = server
    init_app_cache(app.extensions)
    for module in (
        authorize_endpoint,
        token_endpoint,
        introspection,
        revocation,
        device_authorization,
    ):
        app.register_blueprint(module.bp)
