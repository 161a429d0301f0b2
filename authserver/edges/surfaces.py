"""The two surfaces: requests for programs (the machine surface) and for people (pages).

Every request belongs to one surface, decided by its path, so requests that match no route are
placed too. The two get different treatment:

- The machine surface (token, introspection, revocation, userinfo, JWKS, discovery, CSP reports,
  probes) answers RFC 6749-shaped JSON errors, is never redirected, and runs only the hooks a
  program's call needs: request id, request log line, metrics, CORS, constant security headers,
  body limit, TLS rules. No cookie session, CSRF check, CSP nonce or device cookie is touched.
- The people surface (sign-in, MFA, consent, account, reset, verification, logout pages) adds
  the cookie session, the CSRF check, the device cookie and a per-page CSP nonce.

Why one Flask app with per-surface hooks and not two apps behind a dispatcher: the two designs
run exactly the same code for a machine request (Flask's request context, the URL match, the
shared hooks and one surface look-up here), so they cost the same (docs/architecture.md has the
measurement). Two apps would also mean two database pools per worker, and ``url_for`` across
surfaces (discovery names the authorization page) would stop working.

A hook that only one surface needs is registered with :func:`hooks_for`; a hook both need stays
an ordinary ``app.before_request``/``after_request``/``teardown_request``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response, request
from flask.typing import ResponseReturnValue

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

EXTENSION = "authserver.surface_hooks"


class Surface(enum.Enum):
    MACHINE = "machine"
    PEOPLE = "people"


def is_protocol_path(path: str) -> bool:
    if path in PROTOCOL_PATHS or path.startswith(PROTOCOL_PREFIXES):
        return True
    # Anything else under /oauth/ that is not a page (an unknown endpoint, say) is a program's
    # mistake and gets a JSON answer too.
    return path.startswith("/oauth/") and not path.startswith(PAGE_PREFIXES_UNDER_OAUTH)


def is_probe_path(path: str) -> bool:
    return path in PROBE_PATHS


def surface_of(path: str) -> Surface:
    if is_protocol_path(path) or is_probe_path(path):
        return Surface.MACHINE
    return Surface.PEOPLE


BeforeHook = Callable[[], ResponseReturnValue | None]
AfterHook = Callable[[Response], Response]
TeardownHook = Callable[[BaseException | None], None]


@dataclass
class SurfaceHooks:
    """The hooks of one surface, in Flask's order: before in registration order, after and
    teardown in reverse (the last registered wraps the others, as Flask's own hooks do)."""

    before: list[BeforeHook] = field(default_factory=list)
    after: list[AfterHook] = field(default_factory=list)
    teardown: list[TeardownHook] = field(default_factory=list)

    def before_request(self, hook: BeforeHook) -> BeforeHook:
        self.before.append(hook)
        return hook

    def after_request(self, hook: AfterHook) -> AfterHook:
        self.after.append(hook)
        return hook

    def teardown_request(self, hook: TeardownHook) -> TeardownHook:
        self.teardown.append(hook)
        return hook


def hooks_for(app: Flask, surface: Surface) -> SurfaceHooks:
    """The hook lists of one surface; features may add to them before or after init_app."""
    hooks: dict[Surface, SurfaceHooks] = app.extensions.setdefault(
        EXTENSION, {each: SurfaceHooks() for each in Surface}
    )
    return hooks[surface]


def init_app(app: Flask) -> None:
    """Register the three hooks that run the current surface's own hooks.

    Where this runs decides where the surfaces' hooks sit among the shared ones: edges/
    __init__.py calls it after the edge's own checks (docs/architecture.md lists the order).
    """
    hooks = {surface: hooks_for(app, surface) for surface in Surface}

    def run_before() -> ResponseReturnValue | None:
        for hook in hooks[surface_of(request.path)].before:
            answer = hook()
            if answer is not None:
                return answer
        return None

    def run_after(response: Response) -> Response:
        for hook in reversed(hooks[surface_of(request.path)].after):
            response = hook(response)
        return response

    def run_teardown(error: BaseException | None = None) -> None:
        for hook in reversed(hooks[surface_of(request.path)].teardown):
            hook(error)

    app.before_request(run_before)
    app.after_request(run_after)
    app.teardown_request(run_teardown)
