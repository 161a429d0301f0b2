"""The HTTP edge: proxies, TLS, security headers, CSP and its reports, CORS.

Attached right after observability, so its hooks run before every feature's: a request over
http in production is answered before CSRF checks or rate limits see it, and a CORS preflight
never reaches a view.
"""

from __future__ import annotations

from flask import Flask

from authserver.edges import (
    body_size,
    body_types,
    cors,
    csp_report,
    headers,
    host_header,
    origins,
    proxies,
    public_documents,
    surfaces,
    transport,
)


def init_app(app: Flask) -> None:
    # Inside the proxy fix: the fast path for public documents sees the real address and scheme.
    public_documents.init_app(app)
    proxies.init_app(app)
    host_header.init_app(app)
    transport.init_app(app)
    body_size.init_app(app)
    body_types.init_app(app)
    headers.init_app(app)
    origins.init_app(app)
    cors.init_app(app)
    # Here, after the edge's own checks: a surface's hooks (CSRF on pages) see only requests
    # the edge let through, and their after hooks run before the edge's (headers come last).
    surfaces.init_app(app)
    app.register_blueprint(csp_report.bp)
