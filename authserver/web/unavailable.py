"""503 "try again shortly" when a dependency is away: one answer for every surface and cause.

Protocol endpoints and probes get RFC 6749's ``temporarily_unavailable`` (§4.1.2.1, §5.2 shape),
pages a short page with the request id; both carry ``Retry-After`` (RFC 9110 §10.2.3) and
``Cache-Control: no-store``. A database outage is logged once when it starts and once when it
ends (authserver/outages.py): the failed request itself adds nothing but its request line. A
busy database (a lock, a timeout, a full disk) is logged per request, in one line, because
nothing else reports it. No traceback either way: the cause is known.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from authserver.database_faults import database_unavailability
from authserver.outages import DependencyUnavailable
from authserver.web.errors import render_unexpected_error, wants_json

log = logging.getLogger(__name__)

# A PostgreSQL restart or failover takes seconds; clients that honour this come back after it.
RETRY_AFTER_SECONDS = 5
DESCRIPTION = "The server cannot complete the request right now; try again shortly."


def render_unavailable(*, retry_after_seconds: int = RETRY_AFTER_SECONDS) -> ResponseReturnValue:
    headers = {"Retry-After": str(retry_after_seconds), "Cache-Control": "no-store"}
    if wants_json():
        body = {"error": "temporarily_unavailable", "error_description": DESCRIPTION}
        return jsonify(body), 503, headers
    return render_template("unavailable.html"), 503, headers


def render_dependency_unavailable(error: DependencyUnavailable) -> ResponseReturnValue:
    """Raised by our own code (a connection refused while the database is known to be away)."""
    return render_unavailable()


def render_database_error(error: SQLAlchemyError) -> ResponseReturnValue:
    """A database error: 503 when it means "away or busy", the usual 500 when it is a bug."""
    found = database_unavailability(error)
    if found is None:
        return render_unexpected_error(error)
    if not found.is_outage:
        log.warning("database busy on %s %s: %s", request.method, request.path, found.reason)
    return render_unavailable()


def init_app(app: Flask) -> None:
    app.register_error_handler(DependencyUnavailable, render_dependency_unavailable)
    app.register_error_handler(SQLAlchemyError, render_database_error)
