"""The per-request time limit under gunicorn's gevent worker (`authserver serve`'s default).

With the sync worker, gunicorn's own timeout ends a stuck request: the worker serves one
request, stops sending heartbeats while it is stuck, and is killed and replaced. A gevent worker
serves many requests at once and keeps sending heartbeats while one of them waits (for a body
that never completes, for a dependency that never answers), so that kill no longer ends such a
request. This middleware does: a request still running after AUTHSERVER_WORKER_TIMEOUT seconds
is interrupted at its next wait and answered 503 (gunicorn then reads and drops the rest of its
body, or closes the connection when that does not come within AUTHSERVER_KEEPALIVE; it decides
about the connection itself and ignores an app's ``Connection`` header). A request stuck in
CPU never waits; it blocks its whole worker, whose heartbeats stop, and gunicorn's timeout kills
and replaces that worker as before.

The interruption is gevent's Timeout, a BaseException: Flask lets it through after tearing the
request down (the database session is rolled back; SQLAlchemy discards a connection interrupted
mid-call), and no ``except Exception`` on the way can swallow it. Outside a gevent worker (the
sync worker, the development server, the tests) requests run unwrapped.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask

from authserver.config import app_settings
from authserver.observability.redaction import redact_text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("authserver.serving")

RETRY_AFTER_SECONDS = 5
_BODY = json.dumps(
    {
        "error": "temporarily_unavailable",
        "error_description": "The request took too long and was ended; try again.",
    }
).encode()


def is_gevent_worker() -> bool:
    """True in a process whose sockets gevent has patched (gunicorn's gevent worker does it
    before it loads the app); gevent is not imported to find out."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("socket"))


class RequestDeadline:
    """WSGI middleware: end a request that runs longer than ``seconds`` (module docstring)."""

    def __init__(self, wsgi_app: WSGIApplication, seconds: float) -> None:
        self.wsgi_app = wsgi_app
        self.seconds = seconds

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        import gevent  # type: ignore[import-untyped]  # gevent ships no type hints

        deadline = gevent.Timeout(self.seconds)
        deadline.start()
        try:
            return self.wsgi_app(environ, start_response)
        except gevent.Timeout as fired:
            if fired is not deadline:
                raise  # someone else's timer
            return self._ended(environ, start_response)
        finally:
            deadline.close()

    def _ended(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        log.warning(
            "request ended at the %s s time limit: %s %s",
            self.seconds,
            environ.get("REQUEST_METHOD", "-"),
            redact_text(str(environ.get("PATH_INFO", ""))),
        )
        # Nothing was sent yet (the server sends headers when the body is iterated). Flask may
        # have called start_response already, if the limit struck while it tore the request
        # down; PEP 3333 lets a call with exc_info replace those headers.
        # RFC 9110 §15.6.4: 503, with Retry-After for when to try again.
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(_BODY))),
                ("Retry-After", str(RETRY_AFTER_SECONDS)),
                ("Cache-Control", "no-store"),
            ],
            sys.exc_info(),
        )
        return [_BODY]


def init_app(app: Flask) -> None:
    if not is_gevent_worker():
        return
    settings = app_settings(app)
    app.wsgi_app = RequestDeadline(  # type: ignore[method-assign]
        app.wsgi_app, settings.worker_timeout
    )
