"""Server-side browser sessions: the public surface for views and the OAuth/OIDC code.

    current_session()      the signed-in browser of this request, or None
    start_session(user, amr=["pwd"])   sign in (rotates the id), sets the cookie
    end_current_session()  sign out, clears the cookie
    list_active_sessions(user, now=..., current_sid=...)   the account page's list
    revoke_session(user, sid, now=...), revoke_all_sessions(user, now=...)   (caller commits)

Sessions live in the database (table ``browser_sessions``), whether or not Redis is configured:
it is the store of record, so a Redis outage or restart neither signs anyone out nor stops a
sign-in (DESIGN.md: "Redis is optional and never the only copy"). Redis is not used as a cache
in front of it either. A cache hit would still cost a Redis round trip, and every request that
finds a session reads the user's row from the database anyway (disabled? signed out
everywhere?), so a cache would save one indexed SELECT: measured, it saved nothing
(docs/performance.md, "Browser sessions"). It would also have to be invalidated on every
instance at each revocation, even while Redis is unreachable, or serve a revoked session.
Without it a revocation is one committed UPDATE, seen at once by every instance.

The cookie is ``__Host-authserver_session`` when cookies are secure (production, or
AUTHSERVER_SECURE_COOKIES) and ``authserver_session`` otherwise; HttpOnly, SameSite=Lax, Path=/.
"""

from __future__ import annotations

from flask import Flask

from authserver.edges.surfaces import Surface, hooks_for
from authserver.sessions import csrf_cookie
from authserver.sessions.cookies import apply_cookie_change
from authserver.sessions.db_store import DatabaseSessionStore
from authserver.sessions.errors import UnknownSession
from authserver.sessions.listing import (
    ActiveSession,
    list_active_sessions,
    revoke_all_sessions,
    revoke_session,
)
from authserver.sessions.service import (
    ACR_MFA,
    ACR_PASSWORD,
    STORE_EXTENSION,
    BrowserSession,
    current_session,
    end_current_session,
    forget_request_state,
    is_multi_factor,
    start_session,
)

__all__ = [
    "ACR_MFA",
    "ACR_PASSWORD",
    "ActiveSession",
    "BrowserSession",
    "UnknownSession",
    "current_session",
    "end_current_session",
    "init_app",
    "is_multi_factor",
    "list_active_sessions",
    "revoke_all_sessions",
    "revoke_session",
    "start_session",
]


def init_app(app: Flask) -> None:
    app.extensions[STORE_EXTENSION] = DatabaseSessionStore()
    # Only pages have a browser session; the machine surface never reads or writes its cookie.
    people = hooks_for(app, Surface.PEOPLE)
    people.after_request(apply_cookie_change)
    people.teardown_request(forget_request_state)
    csrf_cookie.init_app(app)
