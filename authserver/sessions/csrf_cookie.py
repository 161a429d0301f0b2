"""Flask's own cookie session, which holds only Flask-WTF's CSRF secret, and the CSRF check.

Both belong to the people surface (edges/surfaces.py). A machine request gets Flask's null
session at once: it never reads, signs or writes the cookie. A page request without the cookie
gets an empty session without building Flask's signing serializer (an HMAC key derivation and an
itsdangerous object); a request that has the cookie, and every write, go through Flask's code
unchanged.

The CSRF check runs as a people-surface hook instead of Flask-WTF's app-wide one (turned off by
WTF_CSRF_CHECK_DEFAULT): a program's call is never a form a browser could be tricked into
posting, and it authenticates itself. Views a relying party may POST to from its own pages
(authorization, end-session) and the emailed-link forms that check their own token stay exempt
with ``csrf_exempt``.
"""

from __future__ import annotations

from flask import Flask, Request, current_app
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from authserver.edges.surfaces import Surface, hooks_for, surface_of
from authserver.extensions import csrf


class CsrfCookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if surface_of(request.path) is Surface.MACHINE:
            return None  # Flask then uses its null session, which it never saves
        if not request.cookies.get(self.get_cookie_name(app)):
            # What Flask returns for a missing cookie too (a secret key is required at start-up).
            return self.session_class()
        return super().open_session(app, request)


def protect_forms() -> None:
    """before_request on pages: a submitted form must carry this session's CSRF token."""
    # Flask-WTF's own hook honours WTF_CSRF_ENABLED before protect(); so does this one.
    if current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect(apply_exemptions=True)


def init_app(app: Flask) -> None:
    app.session_interface = CsrfCookieSessionInterface()
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    hooks_for(app, Surface.PEOPLE).before_request(protect_forms)
