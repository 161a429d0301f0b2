"""Public documents (JWKS, discovery) answered without running the Flask request machinery.

Every verifier and gateway fetches these; they are the same bytes for every caller, and they
should come as fast as a bare Flask app can answer. Even on the machine surface, which runs no
page hooks (edges/surfaces.py), a Flask request of ours costs about 2.6 times a bare app's:
Flask's own request context, URL match and response object cost more than this whole path
(bench/findings.md, "JWKS and discovery"). So this WSGI middleware answers a plain GET of
one of them from a copy of the answer Flask gave for it last time: the same status, body and
headers (security headers, CORS, Cache-Control, ETag), with only the per-request headers made
afresh: ``X-Request-ID`` and what the document adds itself (the JWKS's ``Age``). It writes the
same request log line and counts the same metrics as Flask would.

Flask answers, and its answer becomes the new copy, whenever anything could differ:

- the document says its current body is not known without asking the database (the JWKS is
  due for its check of the key set), or the body changed since the copy was made;
- the request is not a plain GET: HEAD, OPTIONS (CORS preflight), a conditional or range
  request (``If-None-Match`` and the like: Flask answers 304), one with a query string, an
  ``Origin`` (CORS decided per origin) or a ``Cookie`` (a session might want to refresh it);
- the scheme is not the copy's (production refuses http; HSTS is sent only over https);
- Flask's answer was anything but a 200 without cookies whose body is the current one.

The middleware sits inside edges/proxies.py's TrustedProxyFix, so the address and scheme it
sees are the ones every other part of the app sees.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from flask import Flask
from werkzeug.exceptions import HTTPException

from authserver.observability.metrics import app_metrics
from authserver.observability.request_id import HEADER as REQUEST_ID_HEADER
from authserver.observability.request_id import accepted_request_id
from authserver.observability.request_log import write_request_line

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

EXTENSION = "authserver.public_documents"
OK = "200 OK"
# Request headers that may change the answer (conditional requests, ranges, CORS, cookies).
_ANSWER_CHANGING_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_IF_RANGE",
    "HTTP_RANGE",
    "HTTP_ORIGIN",
    "HTTP_COOKIE",
)

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None] | None
CurrentBody = Callable[[Flask], "bytes | None"]
FreshHeaders = Callable[[Flask], "list[tuple[str, str]]"]


def _no_fresh_headers(_app: Flask) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class PublicDocument:
    """A GET-only document that is the same for every caller.

    ``current_body`` returns the bytes Flask's view would send now, or None when that is not
    known without the view (which then runs). ``fresh_headers`` are computed per request and
    never copied (their names must not be in Flask's copy either).
    """

    path: str
    current_body: CurrentBody
    fresh_headers: FreshHeaders = _no_fresh_headers
    fresh_header_names: frozenset[str] = frozenset()


@dataclass
class _Answer:
    """What Flask passed to start_response."""

    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Copy:
    scheme: str
    endpoint: str  # the Flask endpoint, as the metrics name it
    headers: tuple[tuple[str, str], ...]  # without the per-request ones
    body: bytes


class PublicDocuments:
    """WSGI middleware; features register their documents with :func:`register`."""

    def __init__(self, flask_app: Flask, wsgi_app: WSGIApplication) -> None:
        self.flask_app = flask_app
        self.wsgi_app = wsgi_app
        self.documents: dict[str, PublicDocument] = {}
        self.copies: dict[str, _Copy] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        document = self.documents.get(environ.get("PATH_INFO", ""))
        if document is None or not _is_plain_get(environ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        copy = self.copies.get(document.path)
        body = document.current_body(self.flask_app)
        if (
            copy is None
            or body is None
            or body != copy.body
            or copy.scheme != environ.get("wsgi.url_scheme")
        ):
            return self._answer_with_flask(document, environ, start_response)
        request_id = accepted_request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        headers = [
            *copy.headers,
            *document.fresh_headers(self.flask_app),
            (REQUEST_ID_HEADER, request_id),
        ]
        start_response(OK, headers)
        self._record(document, copy, environ, started, request_id)
        return [copy.body]

    def _answer_with_flask(
        self, document: PublicDocument, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        answer = _Answer()

        def remember(
            status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo = None
        ) -> Callable[[bytes], object]:
            answer.status, answer.headers = status, headers
            return start_response(status, headers, exc_info)

        chunks = self.wsgi_app(environ, remember)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        self._keep_copy(document, environ, answer, body)
        return [body]

    def _keep_copy(
        self, document: PublicDocument, environ: WSGIEnvironment, answer: _Answer, body: bytes
    ) -> None:
        if answer.status != OK or body != document.current_body(self.flask_app):
            return
        if any(name.lower() == "set-cookie" for name, _value in answer.headers):
            return
        endpoint = self._endpoint(document.path)
        if endpoint is None:
            return
        per_request = {REQUEST_ID_HEADER.lower(), *document.fresh_header_names}
        self.copies[document.path] = _Copy(
            scheme=str(environ.get("wsgi.url_scheme")),
            endpoint=endpoint,
            headers=tuple(
                (name, value) for name, value in answer.headers if name.lower() not in per_request
            ),
            body=body,
        )

    def _endpoint(self, path: str) -> str | None:
        try:
            endpoint, _arguments = self.flask_app.url_map.bind("localhost").match(path, "GET")
        except HTTPException:
            return None
        return str(endpoint)

    def _record(
        self,
        document: PublicDocument,
        copy: _Copy,
        environ: WSGIEnvironment,
        started: float,
        request_id: str,
    ) -> None:
        # What request_log and metrics record for a Flask request, so the two paths look alike.
        write_request_line(
            method="GET",
            path=document.path,
            status=200,
            started=started,
            client_ip=environ.get("REMOTE_ADDR"),
            user_agent=environ.get("HTTP_USER_AGENT", ""),
            request_id=request_id,
        )
        metrics = app_metrics(self.flask_app)
        if metrics is not None:
            metrics.observe_request(copy.endpoint, 200, time.perf_counter() - started)


def _is_plain_get(environ: WSGIEnvironment) -> bool:
    if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
        return False
    return not any(name in environ for name in _ANSWER_CHANGING_HEADERS)


def register(app: Flask, document: PublicDocument) -> None:
    """Serve ``document`` through the fast path (edges must have been attached first)."""
    middleware: PublicDocuments = app.extensions[EXTENSION]
    middleware.documents[document.path] = document


def init_app(app: Flask) -> None:
    middleware = PublicDocuments(app, app.wsgi_app)
    app.extensions[EXTENSION] = middleware
    app.wsgi_app = middleware  # type: ignore[method-assign]
