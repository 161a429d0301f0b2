"""The browser binding for pushed authorization requests: a random value in a cookie of its
own, so that the browser that first brought a request_uri, and only it, can continue the flow
(oauth/pushed_requests.py says why not the browser session).

The cookie holds 256 random bits and the server keeps only their SHA-256 on the claimed row;
it is HttpOnly, SameSite=Lax (the first visit is a top-level navigation from the client's
site), Path=/ and, when cookies are secure, ``__Host-`` prefixed. No Max-Age: it ends with the
browser. One value serves every flow of the browser, so two tabs with two requests both work.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from flask import current_app, g, request
from flask.wrappers import Response

from authserver.sessions.cookies import is_secure

COOKIE_NAME = "authserver_par_browser"
SECURE_COOKIE_NAME = "__Host-" + COOKIE_NAME
_NEW_BINDING = "authserver_par_browser_new"
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")  # token_urlsafe(32)


def browser_binding_hash() -> str:
    """SHA-256 of this browser's binding; a browser without one is given a new one."""
    binding = request.cookies.get(_cookie_name())
    if binding is None or not _WELL_FORMED.fullmatch(binding):
        binding = secrets.token_urlsafe(32)
        setattr(g, _NEW_BINDING, binding)
    return hashlib.sha256(binding.encode()).hexdigest()


def write_browser_binding(response: Response) -> Response:
    """after_request of the authorization pages: send a binding made during this request."""
    binding: str | None = g.pop(_NEW_BINDING, None)
    if binding is not None:
        secure = is_secure(current_app)
        response.set_cookie(
            _cookie_name(), binding, path="/", secure=secure, httponly=True, samesite="Lax"
        )
        response.headers["Cache-Control"] = "no-store"
    return response


def _cookie_name() -> str:
    return SECURE_COOKIE_NAME if is_secure(current_app) else COOKIE_NAME
