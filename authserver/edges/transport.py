"""TLS in production: redirect people's pages to https, refuse protocol requests over http.

RFC 6749 §3.1 and §3.2 (and §10.9): the authorization server MUST require TLS for requests to
the authorization and token endpoints; RFC 6750 §5.3 and OIDC Core §16.17 say the same for
bearer tokens and every OpenID Provider endpoint. A redirect cannot fix a protocol request that
already crossed the network in clear text (its credentials are exposed) and a client would
follow it silently, so protocol endpoints answer ``400 invalid_request`` instead and the
developer sees the mistake. Only a browser's GET or HEAD of a page is redirected: a redirected
POST either loses its body or (307/308) sends it, credentials and all, a second time.

"Over https" means ``request.is_secure``: the connection's own scheme, or X-Forwarded-Proto
from a trusted proxy (edges/proxies.py) and nothing else.

Outside production, plain http is allowed, but Authlib makes its own check on the token,
introspection and revocation endpoints: http is enough only for a loopback host. A request over
http naming any other ``Host`` gets the same answer as production gives (never a 500).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Flask, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from authserver.config import app_settings, current_settings
from authserver.edges.surfaces import is_probe_path, is_protocol_path

# RFC 6797 §11.2 recommends a long max-age; a year is what browsers' preload lists require.
HSTS_MAX_AGE_SECONDS = 365 * 86400
HSTS_VALUE = f"max-age={HSTS_MAX_AGE_SECONDS}; includeSubDomains"
TLS_REQUIRED = "TLS is required: send this request to the https URL."


def require_tls() -> ResponseReturnValue | None:
    """before_request (production only): let secure requests and probes through."""
    if request.is_secure or is_probe_path(request.path):
        return None
    if is_protocol_path(request.path):
        body = {"error": "invalid_request", "error_description": TLS_REQUIRED}
        return jsonify(body), 400, {"Cache-Control": "no-store"}
    if request.method in ("GET", "HEAD"):
        return _redirect_to_https()
    # The same words as the JSON's, for a person and in the page's language.
    message = gettext("TLS is required: send this request to the https URL.")
    page = render_template("error.html", status=400, title=gettext("Use https"), message=message)
    return page, 400, {"Cache-Control": "no-store"}


def refuse_insecure_transport(error: InsecureTransportError) -> ResponseReturnValue:
    """Authlib's refusal of plain http for a non-loopback host, as RFC 6749 §5.2 JSON."""
    body = {"error": "invalid_request", "error_description": TLS_REQUIRED}
    return jsonify(body), 400, {"Cache-Control": "no-store"}


def _redirect_to_https() -> Response:
    # The target is built from the configured issuer, never from the Host header, so a forged
    # Host cannot turn this into a redirect to somewhere else.
    settings = current_settings()
    path = urlsplit(request.url).path  # quoted again, with the script root
    # The query as the client sent it; bytes that may not appear in a URL are percent-encoded,
    # existing escapes are kept.
    query = quote(request.query_string, safe="!$&'()*+,;=:@/?%[]~")
    target = urlunsplit(("https", urlsplit(settings.issuer).netloc, path, query, ""))
    # 302, not 301: a misconfigured proxy (TLS not recognised) must not leave a permanent
    # redirect in every browser's cache. HSTS makes the browser go to https by itself anyway.
    return Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})


def add_hsts(response: Response) -> Response:
    """after_request (production only). RFC 6797 §7.2: never over an insecure connection."""
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS_VALUE
    return response


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    app.register_error_handler(InsecureTransportError, refuse_insecure_transport)
    if settings.is_production:
        app.before_request(require_tls)
        app.after_request(add_hsts)
