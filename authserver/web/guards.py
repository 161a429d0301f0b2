"""View guards: pages that need a signed-in browser."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue

from authserver.security.redirects import safe_redirect_target
from authserver.sessions import BrowserSession, current_session

P = ParamSpec("P")
SignedInView = Callable[Concatenate[BrowserSession, P], ResponseReturnValue]
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def current_path() -> str:
    """This request's path and query, to come back to after signing in."""
    return request.full_path.removesuffix("?")


def sign_in_location(next_path: str) -> str:
    return url_for("login.login_page", next=next_path)


def signed_in(view: SignedInView[P]) -> Callable[P, ResponseReturnValue]:
    """Run ``view`` with the browser's session as its first argument; without one, sign in first.

    A pending MFA sign-in is not a session and does not pass.
    """

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        session = current_session()
        if session is None:
            return redirect(sign_in_location(_return_path()), 303)
        return view(session, *args, **kwargs)

    return guarded


def sign_in_required(view: View) -> View:
    """Like :func:`signed_in`, for views that do not need the session object itself."""

    @functools.wraps(view)
    def guarded(*args: object, **kwargs: object) -> ResponseReturnValue:
        if current_session() is None:
            return redirect(sign_in_location(_return_path()), 303)
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]  # same signature, as functools.wraps promises


def _return_path() -> str:
    """This page for a GET; for a POST the page the form was on (a form target is no page)."""
    if request.method in ("GET", "HEAD"):
        return current_path()
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return "/"
    path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return safe_redirect_target(path, default="/")
