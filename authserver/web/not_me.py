"""The "This wasn't me" link of a new-device notice (accounts/not_me.py does the work).

GET only explains and offers a button (mail scanners fetch links, so GET changes nothing); the
button POSTs the token with a CSRF token, which ends every session and token of the account
and mails a password-reset link; the browser is then sent to a page that says so.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from authserver.accounts.emailed_links import LINK_PATHS, LinkPurpose
from authserver.accounts.not_me import act_on_not_me, is_not_me_link_usable
from authserver.config import current_settings
from authserver.extensions import csrf_exempt
from authserver.mail import send_after_response
from authserver.models.types import utcnow
from authserver.security.errors import InvalidLink
from authserver.web.forms import NotMeForm
from authserver.web.link_pages import form_error, private_page

bp = Blueprint("not_me", __name__)

NOT_ME_PATH = LINK_PATHS[LinkPurpose.NOT_ME]


@bp.get(NOT_ME_PATH + "<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    if not is_not_me_link_usable(token, now=utcnow()):
        return _invalid_link(404)
    return _confirm(NotMeForm(token=token))


@bp.post(NOT_ME_PATH.rstrip("/"))
@csrf_exempt  # the form checks its own CSRF token: see web/link_pages.py
def confirm_submit() -> ResponseReturnValue:
    form = NotMeForm()
    if not form.validate_on_submit():
        token, stale = form.token.data, form_error(form.errors)
        if stale is not None and token and is_not_me_link_usable(token, now=utcnow()):
            # A stale form on a good link: offer the button again rather than a dead end.
            return _confirm(NotMeForm(token=token), error=stale)
        return _invalid_link(400)
    try:
        mail = act_on_not_me(form.token.data, now=utcnow())
    except InvalidLink:
        return _invalid_link(400)
    response = private_page(redirect(url_for("not_me.done_page"), 303))
    send_after_response(response, mail)
    return response


@bp.get(NOT_ME_PATH + "done")
def done_page() -> ResponseReturnValue:
    minutes = max(1, current_settings().reset_token_ttl // 60)
    return private_page(render_template("not_me_done.html", minutes=minutes))


def _confirm(form: NotMeForm, *, error: str | None = None) -> ResponseReturnValue:
    status = 200 if error is None else 400
    return private_page(render_template("not_me.html", form=form, error=error), status)


def _invalid_link(status: int) -> ResponseReturnValue:
    page = render_template(
        "link_invalid.html",
        title=gettext("This link cannot be used"),
        again_url=url_for("reset.request_page"),
        again_label=gettext("Reset your password"),
    )
    return private_page(page, status)
