"""Signing in with a passkey: alone on the sign-in page (a button, and the browser's own offer
in the Email field: conditional mediation), or as the second step instead of a code.

Form posts from templates/static/passkeys.js (``csrf_token``, the browser's answer as JSON
text in ``credential``, and ``next``), answered in JSON: each answer is
``{"location": ...}`` (where to go now) or ``{"error": ...}``; every refusal reads the same,
so an answer never tells whose passkey it was or why it failed (the audit row says). The
attempts count toward the same rate limits as the password form and the code form.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from authserver.accounts.lifecycle import get_user
from authserver.models import User
from authserver.models.types import utcnow
from authserver.ratelimit.limits import limit_mfa, limit_signin
from authserver.security.errors import (
    PasskeyRefused,
    PendingSignInInvalid,
    RateLimited,
    TooManyAttempts,
)
from authserver.security.mfa.sign_in import find_pending_sign_in
from authserver.security.passkey_ceremonies import authentication_options
from authserver.security.redirects import safe_redirect_target
from authserver.security.sign_in import (
    complete_sign_in_with_passkey,
    sign_in_with_passkey,
    step_up_with_passkey,
)
from authserver.sessions import current_session
from authserver.sessions.cookies import is_secure
from authserver.web.guards import sign_in_location
from authserver.web.mfa import challenged_account, pending_cookie_name

bp = Blueprint("passkey_sign_in", __name__)

DEFAULT_NEXT = "/"
NO_JSON = {"Cache-Control": "no-store"}


def _answer(body: dict[str, Any], status: int = 200) -> ResponseReturnValue:
    return body, status, NO_JSON


def _options(json_text: str) -> ResponseReturnValue:
    return json_text, 200, {"Content-Type": "application/json", **NO_JSON}


def _body() -> tuple[str, str]:
    """The browser's answer (JSON text, parsed by the library) and where to go after."""
    next_target = safe_redirect_target(request.form.get("next"), default=DEFAULT_NEXT)
    return request.form.get("credential", ""), next_target


def _refused() -> ResponseReturnValue:
    message = gettext("The passkey was not accepted. Try again, or use another way to sign in.")
    return _answer({"error": message}, 401)


# Not rate limited: the sign-in page asks on every view for its conditional request, and a
# challenge alone lets nobody in (unanswered ones are purged).
@bp.post("/login/passkey/options")
def sign_in_options() -> ResponseReturnValue:
    return _options(authentication_options("sign-in", user=None, now=utcnow()))


@bp.post("/login/passkey")
@limit_signin
def sign_in_submit() -> ResponseReturnValue:
    credential, next_target = _body()
    try:
        sign_in_with_passkey(credential, now=utcnow())
    except (PasskeyRefused, TooManyAttempts):
        return _refused()
    return _answer({"location": next_target})


@bp.post("/mfa/passkey/options")
@limit_mfa(account=challenged_account)
def second_factor_options() -> ResponseReturnValue:
    user = _challenged_user()
    if user is None:
        return _answer({"location": sign_in_location(DEFAULT_NEXT)}, 401)
    return _options(authentication_options("second-factor", user=user, now=utcnow()))


@bp.post("/mfa/passkey")
@limit_mfa(account=challenged_account)
def second_factor_submit() -> ResponseReturnValue:
    credential, next_target = _body()
    now = utcnow()
    pending = find_pending_sign_in(request.cookies.get(pending_cookie_name()), now=now)
    session = current_session(now=now)
    try:
        if pending is not None:
            complete_sign_in_with_passkey(pending, credential, now=now)
        elif session is not None and not session.has_second_factor:
            step_up_with_passkey(get_user(session.user_id), session, credential, now=now)
        else:
            return _answer({"location": sign_in_location(next_target)}, 401)
    except (PasskeyRefused, TooManyAttempts):
        return _refused()
    except PendingSignInInvalid:
        return _answer({"location": sign_in_location(next_target)}, 401)
    response = current_app.make_response(_answer({"location": next_target}))
    if pending is not None:
        response.delete_cookie(
            pending_cookie_name(),
            path="/",
            secure=is_secure(current_app),
            httponly=True,
            samesite="Lax",
        )
    return response


@bp.errorhandler(RateLimited)
def too_many_attempts(error: RateLimited) -> ResponseReturnValue:
    message = gettext("Too many attempts. Please wait a moment and try again.")
    headers = {"Retry-After": str(error.retry_after_seconds), **NO_JSON}
    return {"error": message}, 429, headers


def _challenged_user() -> User | None:
    now = utcnow()
    pending = find_pending_sign_in(request.cookies.get(pending_cookie_name()), now=now)
    if pending is not None:
        return get_user(pending.user_id)
    session = current_session(now=now)
    if session is not None and not session.has_second_factor:
        return get_user(session.user_id)
    return None
