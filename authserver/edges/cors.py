"""CORS where browser-based clients need it, and nowhere else (DESIGN.md "Edges").

- Discovery and JWKS: ``Access-Control-Allow-Origin: *``. They are public documents, the same
  for every caller and fetched without credentials; any page may already read them through its
  own server. ``*`` also keeps them cacheable as one copy in shared caches (their
  Cache-Control is public), where echoing each origin would need ``Vary: Origin`` and a copy
  per origin.
- Token and userinfo: only the origins of registered clients' redirect URIs (a single-page app
  runs on its redirect URI's origin), echoed one at a time, always with ``Vary: Origin``.
  Introspection and revocation get no CORS: they are for servers.

No endpoint ever answers ``Access-Control-Allow-Credentials``: browsers send no cookies on these
requests, and the endpoints do not read any (clients authenticate with PKCE, secrets or
bearer tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue

from authserver.edges.origins import is_registered_origin
from authserver.edges.surfaces import Surface, hooks_for


@dataclass(frozen=True)
class CorsRule:
    methods: tuple[str, ...]
    is_public: bool  # True: any origin ("*"); False: registered client origins only


PUBLIC_DOCUMENT = CorsRule(methods=("GET", "HEAD"), is_public=True)
RULES = {
    "/.well-known/openid-configuration": PUBLIC_DOCUMENT,
    "/.well-known/oauth-authorization-server": PUBLIC_DOCUMENT,
    "/.well-known/jwks.json": PUBLIC_DOCUMENT,
    "/oauth/token": CorsRule(methods=("POST",), is_public=False),
    "/oauth/userinfo": CorsRule(methods=("GET", "POST"), is_public=False),
}
# What a client's script may send (beyond the CORS-safelisted ones) and read in the answer:
# bearer tokens and Basic credentials; RFC 6750 §3 errors and 429's Retry-After.
# DPoP (RFC 9449) from a browser app: it sends its proof in `DPoP` and must read `DPoP-Nonce`.
ALLOWED_REQUEST_HEADERS = "Authorization, Content-Type, DPoP"
EXPOSED_RESPONSE_HEADERS = "WWW-Authenticate, Retry-After, DPoP-Nonce"
PREFLIGHT_MAX_AGE_SECONDS = 600


def _allowed_origin(rule: CorsRule) -> str | None:
    """The Access-Control-Allow-Origin value for this request, or None for no CORS."""
    origin = request.headers.get("Origin")
    if rule.is_public:
        return "*"
    # "null" (sandboxed frames, file: pages) is never a registered client's origin.
    if not origin or origin == "null" or len(origin) > 300:
        return None
    return origin if is_registered_origin(origin) else None


def answer_preflight() -> ResponseReturnValue | None:
    """before_request: a CORS preflight (Fetch §3.2.2) is answered here, before any view."""
    rule = RULES.get(request.path)
    if (
        rule is None
        or request.method != "OPTIONS"
        or "Access-Control-Request-Method" not in request.headers
    ):
        return None
    response = Response(status=204)
    if not rule.is_public:
        response.vary.add("Origin")
    allowed = _allowed_origin(rule)
    asked = request.headers["Access-Control-Request-Method"]
    if allowed is not None and asked in rule.methods:
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Allow-Methods"] = ", ".join(rule.methods)
        if not rule.is_public:
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    # Without the headers above the browser refuses the real request; the status says nothing.
    return response


def add_cors_headers(response: Response) -> Response:
    """after_request: every answer of a CORS endpoint, errors included (clients read those)."""
    rule = RULES.get(request.path)
    if rule is None or request.method == "OPTIONS":
        return response  # preflights are complete already; other OPTIONS need no CORS
    if not rule.is_public:
        response.vary.add("Origin")
    allowed = _allowed_origin(rule)
    if allowed is not None:
        response.headers["Access-Control-Allow-Origin"] = allowed
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_RESPONSE_HEADERS
    return response


def init_app(app: Flask) -> None:
    # Every CORS endpoint is a program's (RULES): pages never run these hooks.
    machine = hooks_for(app, Surface.MACHINE)
    machine.before_request(answer_preflight)
    machine.after_request(add_cors_headers)
