"""Flask adapter: a decorator that checks the request's token and puts it on ``flask.g``.

    verifier = Verifier(ISSUER, audience=API)
    FlaskVerifier(verifier, app)                    # or .init_app(app) in a factory

    @app.get("/orders")
    @require_token(scopes=["orders.read"])
    def orders():
        return {"for": g.access_token.subject}

Importing this module imports Flask; the rest of the kit never does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from flask import Flask, Response, current_app, g, request

from authserver_verifier.errors import VerifierError
from authserver_verifier.tokens import VerifiedToken
from authserver_verifier.verifier import Verifier

EXTENSION = "authserver_verifier"
View = TypeVar("View", bound=Callable[..., Any])  # Any: whatever the view takes and returns


class FlaskVerifier:
    """Binds a :class:`Verifier` to a Flask app, in the usual extension shape."""

    def __init__(self, verifier: Verifier, app: Flask | None = None) -> None:
        self.verifier = verifier
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self.verifier
        # A view may check more itself (`require_scopes(g.access_token, ...)`): its refusal is
        # answered like the decorator's, not as a 500.
        app.register_error_handler(VerifierError, _refuse_from_view)


def require_token(
    scopes: Iterable[str] = (), *, introspect: bool = False
) -> Callable[[View], View]:
    """Refuse the request (401/403, with the challenge) unless its token is good for ``scopes``.

    ``introspect=True`` also asks the issuer whether the token is still active (RFC 7662), for
    routes that must honour a revocation at once.
    """
    required = tuple(scopes)

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:  # Any: the view's own
            verifier: Verifier = current_app.extensions[EXTENSION]
            try:
                g.access_token = verifier.authenticate(
                    method=request.method,
                    url=request.url,
                    authorization=request.headers.getlist("Authorization"),
                    dpop=request.headers.getlist("DPoP"),
                    scopes=required,
                    introspect=introspect,
                )
            except VerifierError as error:
                return refusal_response(verifier, error)
            return current_app.ensure_sync(view)(*args, **kwargs)

        return cast(View, checked)

    return decorator


def current_token() -> VerifiedToken:
    """The token :func:`require_token` verified for this request."""
    token: VerifiedToken = g.access_token
    return token


def _refuse_from_view(error: VerifierError) -> Response:
    token = g.get("access_token")
    if error.scheme is None and isinstance(token, VerifiedToken):
        error.scheme = token.scheme
    return refusal_response(current_app.extensions[EXTENSION], error)


def refusal_response(verifier: Verifier, error: VerifierError) -> Response:
    answer = verifier.refusal(error)
    return Response(answer.body, status=answer.status, headers=answer.headers)
