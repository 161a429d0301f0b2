"""Email verification pages: the emailed link shows a button; pressing it verifies."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from authserver.accounts.email_verification import check_verification_link, verify_email
from authserver.extensions import csrf_exempt
from authserver.models.types import utcnow
from authserver.ratelimit.limits import limit_reset, link_in_path
from authserver.security.errors import InvalidLink
from authserver.web.forms import ConfirmForm
from authserver.web.link_pages import form_error, private_page

bp = Blueprint("verify_email", __name__)


@bp.get("/verify-email/<token>")
def link_page(token: str) -> ResponseReturnValue:
    # Only a page: mail scanners fetch links, and a GET must not verify anything.
    try:
        check_verification_link(token, now=utcnow())
    except InvalidLink:
        return _invalid_link()
    return _confirm_form(ConfirmForm(), token)


@bp.post("/verify-email/<token>")
@limit_reset(account=link_in_path)
@csrf_exempt  # the form checks its own CSRF token: see web/link_pages.py
def link_submit(token: str) -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _confirm_form(form, token, error=form_error(form.errors), status=400)
    try:
        verified = verify_email(token, now=utcnow())
    except InvalidLink:
        return _invalid_link()
    # A sign-up from within an OAuth flow goes back to it (sign-in first, as usual).
    target = verified.next_target or url_for("verify_email.done_page")
    return private_page(redirect(target, 303))


@bp.get("/verify-email/done")
def done_page() -> ResponseReturnValue:
    return render_template("verify_email_done.html")


def _confirm_form(
    form: ConfirmForm, token: str, *, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    page = render_template("verify_email.html", form=form, token=token, error=error)
    return private_page(page, status)


def _invalid_link() -> ResponseReturnValue:
    page = render_template(
        "link_invalid.html",
        title=gettext("This verification link cannot be used"),
        again_url=None,
        again_label=None,
    )
    return private_page(page, 400)
