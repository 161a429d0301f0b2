"""Security headers on every response (Flask-Talisman, plus what it does not cover).

- Content-Security-Policy (edges/csp.py), or Content-Security-Policy-Report-Only with
  AUTHSERVER_CSP_REPORT_ONLY; reports go to POST /csp-report.
- X-Frame-Options: DENY for browsers that predate ``frame-ancestors``.
- X-Content-Type-Options: nosniff.
- Referrer-Policy: same-origin. Our URLs (the authorization request, emailed links) never reach
  another site in a Referer. Not ``no-referrer`` everywhere: Flask-WTF's CSRF check requires a
  same-origin Referer on https. Pages with a secret in their own URL (reset, verification and
  unlock links) send ``no-referrer`` themselves, and that stricter choice is kept.
- Cross-Origin-Opener-Policy: same-origin: no other site's window keeps a handle on ours.
- Permissions-Policy: every powerful feature off; the pages use none.
- Strict-Transport-Security: production only, over https only (edges/transport.py).
- Cache-Control: no-store on HTML pages that do not set their own.

The same headers go on JSON responses too: they cost nothing there, and a JSON answer that a
browser is tricked into rendering as a document is then just as locked down as a page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_talisman import DENY, Talisman

from authserver.config import Settings
from authserver.edges import csp

EXTENSION = "authserver.talisman"
REFERRER_POLICY = "same-origin"
PERMISSIONS_POLICY = {
    feature: "()"
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "browsing-topics")
}


class _Talisman(Talisman):  # type: ignore[misc]  # flask_talisman has no type hints
    """Talisman, except that a response may carry a stricter Referrer-Policy of its own."""

    def _set_referrer_policy_headers(self, headers: Any) -> None:  # Any: werkzeug Headers
        headers.setdefault("Referrer-Policy", self.referrer_policy)


def _add_other_headers(response: Response) -> Response:
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        # Every page is about someone (their session, account, sign-in): no cache keeps one
        # unless the page itself says otherwise. Public documents and static files set their own.
        response.headers.setdefault("Cache-Control", "no-store")
    # The Reporting API endpoint named by the policy's report-to (report-uri is the fallback
    # for browsers without it).
    response.headers.setdefault("Reporting-Endpoints", f'{csp.REPORT_GROUP}="{csp.REPORT_PATH}"')
    return response


def _add_report_only_baseline(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", csp.REPORT_ONLY_BASELINE)
    return response


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["authserver.settings"]
    # One Talisman per app: it keeps its options on itself, and tests build many apps.
    talisman = _Talisman()
    talisman.init_app(
        app,
        # HTTPS redirection and HSTS are edges/transport.py's: Talisman would believe any
        # client's X-Forwarded-Proto, and would redirect POSTs and protocol endpoints.
        force_https=False,
        strict_transport_security=False,
        # Cookie flags come from Settings.flask_mapping(); Talisman would set them per request.
        session_cookie_secure=False,
        session_cookie_samesite="Lax",
        frame_options=DENY,
        content_security_policy=csp.content_security_policy(),
        content_security_policy_nonce_in=csp.NONCE_DIRECTIVES,
        content_security_policy_report_uri=csp.REPORT_PATH,
        content_security_policy_report_only=settings.csp_report_only,
        referrer_policy=REFERRER_POLICY,
        permissions_policy=PERMISSIONS_POLICY,
    )
    app.extensions[EXTENSION] = talisman
    app.after_request(_add_other_headers)
    if settings.csp_report_only:
        app.after_request(_add_report_only_baseline)
