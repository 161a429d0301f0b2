"""Security headers on every response: a few lines of our own, not Flask-Talisman.

- Content-Security-Policy (edges/csp.py), or Content-Security-Policy-Report-Only with
  AUTHSERVER_CSP_REPORT_ONLY, then with a baseline that is still enforced; reports go to
  POST /csp-report (Reporting-Endpoints names it for the policy's report-to).
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

Why our own module and not Flask-Talisman: the headers are constants except the CSP's nonce and
form-action origins, and what we needed from Talisman, it does not offer through its options.
It makes a nonce and re-reads its options for every request, which was about a third of a JWKS
request's time (bench/findings.md), while only pages need a nonce; it overwrites the stricter
Referrer-Policy a reset-link page chose; and its HTTPS redirect and HSTS would trust any
client's X-Forwarded-Proto (edges/transport.py owns both). Getting its headers without those
meant overriding its underscore methods and removing its registered hooks, which any release
could break silently. tests/edges/test_headers.py pins every header of each kind of answer.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, g
from werkzeug.datastructures import Headers

from authserver.config import Settings, app_settings
from authserver.edges import csp
from authserver.edges.surfaces import Surface, hooks_for

EXTENSION = "authserver.security_headers"
REFERRER_POLICY = "same-origin"
NONCE_BYTES = 24  # 192 bits, 32 characters
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in ("camera", "microphone", "geolocation", "payment", "usb", "browsing-topics")
)
_NONCE = "authserver_csp_nonce"  # flask.g: this request's nonce, once something asked for it


def csp_nonce() -> str:
    """This request's CSP nonce (templates: ``nonce="{{ csp_nonce() }}"``), made on first use.

    A response that rendered no template has no inline element a nonce could allow, so unless
    it is a page its policy simply names none: stricter, not looser.
    """
    nonce: str | None = g.get(_NONCE)
    if nonce is None:
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        setattr(g, _NONCE, nonce)
    return nonce


class SecurityHeaders:
    """The app's header values, worked out once; one after_request hook per surface."""

    def __init__(self, settings: Settings) -> None:
        self.policy_header = "Content-Security-Policy"
        # Set whatever the response holds: no view chooses these.
        overwritten = [
            ("Permissions-Policy", PERMISSIONS_POLICY),
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        # Kept when the response chose its own (a reset-link page's no-referrer).
        defaults = [
            ("Referrer-Policy", REFERRER_POLICY),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            # The Reporting API endpoint the policy's report-to names.
            ("Reporting-Endpoints", f'{csp.REPORT_GROUP}="{csp.REPORT_PATH}"'),
        ]
        if settings.csp_report_only:
            self.policy_header = "Content-Security-Policy-Report-Only"
            defaults.append(("Content-Security-Policy", csp.REPORT_ONLY_BASELINE))
        self.overwritten = tuple(overwritten)
        self.defaults = tuple(defaults)
        # Every answer that is not a page, and names no client origin, sends this same policy.
        self.plain_policy = csp.content_security_policy()

    def apply_to_machine(self, response: Response) -> Response:
        """The machine surface: the same values on every answer, worked out at start."""
        self._write(response.headers, self.plain_policy)
        return response

    def apply_to_page(self, response: Response) -> Response:
        is_page = response.mimetype == "text/html"
        # Every page names a fresh nonce, whether or not its template used one yet.
        has_nonce = is_page or _NONCE in g
        origins = csp.form_redirect_origins()
        if has_nonce or origins:
            nonce = csp_nonce() if has_nonce else None
            policy = csp.content_security_policy(nonce=nonce, form_origins=origins)
        else:
            policy = self.plain_policy
        self._write(response.headers, policy)
        if is_page:
            # Every page is about someone (their session, account, sign-in): no cache keeps
            # one unless the page itself says otherwise. Static files set their own.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _write(self, headers: Headers, policy: str) -> None:
        # What Headers.set and setdefault would do, with one pass over the response's headers
        # instead of one per name (seven per answer): a name it lacks is appended, as set
        # would append it; one it has is set, replacing it where it stands.
        present = {name.lower() for name, _ in headers}
        for name, value in (*self.overwritten, (self.policy_header, policy)):
            if name.lower() in present:
                headers[name] = value
            else:
                headers.add(name, value)
                present.add(name.lower())
        for name, value in self.defaults:
            if name.lower() not in present:  # kept when the response chose its own
                headers.add(name, value)
                present.add(name.lower())


def init_app(app: Flask) -> None:
    settings = app_settings(app)
    security_headers = SecurityHeaders(settings)
    app.extensions[EXTENSION] = security_headers
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    hooks_for(app, Surface.MACHINE).after_request(security_headers.apply_to_machine)
    hooks_for(app, Surface.PEOPLE).after_request(security_headers.apply_to_page)
