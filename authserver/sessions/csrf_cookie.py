"""Flask's own cookie session, which holds only Flask-WTF's CSRF secret, opened cheaply.

Flask builds its signing serializer (an HMAC key derivation and an itsdangerous object) at the
start of every request, cookie or not. Programs calling the protocol endpoints never send that
cookie, so for them the work is wasted: here a request without the cookie gets an empty session
at once. A request that has the cookie, and every write, go through Flask's code unchanged.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CsrfCookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.cookies.get(self.get_cookie_name(app)):
            # What Flask returns for a missing cookie too (a secret key is required at start-up).
            return self.session_class()
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = CsrfCookieSessionInterface()
