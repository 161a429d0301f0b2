"""Which request bodies are taken at all: no multipart anywhere, no JSON on people's pages.

Flask-WTF's forms take a JSON body, when one is sent, as if it were the submitted form, and any
JSON value gets through: a list, a number, an object of numbers or of lists. Neither the forms'
validators nor the pages' error handlers (which build a fresh form from the same body) expect
that, and they raised. Our forms send ``application/x-www-form-urlencoded``, so pages refuse
JSON. No endpoint takes a file: forms and protocol requests are form-encoded (RFC 6749 §3.2,
RFC 7009 §2.1, RFC 7662 §2.1, RFC 6750 §2.2), CSP reports are JSON. So multipart bodies are
refused everywhere, and Werkzeug's multipart parser (which leaves the file parts of a truncated
body open) never runs. The answer is 415 (RFC 9110 §15.5.16), before the CSRF check, a rate
limit key or any form reads the body: the error page on pages, RFC 6749 §5.2 JSON on protocol
endpoints (web/errors.py).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import UnsupportedMediaType

from authserver.edges.surfaces import Surface, surface_of

# The methods Flask-WTF treats as a form submission.
SUBMITTING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def refuse_unexpected_bodies() -> None:
    if request.method not in SUBMITTING_METHODS:
        return
    if request.mimetype.startswith("multipart/"):
        raise UnsupportedMediaType("No endpoint here takes multipart bodies; send a form.")
    if request.is_json and surface_of(request.path) is Surface.PEOPLE:
        raise UnsupportedMediaType("Pages accept HTML form submissions only.")


def init_app(app: Flask) -> None:
    app.before_request(refuse_unexpected_bodies)
