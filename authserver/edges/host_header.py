"""A Host header Werkzeug cannot turn into a URL gets 400 before anything asks for the URL.

``request.url`` (Authlib reads it on every protocol request, the https redirect builds on it)
decodes the host as IDNA, and that raises on an empty label, a label over 63 characters (RFC
1035 §2.3.4) or a malformed ``xn--`` label: a client could turn any request into a 500. Flask's
routing refuses some of these hosts itself (BadHost, when it cannot encode them); this check
refuses every one the same way, first.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadHost

MAX_LABEL_LENGTH = 63


def _may_be_unusable(host: str) -> bool:
    """A cheap test that every unusable Host passes (most requests stop here)."""
    return (
        len(host) > MAX_LABEL_LENGTH
        or ".." in host
        or "xn--" in host.lower()
        or (host.startswith("."))
    )


def refuse_unusable_host() -> None:
    if not _may_be_unusable(request.host):
        return
    try:
        request.url  # noqa: B018  # building it is the test; Werkzeug caches it for later use
    except UnicodeError as error:
        raise BadHost() from error


def init_app(app: Flask) -> None:
    app.before_request(refuse_unusable_host)
