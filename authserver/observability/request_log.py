"""One log line per request, written by the app (gunicorn's access log is off).

    {"time": "...", "level": "INFO", "logger": "authserver.request",
     "message": "GET /reset/[redacted] 200", "request_id": "...", "method": "GET",
     "path": "/reset/[redacted]", "status": 200, "duration_ms": 3.1, "client_ip": "...",
     "user_agent": "...", "user_subject": "...", "client_id": "..."}

The path never has its query string (authorization codes, state, tokens of RFC 6750 §2.3 travel
there) and route arguments that are secrets (the token of an emailed link) are replaced. Code
that learns who a request acts for calls :func:`note_request_party`.
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, g, has_request_context, request

from authserver.observability.redaction import REDACTED, redact_path, redact_text

log = logging.getLogger("authserver.request")

# Route arguments (`/reset/<token>`) whose values must never be written down.
SECRET_PATH_ARGUMENTS = frozenset({"token"})
MAX_USER_AGENT_LENGTH = 200
_STARTED = "authserver_request_started"
_PARTY = "authserver_request_party"
_RULE_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


def note_request_party(*, user_subject: str | None = None, client_id: str | None = None) -> None:
    """Record who this request acts for (the signed-in user, the authenticated client)."""
    if not has_request_context():
        return
    party: dict[str, str] = g.setdefault(_PARTY, {})
    if user_subject:
        party["user_subject"] = user_subject
    if client_id:
        party["client_id"] = client_id


def loggable_path() -> str:
    """The request's path with secret route arguments replaced; never its query string."""
    rule, arguments = request.url_rule, request.view_args or {}
    if rule is None or SECRET_PATH_ARGUMENTS.isdisjoint(arguments):
        # Unrouted requests (404, 405): after a link's prefix, the rest of the path goes.
        return redact_path(request.path)

    def argument(match: re.Match[str]) -> str:
        name = match[1]
        return REDACTED if name in SECRET_PATH_ARGUMENTS else str(arguments.get(name, ""))

    return redact_text(_RULE_ARGUMENT.sub(argument, rule.rule))


def _start_timer() -> None:
    setattr(g, _STARTED, time.perf_counter())


def write_request_line(
    *,
    method: str,
    path: str,
    status: int,
    started: float | None,
    client_ip: str | None,
    user_agent: str,
    party: dict[str, str] | None = None,
    request_id: str | None = None,
) -> None:
    """Write one request's line; ``path`` must already be loggable (:func:`loggable_path`)."""
    fields: dict[str, object] = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": None
        if started is None
        else round((time.perf_counter() - started) * 1000, 1),
        "client_ip": client_ip,
        "user_agent": user_agent[:MAX_USER_AGENT_LENGTH] or None,
        **(party or {}),
    }
    if request_id is not None:  # outside a request context (edges/public_documents.py)
        fields["request_id"] = request_id
    log.info("%s %s %s", method, path, status, extra=fields)


def _log_request(response: Response) -> Response:
    write_request_line(
        method=request.method,
        path=loggable_path(),
        status=response.status_code,
        started=g.get(_STARTED),
        client_ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent", ""),
        party=g.get(_PARTY),
    )
    return response


def init_app(app: Flask) -> None:
    # Registered before every other feature's hooks: the timer starts first, and Flask runs
    # after_request functions in reverse order, so the line is written last, with the final
    # status (error handlers included).
    app.before_request(_start_timer)
    app.after_request(_log_request)
