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

import secrets
from typing import Any

from flask import Flask, Response, request
from flask_talisman import DENY, Talisman

from authserver.config import Settings
from authserver.edges import csp

EXTENSION = "authserver.talisman"
REFERRER_POLICY = "same-origin"
NONCE_BYTES = 24  # 192 bits, 32 characters
PERMISSIONS_POLICY = {
    feature: "()"
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "browsing-topics")
}


class _Talisman(Talisman):  # type: ignore[misc]  # flask_talisman has no type hints
    """Talisman with three changes: a response may carry a stricter Referrer-Policy of its own,
    the CSP nonce is made only for pages (HTML, or a template asked for it), and the headers of
    any other response, which are the same every time, are worked out once.

    Talisman as it comes makes a nonce, re-reads its options and re-joins the policy for every
    response; that was about a third of a JWKS request's time (bench/findings.md). The protocol
    endpoints, whose speed counts, answer JSON and never need a nonce.
    """

    _constant_headers: tuple[tuple[str, str], ...] | None = None

    def _make_nonce(self) -> None:
        """before_request: nothing to do; :meth:`_get_nonce` makes the nonce on first use."""

    def _get_nonce(self) -> str:
        # Templates call csp_nonce(); the policy then names the same nonce (_parse_policy looks
        # for request.csp_nonce). A response that rendered no template has no inline element a
        # nonce could allow, so its policy simply has none: stricter, not looser.
        nonce: str | None = getattr(request, "csp_nonce", None)
        if nonce is None:
            nonce = secrets.token_urlsafe(NONCE_BYTES)
            request.csp_nonce = nonce  # type: ignore[attr-defined]  # where Talisman reads it
        return nonce

    def _set_response_headers(self, response: Response) -> Response:
        if response.mimetype == "text/html":
            # Every page names a fresh nonce, whether or not its template used one yet.
            self._get_nonce()
        if hasattr(request, "csp_nonce") or csp.form_redirect_origins():
            return super()._set_response_headers(response)  # type: ignore[no-any-return]
        if self._constant_headers is None:
            # What Talisman adds to a bare response, kept: the same code decides the values.
            bare = set(Response().headers.keys())
            sample = super()._set_response_headers(Response())
            self._constant_headers = tuple(
                (name, value) for name, value in sample.headers.items() if name not in bare
            )
        headers = response.headers
        for name, value in self._constant_headers:
            if name == "Referrer-Policy":
                headers.setdefault(name, value)
            else:
                headers[name] = value
        return response

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
    # HTTPS redirection is edges/transport.py's (force_https=False above), so Talisman's own
    # before_request check would only re-read its options on every request to do nothing.
    app.before_request_funcs[None].remove(talisman._force_https)
    app.before_request_funcs[None].remove(talisman._make_nonce)
    app.after_request(_add_other_headers)
    if settings.csp_report_only:
        app.after_request(_add_report_only_baseline)
