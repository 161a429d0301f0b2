"""Sign in and sign out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf.csrf import CSRFError

from authserver.accounts.registration import sign_up_open
from authserver.edges.csp import allow_form_redirects
from authserver.models.types import utcnow
from authserver.oauth.authorize_endpoint import client_redirect_uri_after, requesting_client_name
from authserver.ratelimit.limits import limit_signin
from authserver.security.errors import InvalidCredentials, RateLimited
from authserver.security.redirects import safe_redirect_target
from authserver.security.sign_in import SecondFactorNeeded, sign_in_with_password
from authserver.sessions import end_current_session
from authserver.web.errors import render_http_error
from authserver.web.forms import LoginForm
from authserver.web.mfa import redirect_to_challenge

bp = Blueprint("login", __name__)

# One message for every failure (unknown address, wrong password, disabled or locked account),
# so the page never tells which e-mail addresses have accounts. It names the lock too, so a
# person whose account is paused is not left retrying a password that is right.
GENERIC_LOGIN_FAILURE = _l(
    "The email address or password is incorrect, or sign-in to this account is paused after "
    "repeated attempts. If it is paused, we have sent an e-mail with a way to unlock it."
)
EXPIRED_FORM = _l("The sign-in form expired. Please try again.")
DEFAULT_NEXT = "/"


def render_login(form: LoginForm, *, error: str | None = None) -> str:
    allow_form_redirects(client_redirect_uri_after(form.next.data))
    client_name = requesting_client_name(form.next.data)
    return render_template(
        "login.html",
        form=form,
        error=error,
        client_name=client_name,
        sign_up_open=sign_up_open(),
    )


def too_many_attempts_message(seconds: int) -> str:
    """The wait of Retry-After as a person reads it: whole minutes, rounded up, or seconds
    under one. Whole sentences, so that each language can word (and pluralise) its own."""
    if seconds < 60:
        return str(
            ngettext(
                "Too many sign-in attempts. Please wait %(num)d second and try again.",
                "Too many sign-in attempts. Please wait %(num)d seconds and try again.",
                max(1, seconds),
            )
        )
    return str(
        ngettext(
            "Too many sign-in attempts. Please wait %(num)d minute and try again.",
            "Too many sign-in attempts. Please wait %(num)d minutes and try again.",
            -(-seconds // 60),
        )
    )


@bp.get("/login")
def login_page() -> ResponseReturnValue:
    form = LoginForm(
        email=request.args.get("login_hint", ""), next=request.args.get("next", DEFAULT_NEXT)
    )
    return render_login(form)


@bp.post("/login")
@limit_signin
def login_submit() -> ResponseReturnValue:
    form = LoginForm()
    if not form.validate_on_submit():
        return render_login(form), 400
    try:
        outcome = sign_in_with_password(form.email.data, form.password.data, now=utcnow())
    except InvalidCredentials:
        return render_login(form, error=GENERIC_LOGIN_FAILURE), 401
    next_target = safe_redirect_target(form.next.data, default=DEFAULT_NEXT)
    if isinstance(outcome, SecondFactorNeeded):
        return redirect_to_challenge(outcome.pending, next_target=next_target)
    return redirect(next_target, 303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    # The CSRF token is checked before any view runs (CSRFProtect); a bad one never gets here.
    end_current_session()
    # "Not you?" on the consent page sends the authorization request along, so the person
    # comes back to it and signs in as someone else; anything not on this site is ignored.
    resume = safe_redirect_target(request.form.get("next"), default="")
    if resume:
        return redirect(resume, 303)
    return redirect(url_for("login.login_page"), 303)


@bp.errorhandler(RateLimited)
def too_many_attempts(error: RateLimited) -> ResponseReturnValue:
    """Too many sign-ins from this address or for this account: the usual failure, as a 429.

    The per-account limit counts addresses with no account too, so this says nothing about
    which accounts exist; the status and Retry-After tell a well-behaved client to wait, and
    the page tells the person the same wait in words.
    """
    headers = {"Retry-After": str(error.retry_after_seconds), "Cache-Control": "no-store"}
    message = too_many_attempts_message(error.retry_after_seconds)
    return render_login(LoginForm(), error=message), 429, headers


@bp.errorhandler(CSRFError)
def csrf_failure(error: CSRFError) -> ResponseReturnValue:
    """A missing or stale CSRF token on the sign-in form: show the form again, not an error."""
    if request.endpoint == "login.login_submit":
        return render_login(LoginForm(), error=EXPIRED_FORM), 400
    return render_http_error(error)
