"""What the pages behind emailed single-use links (reset, verification) have in common.

The token is in the page's URL. It must go no further: ``Referrer-Policy: no-referrer`` keeps
the browser from sending the URL to anyone (the pages load nothing from other sites anyway), and
``Cache-Control: no-store`` keeps the page out of caches.

That header has one consequence for the forms on these pages. Flask-WTF's global CSRF check
(CSRFProtect) also demands a same-origin ``Referer`` on https (WTF_CSRF_SSL_STRICT), which the
browser is now forbidden to send. So the form posts are exempt from the global check and the
form validates its own CSRF token instead (FlaskForm does, with the same session secret): the
CSRF token is still required, only the Referer comparison is skipped. The unguessable token in
the path is a second secret a cross-site attacker would need.
"""

from __future__ import annotations

from flask import make_response
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

EXPIRED_FORM = _l("The form expired. Please try again.")


def private_page(body: str | Response, status: int | None = None) -> Response:
    response = make_response(body) if status is None else make_response(body, status)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def sentence(message: str) -> str:
    """A service message ("password must be ...") as a sentence for a page."""
    message = message[:1].upper() + message[1:]
    return message if message.endswith(".") else message + "."


def form_error(form_errors: dict[str, list[str]]) -> str | None:
    """The page's message when only the hidden CSRF field failed (a stale or missing token)."""
    return EXPIRED_FORM if "csrf_token" in form_errors else None
