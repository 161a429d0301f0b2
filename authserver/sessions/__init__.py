"""Server-side browser sessions: the public surface for views and the OAuth/OIDC code.

    current_session()      the signed-in browser of this request, or None
    start_session(user, amr=["pwd"])   sign in (rotates the id), sets the cookie
    end_current_session()  sign out, clears the cookie
    list_active_sessions(user, now=..., current_sid=...)   the account page's list
    revoke_session(user, sid, now=...), revoke_all_sessions(user, now=...)   (caller commits)

The store is Redis when AUTHSERVER_REDIS_URL is set, the database otherwise; both implement
:class:`~authserver.sessions.store.SessionStore`. An unreachable store fails closed
(:class:`SessionStoreUnavailable`).

The cookie is ``__Host-authserver_session`` when cookies are secure (production, or
AUTHSERVER_SECURE_COOKIES) and ``authserver_session`` otherwise; HttpOnly, SameSite=Lax, Path=/.
"""

from __future__ import annotations

from flask import Flask

from authserver.config import Settings
from authserver.extensions import redis_client
from authserver.sessions import csrf_cookie
from authserver.sessions.cookies import apply_cookie_change
from authserver.sessions.db_store import DatabaseSessionStore
from authserver.sessions.errors import SessionStoreUnavailable, UnknownSession
from authserver.sessions.listing import (
    ActiveSession,
    list_active_sessions,
    revoke_all_sessions,
    revoke_session,
)
from authserver.sessions.redis_store import RedisSessionStore
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
    "SessionStoreUnavailable",
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
    settings: Settings = app.extensions["authserver.settings"]
    client = redis_client(app)
    if client is not None:
        app.extensions[STORE_EXTENSION] = RedisSessionStore(
            client, prefix=settings.redis_key_prefix
        )
    else:
        app.extensions[STORE_EXTENSION] = DatabaseSessionStore()
    app.after_request(apply_cookie_change)
    app.teardown_request(forget_request_state)
    csrf_cookie.init_app(app)
