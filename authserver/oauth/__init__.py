"""The OAuth 2.0 authorization server: authorize, pushed authorization requests (RFC 9126),
the device authorization grant (RFC 8628), token, token exchange (RFC 8693), introspection
and revocation, APIs (RFC 8707) and DPoP (RFC 9449)."""

from __future__ import annotations

from flask import Flask

from authserver.keys.verification import init_app_cache
from authserver.oauth import (
    authorize_endpoint,
    device_authorization,
    introspection,
    par_endpoint,
    revocation,
    token_endpoint,
)
from authserver.oauth.server import SERVER_EXTENSION, build_server


def init_app(app: Flask) -> None:
    server = build_server(app)
    server.register_endpoint(introspection.TokenIntrospection)
    server.register_endpoint(revocation.TokenRevocation)
    server.register_endpoint(par_endpoint.PushedAuthorizationEndpoint)
    server.register_endpoint(device_authorization.DeviceAuthorization)
    app.extensions[SERVER_EXTENSION] = server
    init_app_cache(app.extensions)
    for module in (
        authorize_endpoint,
        token_endpoint,
        introspection,
        revocation,
        par_endpoint,
        device_authorization,
    ):
        app.register_blueprint(module.bp)
