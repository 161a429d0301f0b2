"""AUTHSERVER_MAX_CONTENT_LENGTH: a request whose body is declared too large gets 413 at once.

Werkzeug enforces MAX_CONTENT_LENGTH too, but only when something reads the body: the CSRF
check, a rate-limit key or a view, each of which would then meet the error in its own way. This
check runs first, so every oversized request gets the same answer (web/errors.py: RFC 6749
§5.2-shaped JSON on protocol endpoints, the error page elsewhere) and nothing else runs.

A chunked body declares no length. It is read here, at most one byte past the limit, and kept
for the form parser. Left to Werkzeug, the body would be silently cut at the limit and parsed
as if complete (a half parameter is "malformed", not "too large"). The WSGI server undoes the
chunked framing while we read; when the framing is broken (a chunk size that is not hex, a
missing CRLF) the server's reader raises its own exception, which here becomes a 400.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

MALFORMED_BODY = "The request body could not be read (malformed chunked encoding)."


def reject_oversized_body() -> None:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None:
        if limit is not None and request.content_length > limit:
            raise RequestEntityTooLarge()
    elif limit is not None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # Werkzeug stops reading at its maximum without saying whether more was coming, so the
        # maximum is one byte past ours: a body that reaches it is too large.
        request.max_content_length = limit + 1
        try:
            body = request.get_data(cache=True)
        except HTTPException:
            raise  # Werkzeug's own answers (a client that went away is already a 400)
        except Exception as error:
            # Each server names its framing errors differently (gunicorn: InvalidChunkSize,
            # ChunkMissingTerminator, NoMoreData...): all mean the client sent a broken body.
            raise BadRequest(MALFORMED_BODY) from error
        if len(body) > limit:
            raise RequestEntityTooLarge()


def init_app(app: Flask) -> None:
    app.before_request(reject_oversized_body)
