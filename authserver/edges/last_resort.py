"""The last resort: whatever escapes Flask's error handling still gets our answer, not the server's.

Flask's error handlers answer every failure of a view (web/errors.py). Should a handler fail as
well, or a middleware outside Flask raise, the exception would reach the WSGI server, whose bare
500 page has none of our security headers and no request id for a person to quote. This
middleware, the outermost, answers instead: a fixed minimal response (RFC 6749 §5.2-shaped JSON
on protocol paths, a tiny page elsewhere) built without templates, URL building or anything else
that could fail again, and one ERROR line with the traceback and the request id.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from authserver.edges.surfaces import Surface, surface_of
from authserver.observability.redaction import redact_path
from authserver.observability.request_id import HEADER as REQUEST_ID_HEADER
from authserver.observability.request_id import current_request_id

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

# Where the request id waits for us once Flask's request context is gone.
_REQUEST_ID_KEY = "authserver.last_resort.request_id"
# Nothing on these answers needs to load, run or frame anything.
HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
_PAGE = (
    '<!doctype html>\n<html lang="en">\n<meta charset="utf-8">\n'
    "<title>{title} · authserver</title>\n"
    "<h1>{title}</h1>\n<p>Something went wrong with this request ({status}).</p>\n"
    "<p>If you contact support, quote this request id: <code>{request_id}</code></p>\n"
)


class LastResort:
    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self.wsgi_app(environ, start_response)
        except Exception as error:  # catching everything is this class's job
            return _answer(environ, start_response, error)


def _answer(
    environ: WSGIEnvironment, start_response: StartResponse, error: Exception
) -> Iterable[bytes]:
    status = 500
    if isinstance(error, HTTPException) and error.code is not None and error.code < 500:
        status = error.code
    # A failure before the request had its id (or outside Flask) gets one of the usual form.
    request_id = environ.get(_REQUEST_ID_KEY) or secrets.token_hex(16)
    path = str(environ.get("PATH_INFO", ""))
    log.error(
        "unhandled error escaped the error handlers on %s %s",
        environ.get("REQUEST_METHOD", "?"),
        redact_path(path),
        exc_info=error,
        extra={"request_id": request_id, "status": status},
    )
    title = HTTP_STATUS_CODES.get(status, "Error")
    if surface_of(path) is Surface.MACHINE:
        code = "invalid_request" if status < 500 else "server_error"
        body = json.dumps({"error": code, "error_description": title}).encode()
        content_type = "application/json"
    else:
        page = _PAGE.format(title=title, status=status, request_id=html.escape(request_id))
        body = page.encode()
        content_type = "text/html; charset=utf-8"
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        *HEADERS,
        (REQUEST_ID_HEADER, request_id),
    ]
    # Flask calls start_response only once it has a response, so none was started for this one.
    start_response(f"{status} {title}", headers)
    return [body]


def _keep_request_id(error: BaseException | None) -> None:
    """teardown_request: after a failure, leave the request's id where the middleware finds it."""
    if error is not None:
        request.environ[_REQUEST_ID_KEY] = current_request_id()


def init_app(app: Flask) -> None:
    """Call last: the middleware must wrap every other one the features added."""
    app.teardown_request(_keep_request_id)
    app.wsgi_app = LastResort(app.wsgi_app)  # type: ignore[method-assign]
