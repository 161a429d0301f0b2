"""Invitation pages: the mailed link shows a password form; submitting it creates the account.

Passkeys do not exist yet, so a password is the only way to accept. While registration is
``closed`` these routes answer 404, as if they did not exist.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from authserver.accounts.invitations import accept_invitation, find_invitation
from authserver.accounts.registration import invitations_allowed
from authserver.extensions import csrf_exempt
from authserver.models.types import utcnow
from authserver.ratelimit.limits import limit_reset, link_in_path
from authserver.security.errors import InvalidLink, PasswordPolicyError
from authserver.security.passwords import min_password_length
from authserver.web.form_errors import add_problems
from authserver.web.forms import ChoosePasswordForm
from authserver.web.link_pages import form_error, private_page

bp = Blueprint("invitation", __name__)


@bp.before_request
def only_while_invitations_work() -> None:
    if not invitations_allowed():
        abort(404)


@bp.get("/invitation/<token>")
def link_page(token: str) -> ResponseReturnValue:
    try:
        invitation = find_invitation(token, now=utcnow())
    except InvalidLink:
        return _invalid_link()
    return _password_form(ChoosePasswordForm(), token, email=invitation.email)


@bp.post("/invitation/<token>")
@limit_reset(account=link_in_path)
@csrf_exempt  # the form checks its own CSRF token: see web/link_pages.py
def link_submit(token: str) -> ResponseReturnValue:
    form = ChoosePasswordForm()
    try:
        invitation = find_invitation(token, now=utcnow())
        if not form.validate_on_submit():
            error = form_error(form.errors)
            return _password_form(form, token, email=invitation.email, error=error)
        accept_invitation(token, form.password.data, now=utcnow())
    except InvalidLink:
        return _invalid_link()
    except PasswordPolicyError as error:
        # Every rule the password breaks, at once; the link stays usable for another try.
        add_problems(form.password, error.problems)
        return _password_form(form, token, email=invitation.email)
    return private_page(redirect(url_for("invitation.done_page"), 303))


@bp.get("/invitation/done")
def done_page() -> ResponseReturnValue:
    return render_template("invitation_done.html")


def _password_form(
    form: ChoosePasswordForm, token: str, *, email: str, error: str | None = None
) -> ResponseReturnValue:
    """The page behind the link; 400 when it comes back with errors."""
    page = render_template(
        "invitation.html",
        form=form,
        token=token,
        email=email,
        error=error,
        min_length=min_password_length(),
    )
    return private_page(page, 400 if error or form.errors else 200)


def _invalid_link() -> ResponseReturnValue:
    page = render_template(
        "link_invalid.html",
        title=gettext("This invitation link cannot be used"),
        again_url=None,
        again_label=None,
    )
    return private_page(page, 400)
