"""The session cookie: its name and attributes, and setting it without holding the response.

Service functions only record the change in ``flask.g``; an ``after_request`` hook writes it to
whatever response the view returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, request
from flask.wrappers import Response

from authserver.config import app_settings

COOKIE_NAME = "authserver_session"
# The __Host- prefix makes browsers refuse the cookie unless it is Secure, has Path=/ and no
# Domain, so neither a sibling subdomain nor plain HTTP can plant or overwrite it.
SECURE_COOKIE_NAME = "__Host-" + COOKIE_NAME
_PENDING = "authserver_session_cookie_change"


@dataclass(frozen=True)
class _CookieChange:
    token: str | None  # None removes the cookie


def is_secure(app: Flask) -> bool:
    settings = app_settings(app)
    return settings.secure_cookies or settings.is_production


def cookie_name(app: Flask) -> str:
    return SECURE_COOKIE_NAME if is_secure(app) else COOKIE_NAME


def read_session_token() -> str | None:
    """The token the browser sent with this request, if any."""
    return request.cookies.get(cookie_name(current_app)) or None


def set_session_cookie(token: str) -> None:
    setattr(g, _PENDING, _CookieChange(token))


def clear_session_cookie() -> None:
    setattr(g, _PENDING, _CookieChange(None))


def apply_cookie_change(response: Response) -> Response:
    """after_request: write the change a service recorded during this request."""
    change: _CookieChange | None = g.pop(_PENDING, None)
    if change is None:
        return response
    name, secure = cookie_name(current_app), is_secure(current_app)
    if change.token is None:
        response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
    else:
        # No Max-Age: the browser forgets it when it closes; the server enforces the timeouts.
        response.set_cookie(
            name, change.token, path="/", secure=secure, httponly=True, samesite="Lax"
        )
    # A response that sets a session must never be stored by a shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def forget_cookie_change() -> None:
    """Drop a change that no response carried (the request failed before after_request)."""
    g.pop(_PENDING, None)
