"""Password reset pages: ask for a link, then choose a new password behind the link."""

from __future__ import annotations

from flask import (
    Blueprint,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_wtf.csrf import CSRFError

from authserver.accounts.password_reset import (
    check_reset_link,
    request_password_reset,
    reset_password,
)
from authserver.config import current_settings
from authserver.extensions import csrf_exempt
from authserver.mail import send_after_response, send_best_effort
from authserver.models.types import utcnow
from authserver.ratelimit.limits import limit_reset, link_in_path
from authserver.security.errors import InvalidLink, PasswordPolicyError
from authserver.security.passwords import min_password_length
from authserver.serving.after_response import run_after_response
from authserver.web.errors import render_http_error
from authserver.web.form_errors import add_problems
from authserver.web.forms import NewPasswordForm, ResetRequestForm
from authserver.web.link_pages import EXPIRED_FORM, form_error, private_page

bp = Blueprint("reset", __name__)


@bp.get("/reset")
def request_page() -> ResponseReturnValue:
    return render_template("reset_request.html", form=ResetRequestForm())


@bp.post("/reset")
@limit_reset()
def request_submit() -> ResponseReturnValue:
    form = ResetRequestForm()
    if not form.validate_on_submit():
        return render_template("reset_request.html", form=form), 400
    email = form.email.data
    # The same page and status whether or not the address has an account (no enumeration).
    # The response time must not tell either (ASVS 5.0 V6.3.8), so the answer is written before
    # the address is even looked up: the link is made and mailed after the response has gone.
    settings = current_settings()
    page = render_template(
        "reset_sent.html", email=email, minutes=max(1, settings.reset_token_ttl // 60)
    )
    response = make_response(page)
    run_after_response(response, lambda: _make_and_mail_reset_link(email))
    return response


def _make_and_mail_reset_link(email: str) -> None:
    mail = request_password_reset(email, now=utcnow())
    if mail is not None:
        send_best_effort(mail)


@bp.get("/reset/<token>")
def link_page(token: str) -> ResponseReturnValue:
    try:
        email = check_reset_link(token, now=utcnow())
    except InvalidLink:
        return _invalid_link()
    return _password_form(NewPasswordForm(), token, email=email)


@bp.post("/reset/<token>")
@limit_reset(account=link_in_path)
@csrf_exempt  # the form checks its own CSRF token: see web/link_pages.py
def link_submit(token: str) -> ResponseReturnValue:
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return _password_form_again(form, token, error=form_error(form.errors))
    try:
        mail = reset_password(token, form.password.data, now=utcnow())
    except InvalidLink:
        return _invalid_link()
    except PasswordPolicyError as error:
        # Every rule the password breaks, at once; the link stays usable for another try.
        add_problems(form.password, error.problems)
        return _password_form_again(form, token)
    response = private_page(redirect(url_for("reset.done_page"), 303))
    send_after_response(response, mail)
    return response


@bp.get("/reset/done")
def done_page() -> ResponseReturnValue:
    return render_template("reset_done.html")


def _password_form(
    form: NewPasswordForm, token: str, *, email: str, error: str | None = None
) -> ResponseReturnValue:
    """The page behind the link; 400 when it comes back with errors."""
    page = render_template(
        "reset_password.html",
        form=form,
        token=token,
        email=email,
        error=error,
        min_length=min_password_length(),
    )
    return private_page(page, 400 if error or form.errors else 200)


def _password_form_again(
    form: NewPasswordForm, token: str, *, error: str | None = None
) -> ResponseReturnValue:
    """The refused form with its errors, while the link works (it may have expired meanwhile)."""
    try:
        email = check_reset_link(token, now=utcnow())
    except InvalidLink:
        return _invalid_link()
    return _password_form(form, token, email=email, error=error)


def _invalid_link() -> ResponseReturnValue:
    page = render_template(
        "link_invalid.html",
        title=gettext("This reset link cannot be used"),
        again_url=url_for("reset.request_page"),
        again_label=gettext("Send a new reset link"),
    )
    return private_page(page, 400)


@bp.errorhandler(CSRFError)
def csrf_failure(error: CSRFError) -> ResponseReturnValue:
    """A missing or stale CSRF token on the request form: show the form again, not an error."""
    if request.endpoint == "reset.request_submit":
        page = render_template("reset_request.html", form=ResetRequestForm(), error=EXPIRED_FORM)
        return page, 400
    return render_http_error(error)
