"""``/account/mfa``: set up an authenticator app, replace recovery codes, remove it.

Without an authenticator the page shows a pending secret (QR code, key, ``otpauth://`` URI) and
asks for a code from the app; only that code makes it count. With one, the page offers new
recovery codes and removal, each after a fresh code. Each form offers a box to sign out every
other browser of the account as well. Recovery codes appear once, in the response that made
them, whose "I have saved them" step (security/mfa/recovery_handover.py) must be confirmed
before the browser goes on to ``next``. Pages that show secrets are never cached.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from authserver.accounts.lifecycle import get_user
from authserver.models import User
from authserver.models.types import utcnow
from authserver.ratelimit.limits import limit_mfa
from authserver.security.errors import (
    InvalidMfaCode,
    MalformedMfaCode,
    MfaAlreadyEnrolled,
    MfaNotEnrolled,
    TooManyAttempts,
)
from authserver.security.mfa.codes import RECOVERY_CODE_COUNT
from authserver.security.mfa.recovery_handover import (
    Handover,
    HandoverExpired,
    RecoveryCodesNotConfirmed,
    confirm_saved,
    hand_over,
)
from authserver.security.mfa.second_factor import (
    begin_enrolment,
    confirm_enrolment,
    get_mfa_status,
    regenerate_recovery_codes,
    remove_mfa,
    totp_issuer,
)
from authserver.security.redirects import safe_redirect_target
from authserver.security.sign_in import amr_with_one_time_code
from authserver.sessions import current_session, start_session
from authserver.web.errors import render_http_error
from authserver.web.forms import MfaChangeForm, RecoveryCodesSavedForm
from authserver.web.guards import sign_in_required
from authserver.web.mfa import (
    EXPIRED_FORM,
    INVALID_CODE,
    MALFORMED_CODE,
    SETUP_PATH,
    TOO_MANY_ATTEMPTS,
    challenged_account,
)
from authserver.web.qr import qr_code_svg

bp = Blueprint("mfa_setup", __name__)

WRONG_ENROLMENT_CODE = _l(
    "That code does not match. Check that your phone's clock is right and enter the code the "
    "app shows now."
)
ENROLMENT_CODE_SHAPE = _l("Enter the 6-digit code your authenticator app shows.")
ACTIONS = ("enrol", "regenerate", "remove")
CODES_SAVED_PATH = SETUP_PATH + "/recovery-codes"
NOT_CONFIRMED = lazy_gettext(
    "Tick the box to confirm that you have saved your recovery codes, then continue."
)


@bp.get(SETUP_PATH)
@sign_in_required
def setup_page() -> ResponseReturnValue:
    form = MfaChangeForm(next=request.args.get("next", ""))
    return _page(_signed_in_user(), form)


@bp.post(SETUP_PATH)
@sign_in_required
@limit_mfa(account=challenged_account)
def setup_submit() -> ResponseReturnValue:
    user = _signed_in_user()
    form = MfaChangeForm()
    action = request.form.get("action", "enrol")
    if action not in ACTIONS or not form.validate_on_submit():
        return _page(user, form, status=400)
    # Asked for with the checkbox: every other browser of the account is signed out.
    keep_only = _current_sid() if form.sign_out_others.data else None
    try:
        if action == "enrol":
            return _enrol(user, form, keep_only)
        if action == "regenerate":
            codes = regenerate_recovery_codes(
                user, form.code.data, now=utcnow(), end_sessions_except=keep_only
            )
            handover = hand_over(codes, sid=_current_sid(), now=utcnow())
            return _show_recovery_codes(user, handover, form.next.data, replaced=True)
        remove_mfa(user, form.code.data, now=utcnow(), end_sessions_except=keep_only)
        return _no_store(render_template("mfa_removed.html", has_password=user.has_password))
    except MalformedMfaCode:
        return _page(user, form, error=MALFORMED_CODE, status=400)
    except InvalidMfaCode:
        return _page(user, form, error=INVALID_CODE, status=401)
    except TooManyAttempts:
        return _page(user, form, error=TOO_MANY_ATTEMPTS, status=429)
    except (MfaAlreadyEnrolled, MfaNotEnrolled):
        # Changed in another tab meanwhile: show the page as it is now.
        return redirect(url_for("mfa_setup.setup_page"), 303)


@bp.post(CODES_SAVED_PATH)
@sign_in_required
def codes_saved() -> ResponseReturnValue:
    """The "I have saved them" step: only a ticked box goes on to where the browser was headed."""
    user = _signed_in_user()
    form = RecoveryCodesSavedForm()
    if not form.validate_on_submit():
        return redirect(url_for("mfa_setup.setup_page"), 303)
    try:
        confirm_saved(
            form.handover.data, is_confirmed=form.saved.data, sid=_current_sid(), now=utcnow()
        )
    except RecoveryCodesNotConfirmed as unconfirmed:
        replaced = form.replaced.data == "yes"
        return _show_recovery_codes(
            user, unconfirmed.handover, form.next.data, replaced=replaced, error=str(NOT_CONFIRMED)
        )
    except HandoverExpired:
        # The codes still work; the account's MFA page says how many and makes new ones.
        flash(gettext("Those recovery codes can no longer be shown. They still work."))
        return redirect(url_for("mfa_setup.setup_page"), 303)
    return redirect(safe_redirect_target(form.next.data, default=SETUP_PATH), 303)


@bp.errorhandler(CSRFError)
def csrf_failure(error: CSRFError) -> ResponseReturnValue:
    """A stale form: show the page again with a fresh token, not an error page."""
    session = current_session()
    if request.endpoint != "mfa_setup.setup_submit" or session is None:
        return render_http_error(error)
    form = MfaChangeForm(next=request.form.get("next", ""))
    return _page(get_user(session.user_id), form, error=EXPIRED_FORM, status=400)


def _enrol(user: User, form: MfaChangeForm, keep_only: str | None) -> ResponseReturnValue:
    try:
        codes = confirm_enrolment(user, form.code.data, now=utcnow(), end_sessions_except=keep_only)
    except MalformedMfaCode:
        return _page(user, form, error=ENROLMENT_CODE_SHAPE, status=400)
    except InvalidMfaCode:
        return _page(user, form, error=WRONG_ENROLMENT_CODE, status=400)
    # The browser has just shown both factors: its session now says so (and gets a new id).
    session = current_session()
    assert session is not None  # sign_in_required
    renewed = start_session(user, amr=amr_with_one_time_code(session.amr))
    handover = hand_over(codes, sid=renewed.sid, now=utcnow())
    return _show_recovery_codes(user, handover, form.next.data, replaced=False)


def _page(
    user: User, form: MfaChangeForm, *, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    if not get_mfa_status(user.id).is_enrolled:
        try:
            key = begin_enrolment(user, now=utcnow())
        except MfaAlreadyEnrolled:
            pass  # set up in another tab a moment ago: show what there is now
        else:
            qr_code = qr_code_svg(key.uri, label="QR code for your authenticator app")
            page = render_template(
                "mfa_setup.html", form=form, key=key, qr_code=qr_code, error=error
            )
            return _no_store(page, status)
    page = render_template(
        "mfa_manage.html", form=form, status=get_mfa_status(user.id), error=error
    )
    return _no_store(page, status)


def _show_recovery_codes(
    user: User, handover: Handover, next_target: str, *, replaced: bool, error: str | None = None
) -> Response:
    # Filled from these values only, never from the request that led here.
    form = RecoveryCodesSavedForm(
        formdata=None,
        handover=handover.sealed,
        replaced="yes" if replaced else "",
        next=safe_redirect_target(next_target, default=SETUP_PATH),
    )
    page = render_template(
        "mfa_recovery_codes.html",
        form=form,
        codes=handover.codes,
        count=RECOVERY_CODE_COUNT,
        replaced=replaced,
        account=user.email,
        issuer=totp_issuer(),
        error=error,
    )
    return _no_store(page, 400 if error else 200)


def _no_store(page: str, status: int = 200) -> Response:
    # Secrets and one-time codes must not stay in a browser or proxy cache.
    headers = {"Cache-Control": "no-store"}
    return Response(page, status=status, headers=headers, mimetype="text/html")


def _signed_in_user() -> User:
    session = current_session()
    assert session is not None  # sign_in_required
    return get_user(session.user_id)


def _current_sid() -> str:
    session = current_session()
    assert session is not None  # sign_in_required
    return session.sid
