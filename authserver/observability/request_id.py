"""One id per request: taken from a trusted `X-Request-ID` when it is well-formed, else made here.

The id ties a client's report ("request abc123 failed"), the log lines, the audit rows and the
error page together. It is echoed in the response header of every answer.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-ID"
# A proxy's or load balancer's id (a UUID, a hex or base64url string) passes; anything that could
# forge a log line or smuggle markup (spaces, quotes, newlines, very long values) is replaced.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._\-]{8,64}")


def _new_request_id() -> str:
    return secrets.token_hex(16)


def _assign_request_id() -> None:
    offered = request.headers.get(HEADER, "")
    g.request_id = offered if _WELL_FORMED.fullmatch(offered) else _new_request_id()


def _echo_request_id(response: Response) -> Response:
    response.headers[HEADER] = current_request_id() or _new_request_id()
    return response


def current_request_id() -> str | None:
    """This request's id; None outside a request (CLI commands, start-up)."""
    if not has_request_context():
        return None
    request_id: str | None = g.get("request_id")
    return request_id


def init_app(app: Flask) -> None:
    # Registered before every other feature's hooks, so each of them (and the error handlers)
    # already sees the id.
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
