"""Error responses: JSON for machines, a plain page for people, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from authserver.edges.surfaces import Surface, surface_of
from authserver.observability.request_id import current_request_id
from authserver.security.errors import RateLimited

log = logging.getLogger(__name__)


def wants_json() -> bool:
    """Protocol endpoints and probes always get JSON; elsewhere the Accept header decides."""
    if surface_of(request.path) is Surface.MACHINE:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


# RFC 6749 §5.2 / §4.1.2.1 codes for what the HTTP layer rejects before our code runs.
PROTOCOL_ERROR_CODES = {400: "invalid_request", 405: "invalid_request", 413: "invalid_request",
                        415: "invalid_request", 500: "server_error"}  # fmt: skip


# The error page's heading in the page's language: werkzeug's name of the status, translated.
# The JSON answers keep werkzeug's English name: they are for developers (RFC 6749 §5.2).
PAGE_TITLES = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    406: _l("Not Acceptable"),
    408: _l("Request Timeout"),
    409: _l("Conflict"),
    410: _l("Gone"),
    411: _l("Length Required"),
    412: _l("Precondition Failed"),
    413: _l("Request Entity Too Large"),
    414: _l("Request URI Too Long"),
    415: _l("Unsupported Media Type"),
    416: _l("Requested Range Not Satisfiable"),
    417: _l("Expectation Failed"),
    421: _l("Misdirected Request"),
    422: _l("Unprocessable Entity"),
    423: _l("Locked"),
    428: _l("Precondition Required"),
    429: _l("Too many requests"),
    431: _l("Request Header Fields Too Large"),
    500: _l("Internal Server Error"),
    501: _l("Not Implemented"),
    502: _l("Bad Gateway"),
    503: _l("Service Unavailable"),
    504: _l("Gateway Timeout"),
}
# Any other status (none of our routes raises one): a heading that is true of all of them.
OTHER_PAGE_TITLE = _l("The request could not be completed")


def render_http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    headers = {"Cache-Control": "no-store"}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # RFC 9110 §15.5.6: a 405 MUST list the methods the resource does allow.
        headers["Allow"] = ", ".join(error.valid_methods)
    if wants_json():
        code = PROTOCOL_ERROR_CODES.get(status, error.name.lower().replace(" ", "_"))
        body = {"error": code, "error_description": error.name}
        return jsonify(body), status, headers
    title = PAGE_TITLES.get(status, OTHER_PAGE_TITLE)
    return render_template("error.html", status=status, title=title), status, headers


def render_rate_limited(error: RateLimited) -> ResponseReturnValue:
    """429 with Retry-After (RFC 6585 §4): JSON on protocol endpoints, a page elsewhere."""
    headers = {"Retry-After": str(error.retry_after_seconds), "Cache-Control": "no-store"}
    if wants_json():
        # RFC 6749 has no "slow down" error for these endpoints; temporarily_unavailable
        # (§4.1.2.1) is the registered code that tells a client to come back later.
        body = {
            "error": "temporarily_unavailable",
            "error_description": "Too many requests; try again after Retry-After seconds.",
        }
        return jsonify(body), 429, headers
    page = render_template("error.html", status=429, title=PAGE_TITLES[429])
    return page, 429, headers


def render_unexpected_error(error: Exception) -> ResponseReturnValue:
    # The traceback goes to the log for operators; the client only learns that it failed.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return render_http_error(InternalServerError())


def init_app(app: Flask) -> None:
    # Every page can show the request id, so a person can quote it and support find the logs.
    app.jinja_env.globals["request_id"] = current_request_id
    app.register_error_handler(RateLimited, render_rate_limited)
    app.register_error_handler(HTTPException, render_http_error)
    app.register_error_handler(Exception, render_unexpected_error)
