"""The MFA challenge page (``/mfa``): the second step of signing in, and of stepping up.

Who is being challenged, in this order:

1. a *pending sign-in* (a correct password for an enrolled user; cookie set by
   :func:`redirect_to_challenge`), which never is a session by itself;
2. otherwise the signed-in browser, when its session was made with a password alone and its
   user has an authenticator (a client demanded MFA: "step-up").

Success starts a new session with the second factor in its ``amr`` (security/sign_in.py) and
goes on to ``next``; after a recovery code, through a page that says how many are left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from authserver.accounts.lifecycle import get_user
from authserver.config import current_settings
from authserver.edges.csp import allow_form_redirects
from authserver.models import User
from authserver.models.types import utcnow
from authserver.oauth.authorize_endpoint import client_redirect_uri_after
from authserver.ratelimit.limits import limit_mfa
from authserver.security.errors import (
    InvalidMfaCode,
    MalformedMfaCode,
    MfaNotEnrolled,
    PendingSignInInvalid,
    TooManyAttempts,
)
from authserver.security.mfa.second_factor import is_enrolled
from authserver.security.mfa.sign_in import PendingSignIn, find_pending_sign_in
from authserver.security.passkeys import has_passkeys
from authserver.security.redirects import safe_redirect_target
from authserver.security.sign_in import complete_sign_in, step_up_session
from authserver.sessions import BrowserSession, current_session
from authserver.sessions.cookies import is_secure
from authserver.web.errors import render_http_error
from authserver.web.forms import MfaCodeForm
from authserver.web.guards import sign_in_location

bp = Blueprint("mfa", __name__)

CHALLENGE_PATH = "/mfa"
SETUP_PATH = "/account/mfa"
PENDING_COOKIE_NAME = "authserver_mfa_pending"
DEFAULT_NEXT = "/"
INVALID_CODE = _l("That code is not valid. Check your authenticator app and try again.")
MALFORMED_CODE = _l(
    "Enter the 6-digit code from your authenticator app, or one of your recovery codes."
)
EXPIRED_FORM = _l("The form expired. Please try again.")
TOO_MANY_ATTEMPTS = _l("Too many wrong attempts. Try again later.")


def pending_cookie_name() -> str:
    # The __Host- prefix, as for the session cookie: no subdomain or plain-HTTP page can plant it.
    return ("__Host-" if is_secure(current_app) else "") + PENDING_COOKIE_NAME


def redirect_to_challenge(pending: str, *, next_target: str) -> Response:
    """After a correct password for an enrolled user: no session yet; the second factor next."""
    response = redirect(url_for("mfa.challenge_page", next=next_target), 303)
    response.set_cookie(
        pending_cookie_name(),
        pending,
        max_age=current_settings().mfa_pending_ttl,
        path="/",
        secure=is_secure(current_app),
        httponly=True,
        samesite="Lax",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True)
class _Challenged:
    user: User
    pending: PendingSignIn | None  # None: stepping up ``session``
    session: BrowserSession | None


@bp.get(CHALLENGE_PATH)
def challenge_page() -> ResponseReturnValue:
    next_target = safe_redirect_target(request.args.get("next"), default=DEFAULT_NEXT)
    challenged = _find_challenged(next_target, now=utcnow())
    if isinstance(challenged, Response):
        return challenged
    return _render(MfaCodeForm(next=next_target), challenged)


def challenged_account() -> str | None:
    """Whose second factor this request tries, for the per-account MFA rate limit."""
    pending = find_pending_sign_in(request.cookies.get(pending_cookie_name()), now=utcnow())
    if pending is not None:
        return f"user:{pending.user_id}"
    session = current_session()
    return f"user:{session.user_id}" if session is not None else None


@bp.post(CHALLENGE_PATH)
@limit_mfa(account=challenged_account)
def challenge_submit() -> ResponseReturnValue:
    form = MfaCodeForm()
    next_target = safe_redirect_target(form.next.data, default=DEFAULT_NEXT)
    now = utcnow()
    challenged = _find_challenged(next_target, now=now)
    if isinstance(challenged, Response):
        return challenged
    if not form.validate_on_submit():
        return _render(form, challenged), 400
    try:
        if challenged.pending is not None:
            signed_in = complete_sign_in(challenged.pending, form.code.data, now=now)
        else:
            assert challenged.session is not None  # _find_challenged: one or the other
            signed_in = step_up_session(
                challenged.user, challenged.session, form.code.data, now=now
            )
    except MalformedMfaCode:
        return _render(form, challenged, error=MALFORMED_CODE), 400
    except InvalidMfaCode:
        return _render(form, challenged, error=INVALID_CODE), 401
    except TooManyAttempts:
        # Stepping up a signed-in session of a locked account (a pending sign-in starts over).
        return _render(form, challenged, error=TOO_MANY_ATTEMPTS), 429
    except (PendingSignInInvalid, MfaNotEnrolled):
        return _restart_sign_in(next_target)
    if signed_in.recovery_codes_left is None:
        response = redirect(next_target, 303)
    else:
        response = _recovery_code_used(signed_in.recovery_codes_left, next_target)
    _forget_pending(response)
    return response


def _recovery_code_used(remaining: int, next_target: str) -> Response:
    """The page after a recovery code signed in: says so, how many are left, and goes on."""
    page = render_template(
        "mfa_recovery_used.html",
        remaining=remaining,
        next_target=next_target,
        new_codes_target=url_for("mfa_setup.setup_page", next=next_target),
    )
    return Response(page, headers={"Cache-Control": "no-store"}, mimetype="text/html")


@bp.errorhandler(CSRFError)
def csrf_failure(error: CSRFError) -> ResponseReturnValue:
    """A stale form: show it again with a fresh token, not an error page."""
    if request.endpoint != "mfa.challenge_submit":
        return render_http_error(error)
    next_target = safe_redirect_target(request.form.get("next"), default=DEFAULT_NEXT)
    challenged = _find_challenged(next_target, now=utcnow())
    if isinstance(challenged, Response):
        return challenged
    return _render(MfaCodeForm(next=next_target), challenged, error=EXPIRED_FORM), 400


def _find_challenged(next_target: str, *, now: datetime) -> _Challenged | Response:
    """Who must give a second factor here, or where to send a browser that has nothing to do."""
    pending = find_pending_sign_in(request.cookies.get(pending_cookie_name()), now=now)
    if pending is not None:
        return _Challenged(get_user(pending.user_id), pending, None)
    session = current_session(now=now)
    if session is None:
        return _restart_sign_in(next_target)
    if session.has_second_factor:
        return redirect(next_target, 303)
    if not is_enrolled(session.user_id) and not has_passkeys(session.user_id):
        # Nothing to step up with: set up an authenticator app (or come back with a passkey).
        return redirect(url_for("mfa_setup.setup_page", next=next_target), 303)
    return _Challenged(get_user(session.user_id), None, session)


def _restart_sign_in(next_target: str) -> Response:
    response = redirect(sign_in_location(next_target), 303)
    _forget_pending(response)
    return response


def _forget_pending(response: Response) -> None:
    if request.cookies.get(pending_cookie_name()) is not None:
        response.delete_cookie(
            pending_cookie_name(),
            path="/",
            secure=is_secure(current_app),
            httponly=True,
            samesite="Lax",
        )


def _render(form: MfaCodeForm, challenged: _Challenged, *, error: str | None = None) -> str:
    # A correct code redirects to `next`, which may continue an authorization to its client.
    allow_form_redirects(client_redirect_uri_after(form.next.data))
    return render_template(
        "mfa_challenge.html",
        form=form,
        error=error,
        stepping_up=challenged.pending is None,
        # Someone with passkeys and no authenticator app steps up with a passkey alone.
        has_app=is_enrolled(challenged.user.id),
        has_passkeys=has_passkeys(challenged.user.id),
    )
