"""People's pages take HTML form submissions only: a JSON body is refused before a form reads it.

Flask-WTF's forms take a JSON body, when one is sent, as if it were the submitted form, and any
JSON value gets through: a list, a number, an object of numbers or of lists. Neither the forms'
validators nor the pages' error handlers (which build a fresh form from the same body) expect
that, and they raised. No page of ours is posted as JSON, so the people surface answers 415
(RFC 9110 §15.5.16) at the edge, before the CSRF check or any form sees the body. Protocol
endpoints and probes decide about their own bodies (oauth/request_checks.py, the CSP reports).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import UnsupportedMediaType

from authserver.edges.surfaces import is_probe_path, is_protocol_path

# The methods Flask-WTF treats as a form submission.
SUBMITTING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def refuse_json_on_pages() -> None:
    if not request.is_json or request.method not in SUBMITTING_METHODS:
        return
    if is_protocol_path(request.path) or is_probe_path(request.path):
        return
    raise UnsupportedMediaType("Pages accept HTML form submissions only.")


def init_app(app: Flask) -> None:
    app.before_request(refuse_json_on_pages)
