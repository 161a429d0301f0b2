"""AUTHSERVER_MAX_CONTENT_LENGTH: a request whose body is declared too large gets 413 at once.

Werkzeug enforces MAX_CONTENT_LENGTH too, but only when something reads the body: the CSRF
check, a rate-limit key or a view, each of which would then meet the error in its own way. This
check runs first, so every oversized request gets the same answer (web/errors.py: RFC 6749
§5.2-shaped JSON on protocol endpoints, the error page elsewhere) and nothing else runs.

A chunked body declares no length. It is read here, at most one byte past the limit, and kept
for the form parser. Left to Werkzeug, the body would be silently cut at the limit and parsed
as if complete (a half parameter is "malformed", not "too large").
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge


def reject_oversized_body() -> None:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None:
        if limit is not None and request.content_length > limit:
            raise RequestEntityTooLarge()
    elif limit is not None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # Werkzeug stops reading at its maximum without saying whether more was coming, so the
        # maximum is one byte past ours: a body that reaches it is too large.
        request.max_content_length = limit + 1
        if len(request.get_data(cache=True)) > limit:
            raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    app.before_request(reject_oversized_body)
