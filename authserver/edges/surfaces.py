"""Which requests are for programs (protocol endpoints) and which are for people (pages).

The two get different treatment at the edge: protocol endpoints answer RFC 6749-shaped JSON
errors and are never redirected; pages get the HTML error page and, in production, a redirect
from http to https. Deciding by path (not by endpoint) also covers requests that match no route.
"""

from __future__ import annotations

# Programs call these; every error they return is JSON (RFC 6749 §5.2 shape).
PROTOCOL_PATHS = frozenset(
    {
        "/oauth/token",
        "/oauth/introspect",
        "/oauth/revoke",
        "/oauth/userinfo",
        "/csp-report",
    }
)
PROTOCOL_PREFIXES = ("/.well-known/",)
# Under /oauth/ but shown to people in a browser: the authorization and logout pages.
PAGE_PREFIXES_UNDER_OAUTH = ("/oauth/authorize", "/oauth/logout")
# Load balancers and orchestrators probe instances directly, usually over plain http inside
# the network; these answer JSON and are never redirected or refused for lack of TLS.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def is_protocol_path(path: str) -> bool:
    if path in PROTOCOL_PATHS or path.startswith(PROTOCOL_PREFIXES):
        return True
    # Anything else under /oauth/ that is not a page (an unknown endpoint, say) is a program's
    # mistake and gets a JSON answer too.
    return path.startswith("/oauth/") and not path.startswith(PAGE_PREFIXES_UNDER_OAUTH)


def is_probe_path(path: str) -> bool:
    return path in PROBE_PATHS
