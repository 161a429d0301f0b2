"""The Content-Security-Policy: what our pages may load, submit to and be framed by.

Pages load only our own stylesheet and never run inline script or style; any ``<script>`` or
``<style>`` a template adds must carry ``nonce="{{ csp_nonce() }}"`` (a fresh nonce per request,
made by edges/headers.py). There is no ``'unsafe-inline'``.

``form-action`` is ``'self'`` plus, on the few pages whose form ends in a redirect back to a
client, that client's origin. Browsers (Chromium) check every redirect after a form submission
against it, so without the origin the consent form's Allow/Deny, a sign-in that continues an
authorization and a logout confirmation with ``post_logout_redirect_uri`` would be blocked on
their way back to the client. The view that renders such a page calls
:func:`allow_form_redirects` with the one redirect URI in play (verified against the client's
registration); no page ever gets a list of every client.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import g, has_request_context

from authserver.edges.origins import origin_of

REPORT_PATH = "/csp-report"
REPORT_GROUP = "csp"  # the Reporting API endpoint name (Reporting-Endpoints / report-to)
_FORM_ORIGINS = "authserver_csp_form_origins"


def allow_form_redirects(*redirect_uris: str | None) -> None:
    """Let this page's forms end in a redirect to these (already verified) URIs' origins."""
    origins: set[str] = g.setdefault(_FORM_ORIGINS, set())
    origins.update(origin for origin in map(origin_of, filter(None, redirect_uris)) if origin)


def form_redirect_origins() -> set[str]:
    """The client origins this request's page may submit to (empty outside a request)."""
    if not has_request_context():
        return set()
    origins: set[str] = g.get(_FORM_ORIGINS, set())
    return origins


NONCE_DIRECTIVES = ("script-src", "style-src")
# Directives without a fallback to default-src are spelled out: base-uri, form-action and
# frame-ancestors (CSP Level 3 §6.3, §6.4). In this order in the header.
_DIRECTIVES = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),  # and this page's nonce
    ("style-src", "'self'"),  # and this page's nonce
    ("object-src", "'none'"),
    ("base-uri", "'none'"),
    ("frame-ancestors", "'none'"),
    ("form-action", "'self'"),  # and the client origins allow_form_redirects() named
    ("report-to", REPORT_GROUP),
    # For browsers without the Reporting API (CSP Level 3 §6.5.1: deprecated, still read).
    ("report-uri", REPORT_PATH),
)


def content_security_policy(*, nonce: str | None = None, form_origins: Iterable[str] = ()) -> str:
    """The policy's header value, with this page's nonce and form origins when it has them."""
    parts = []
    for directive, sources in _DIRECTIVES:
        if nonce is not None and directive in NONCE_DIRECTIVES:
            sources = f"{sources} 'nonce-{nonce}'"
        elif directive == "form-action":
            sources = " ".join((sources, *sorted(form_origins)))
        parts.append(f"{directive} {sources}")
    return "; ".join(parts)


# Enforced even while the full policy is only reported: none of these can break one of our pages.
REPORT_ONLY_BASELINE = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
