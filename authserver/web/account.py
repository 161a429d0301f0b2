"""The account page: profile, password, sessions and connected apps of the signed-in user.

Every change is a POST of a CSRF-protected form followed by a redirect back here (303), so a
reload never repeats it. Rules live in accounts/self_service.py, sessions/ and oauth/consents.py.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from authserver.accounts.lifecycle import get_user
from authserver.accounts.self_service import (
    set_password_from_account_page,
    sign_out_everywhere,
    sign_out_session,
    update_profile,
)
from authserver.models import User
from authserver.models.types import utcnow
from authserver.oauth.consents import list_connected_apps, revoke_connected_app
from authserver.oauth.errors import UnknownConsent
from authserver.oauth.scopes import describe_scopes
from authserver.ratelimit.limits import limit_reauthentication
from authserver.security.errors import (
    InvalidName,
    PasswordPolicyError,
    RecentSignInNeeded,
    TooManyAttempts,
    WrongPassword,
)
from authserver.security.mfa.second_factor import get_mfa_status
from authserver.security.passkeys import list_passkeys
from authserver.security.passwords import min_password_length
from authserver.sessions import (
    BrowserSession,
    UnknownSession,
    current_session,
    end_current_session,
    list_active_sessions,
    start_session,
)
from authserver.web.account_forms import (
    AddPasswordForm,
    PasswordChangeForm,
    ProfileForm,
    RevokeAppForm,
    SignOutEverywhereForm,
    SignOutSessionForm,
)
from authserver.web.form_errors import add_password_problems, add_problems
from authserver.web.guards import sign_in_location, signed_in

bp = Blueprint("account", __name__)

MFA_SETUP_PATH = "/account/mfa"  # the MFA pages are their own blueprint
WRONG_CURRENT_PASSWORD = _l("Your current password is not correct.")
# While the account is locked: it is the owner's own session, so saying so gives nothing away.
TOO_MANY_ATTEMPTS = _l("Too many wrong attempts. Try again later.")
BAD_REQUEST = _l("That request could not be understood. Please use the buttons on this page.")


def as_sentence(message: str) -> str:
    """Service errors are lower-case clauses ("password must be ..."); pages show sentences."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def render_account(
    session: BrowserSession,
    *,
    profile_form: ProfileForm | None = None,
    password_form: PasswordChangeForm | AddPasswordForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    user = get_user(session.user_id)
    apps = list_connected_apps(user)
    page = render_template(
        "account.html",
        user=user,
        profile_form=profile_form or ProfileForm(formdata=None, name=user.name),
        password_form=password_form or password_form_for(user)(formdata=None),
        sessions=list_active_sessions(user, now=utcnow(), current_sid=session.sid),
        apps=[(app, describe_scopes(app.scopes)) for app in apps],
        mfa_setup_path=MFA_SETUP_PATH,
        mfa=get_mfa_status(user.id),
        passkeys=list_passkeys(user.id),
        error=error,
        min_length=min_password_length(),
    )
    return page, status


def password_form_for(user: User) -> type[PasswordChangeForm | AddPasswordForm]:
    """Changing a password proves the current one; an account with passkeys only has none."""
    return PasswordChangeForm if user.has_password else AddPasswordForm


@bp.get("/account")
@signed_in
def account_page(session: BrowserSession) -> ResponseReturnValue:
    return render_account(session)


@bp.post("/account/profile")
@signed_in
def profile_submit(session: BrowserSession) -> ResponseReturnValue:
    form = ProfileForm()
    if not form.validate_on_submit():
        return render_account(session, profile_form=form, status=400)
    try:
        update_profile(get_user(session.user_id), name=form.name.data, now=utcnow())
    except InvalidName as error:
        form.name.errors.append(as_sentence(str(error)))
        return render_account(session, profile_form=form, status=400)
    flash(gettext("Your profile was saved."))
    return redirect(url_for("account.account_page"), 303)


def signed_in_email() -> str | None:
    """The signed-in user's address: the per-account key of the sign-in rate limit."""
    session = current_session()
    return None if session is None else get_user(session.user_id).email


@bp.post("/account/password")
@signed_in
@limit_reauthentication(account=signed_in_email)
def password_submit(session: BrowserSession) -> ResponseReturnValue:
    user, now = get_user(session.user_id), utcnow()
    form = password_form_for(user)()
    if not form.validate_on_submit():
        # With the policy's verdict on the new password, so everything is corrected at once.
        if not form.new_password.errors:
            add_password_problems(form.new_password, email=user.email)
        return render_account(session, password_form=form, status=400)
    try:
        set_password_from_account_page(
            user,
            current_password=(
                form.current_password.data if isinstance(form, PasswordChangeForm) else None
            ),
            new_password=form.new_password.data,
            auth_time=session.auth_time,
            now=now,
        )
    except RecentSignInNeeded:
        flash(gettext("For your security, sign in again to add a password."))
        return redirect(sign_in_location(url_for("account.account_page")), 303)
    except WrongPassword:
        form.current_password.errors.append(WRONG_CURRENT_PASSWORD)
        return render_account(session, password_form=form, status=400)
    except TooManyAttempts:
        form.current_password.errors.append(TOO_MANY_ATTEMPTS)
        return render_account(session, password_form=form, status=429)
    except PasswordPolicyError as error:
        add_problems(form.new_password, error.problems)
        return render_account(session, password_form=form, status=400)
    # Everything was ended, this browser's session too; it goes on in a fresh one (new id).
    start_session(user, amr=session.amr, now=now)
    if isinstance(form, AddPasswordForm):
        flash(gettext("Your password was added. Every other device has been signed out."))
    else:
        flash(gettext("Your password was changed. Every other device has been signed out."))
    return redirect(url_for("account.account_page"), 303)


@bp.post("/account/sessions/sign-out")
@signed_in
def sign_out_session_submit(session: BrowserSession) -> ResponseReturnValue:
    form = SignOutSessionForm()
    if not form.validate_on_submit():
        return render_account(session, error=BAD_REQUEST, status=400)
    try:
        sign_out_session(get_user(session.user_id), form.sid.data, now=utcnow())
    except UnknownSession:
        flash(gettext("That session had already ended."))
        return redirect(url_for("account.account_page"), 303)
    if form.sid.data == session.sid:
        end_current_session()  # this browser: forget the cookie as well
        flash(gettext("You have been signed out."))
        return redirect(url_for("login.login_page"), 303)
    flash(gettext("The session was signed out."))
    return redirect(url_for("account.account_page"), 303)


@bp.post("/account/sessions/sign-out-everywhere")
@signed_in
def sign_out_everywhere_submit(session: BrowserSession) -> ResponseReturnValue:
    if not SignOutEverywhereForm().validate_on_submit():
        return render_account(session, error=BAD_REQUEST, status=400)
    sign_out_everywhere(get_user(session.user_id), now=utcnow())
    end_current_session()  # already revoked; this clears the cookie
    flash(gettext("You have been signed out everywhere."))
    return redirect(url_for("login.login_page"), 303)


@bp.post("/account/apps/revoke")
@signed_in
def revoke_app_submit(session: BrowserSession) -> ResponseReturnValue:
    form = RevokeAppForm()
    if not form.validate_on_submit():
        return render_account(session, error=BAD_REQUEST, status=400)
    try:
        revoke_connected_app(get_user(session.user_id), form.client_id.data, now=utcnow())
    except UnknownConsent:
        flash(gettext("That app was not connected to your account."))
        return redirect(url_for("account.account_page"), 303)
    flash(gettext("The app was disconnected. It has to ask for your permission again."))
    return redirect(url_for("account.account_page"), 303)
