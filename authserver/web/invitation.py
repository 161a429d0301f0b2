"""Invitation pages: the mailed link shows a password form; submitting it creates the account.

The page also offers to create a passkey instead (templates/static/passkeys.js, hidden where
the browser has no WebAuthn or no JavaScript): its two form posts are answered in JSON like the
account page's (web/passkeys.py), ``{"location": ...}`` or ``{"error": ...}``; the rules are in
accounts/invitation_passkeys.py. While registration is ``closed`` these routes answer 404, as
if they did not exist.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from authserver.accounts.invitation_passkeys import (
    accept_invitation_with_passkey,
    invitation_passkey_options,
)
from authserver.accounts.invitations import accept_invitation, find_invitation
from authserver.accounts.registration import invitations_allowed
from authserver.extensions import csrf_exempt
from authserver.models.types import utcnow
from authserver.ratelimit.limits import limit_reset, link_in_path
from authserver.security.errors import (
    InvalidLink,
    InvalidName,
    PasskeyRefused,
    PasswordPolicyError,
)
from authserver.security.passkeys import first_passkey_name
from authserver.security.passwords import min_password_length
from authserver.web.form_errors import add_problems
from authserver.web.forms import ChoosePasswordForm, ConfirmForm
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


# Not rate limited, as the page itself is not: options answer only the holder of a live link
# and let nobody in (unanswered challenges are purged), and a person whose browser prompt was
# cancelled may ask again. The answer below counts like the password form.
@bp.post("/invitation/<token>/passkey/options")
@csrf_exempt  # checked below, as the form's is: see web/link_pages.py
def passkey_options(token: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        return _json({"error": _passkey_not_created()}, 400)
    try:
        options = invitation_passkey_options(token, now=utcnow())
    except InvalidLink:
        return _back_to_page(token)
    return _json(options)


@bp.post("/invitation/<token>/passkey")
@limit_reset(account=link_in_path)
@csrf_exempt  # checked below, as the form's is: see web/link_pages.py
def passkey_submit(token: str) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        return _json({"error": _passkey_not_created()}, 400)
    try:
        accept_invitation_with_passkey(
            token,
            request.form.get("credential", ""),
            passkey_name=first_passkey_name(request.headers.get("User-Agent")),
            now=utcnow(),
        )
    except InvalidLink:
        return _back_to_page(token)
    except (PasskeyRefused, InvalidName):
        return _json({"error": _passkey_not_created()}, 400)
    return _json({"location": url_for("invitation.done_page", way="passkey")})


@bp.get("/invitation/done")
def done_page() -> ResponseReturnValue:
    with_passkey = request.args.get("way") == "passkey"  # only chooses the page's words
    return render_template("invitation_done.html", with_passkey=with_passkey)


def _json(body: dict[str, str] | str, status: int = 200) -> ResponseReturnValue:
    """JSON for templates/static/passkeys.js (``body`` may be JSON text already), kept as
    private as the page: no referrer, no cache."""
    if isinstance(body, str):
        return private_page(Response(body, status, content_type="application/json"))
    return private_page(jsonify(body), status)


def _passkey_not_created() -> str:
    message: str = gettext("The passkey was not created. Please try again, or choose a password.")
    return message


def _back_to_page(token: str) -> ResponseReturnValue:
    """A link that cannot be used (any more): the page itself says so, and what to do."""
    return _json({"location": url_for("invitation.link_page", token=token)}, 400)


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
