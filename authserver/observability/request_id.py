"""One id per request: taken from a trusted `X-Request-ID` when it is well-formed, else made here.

Trusted means sent by one of AUTHSERVER_TRUSTED_PROXIES: edges/proxies.py removes the header from
every other request before it reaches this module or the public documents.

The id ties a client's report ("request abc123 failed"), the log lines, the audit rows and the
error page together. It is echoed in the response header of every answer. Work a request leaves
for after its response (mail) runs inside :func:`carried_request_id`, so it keeps the id.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-ID"
# A proxy's or load balancer's id (a UUID, a hex or base64url string) passes; anything that could
# forge a log line or smuggle markup (spaces, quotes, newlines, very long values) is replaced.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._\-]{8,64}")


def _new_request_id() -> str:
    return secrets.token_hex(16)


def accepted_request_id(offered: str) -> str:
    """The id a request goes by: the offered ``X-Request-ID`` if well-formed, else a new one."""
    return offered if _WELL_FORMED.fullmatch(offered) else _new_request_id()


def _assign_request_id() -> None:
    g.request_id = accepted_request_id(request.headers.get(HEADER, ""))


def _echo_request_id(response: Response) -> Response:
    response.headers[HEADER] = current_request_id() or _new_request_id()
    return response


# The id of the request whose after-response work runs now (no request context is left then).
_carried: ContextVar[str | None] = ContextVar("authserver_carried_request_id", default=None)


def current_request_id() -> str | None:
    """This request's id; None outside a request (CLI commands, start-up)."""
    if not has_request_context():
        return _carried.get()
    request_id: str | None = g.get("request_id")
    return request_id


@contextmanager
def carried_request_id(request_id: str | None) -> Iterator[None]:
    """Run work left behind by request ``request_id`` (after its response) under its id."""
    token = _carried.set(request_id)
    try:
        yield
    finally:
        _carried.reset(token)


def init_app(app: Flask) -> None:
    # Registered before every other feature's hooks, so each of them (and the error handlers)
    # already sees the id.
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
