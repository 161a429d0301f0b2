"""The "Your data" part of the account page: download everything, or delete the account.

Rules live in accounts/export.py and accounts/deletion.py; the CLI calls the same ones.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from authserver.accounts.deletion import check_may_ask_to_delete, delete_own_account
from authserver.accounts.export import export_account, render_export
from authserver.accounts.lifecycle import get_user
from authserver.models import User
from authserver.models.types import utcnow
from authserver.ratelimit.limits import limit_reauthentication
from authserver.security.errors import (
    InvalidMfaCode,
    MalformedMfaCode,
    RecentSignInNeeded,
    TooManyAttempts,
    WrongPassword,
)
from authserver.security.mfa.second_factor import is_enrolled
from authserver.sessions import BrowserSession, end_current_session
from authserver.web.account import (
    BAD_REQUEST,
    TOO_MANY_ATTEMPTS,
    WRONG_CURRENT_PASSWORD,
    as_sentence,
    render_account,
    signed_in_email,
)
from authserver.web.guards import sign_in_location, signed_in
from authserver.web.privacy_forms import DeleteAccountForm, DeletePasskeyAccountForm, ExportForm

bp = Blueprint("account_privacy", __name__)

NO_STORE = {"Cache-Control": "no-store"}
CODE_NEEDED = _l(
    "Enter the 6-digit code from your authenticator app, or one of your recovery codes."
)
WRONG_CODE = _l("That code is not valid.")


@bp.post("/account/export")
@signed_in
def export_download(session: BrowserSession) -> ResponseReturnValue:
    if not ExportForm().validate_on_submit():
        return render_account(session, error=BAD_REQUEST, status=400)
    now = utcnow()
    document = export_account(get_user(session.user_id), now=now, via="account-page")
    return Response(
        render_export(document) + "\n",
        mimetype="application/json",
        headers={
            # Personal data: a download, never kept by a browser or proxy cache.
            "Content-Disposition": f'attachment; filename="account-data-{now:%Y-%m-%d}.json"',
            **NO_STORE,
        },
    )


DeleteForm = DeleteAccountForm | DeletePasskeyAccountForm


def delete_form_for(user: User) -> type[DeleteForm]:
    """The current password is asked again; an account with passkeys only has none."""
    return DeleteAccountForm if user.has_password else DeletePasskeyAccountForm


def render_delete_page(
    session: BrowserSession, form: DeleteForm | None = None, *, status: int = 200
) -> ResponseReturnValue:
    user = get_user(session.user_id)
    page = render_template(
        "account_delete.html",
        user=user,
        form=form or delete_form_for(user)(formdata=None),
        asks_code=is_enrolled(user.id),
    )
    return page, status, NO_STORE


def sign_in_again() -> ResponseReturnValue:
    """An account without a password proves itself by signing in again (with its passkey)."""
    flash(gettext("For your security, sign in again to delete your account."))
    return redirect(sign_in_location(url_for("account_privacy.delete_page")), 303)


@bp.get("/account/delete")
@signed_in
def delete_page(session: BrowserSession) -> ResponseReturnValue:
    try:
        check_may_ask_to_delete(
            get_user(session.user_id), auth_time=session.auth_time, now=utcnow()
        )
    except RecentSignInNeeded:
        return sign_in_again()
    return render_delete_page(session)


@bp.post("/account/delete")
@signed_in
@limit_reauthentication(account=signed_in_email)
def delete_submit(session: BrowserSession) -> ResponseReturnValue:
    user = get_user(session.user_id)
    form = delete_form_for(user)()
    if not form.validate_on_submit():
        return render_delete_page(session, form, status=400)
    try:
        delete_own_account(
            user,
            password=form.password.data if isinstance(form, DeleteAccountForm) else None,
            code=form.code.data,
            auth_time=session.auth_time,
            now=utcnow(),
        )
    except RecentSignInNeeded:
        return sign_in_again()
    except WrongPassword:
        form.password.errors.append(WRONG_CURRENT_PASSWORD)
        return render_delete_page(session, form, status=400)
    except TooManyAttempts:
        form.password.errors.append(TOO_MANY_ATTEMPTS)
        return render_delete_page(session, form, status=429)
    except MalformedMfaCode as error:
        form.code.errors.append(CODE_NEEDED if not form.code.data else as_sentence(str(error)))
        return render_delete_page(session, form, status=400)
    except InvalidMfaCode:
        form.code.errors.append(WRONG_CODE)
        return render_delete_page(session, form, status=400)
    end_current_session()  # the session is gone with the account; this clears the cookie
    return redirect(url_for("account_privacy.deleted_page"), 303)


@bp.get("/account/deleted")
def deleted_page() -> ResponseReturnValue:
    return render_template("account_deleted.html"), 200, NO_STORE
