"""The sign-up page (``AUTHSERVER_REGISTRATION=open``); 404 in the other modes."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, render_template, request
from flask.typing import ResponseReturnValue

from authserver.accounts.registration import sign_up_open
from authserver.accounts.sign_up import sign_up, sign_up_problems
from authserver.config import current_settings
from authserver.mail import send_best_effort
from authserver.models.types import utcnow
from authserver.ratelimit.limits import limit_signup
from authserver.security.passwords import min_password_length
from authserver.security.redirects import safe_redirect_target
from authserver.serving.after_response import run_after_response
from authserver.web.form_errors import add_problems
from authserver.web.forms import SignUpForm

bp = Blueprint("sign_up", __name__)

DEFAULT_NEXT = "/"


@bp.before_request
def only_while_open() -> None:
    if not sign_up_open():
        abort(404)


@bp.get("/signup")
def form_page() -> ResponseReturnValue:
    next_target = safe_redirect_target(request.args.get("next"), default=DEFAULT_NEXT)
    return _form(SignUpForm(next=next_target))


@bp.post("/signup")
@limit_signup
def form_submit() -> ResponseReturnValue:
    form = SignUpForm()
    is_valid = form.validate_on_submit()
    email, password = form.email.data or "", form.password.data or ""
    # Every field's problems at once, the form's and the policy's, on the fields they are about;
    # an empty field has its own message already.
    for name, messages in sign_up_problems(email, password).items():
        if form[name].data:
            add_problems(form[name], messages)
            is_valid = False
    if not is_valid:
        return _form(form), 400
    next_target = safe_redirect_target(form.next.data, default=DEFAULT_NEXT)
    # The same page for a new address and one with an account, written before the address is
    # looked up; the rest happens once it has gone out (accounts/sign_up.py).
    hours = max(1, current_settings().email_verification_ttl // 3600)
    response = make_response(render_template("sign_up_sent.html", email=email, hours=hours))
    response.headers["Cache-Control"] = "no-store"
    run_after_response(response, lambda: _register(email, password, next_target))
    return response


def _form(form: SignUpForm) -> str:
    return render_template("sign_up.html", form=form, min_length=min_password_length())


def _register(email: str, password: str, next_target: str) -> None:
    mail = sign_up(
        email,
        password,
        next_target=None if next_target == DEFAULT_NEXT else next_target,
        now=utcnow(),
    )
    if mail is not None:
        send_best_effort(mail)
