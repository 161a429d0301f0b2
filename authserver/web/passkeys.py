"""Passkeys on the account page: adding one (JSON for templates/static/passkeys.js), renaming
and removing them (forms, a confirm page before a removal).

The script posts forms (``csrf_token``, and the browser's answer as JSON text in
``credential``: pages take no JSON bodies, edges/body_types.py) and gets JSON back:
``{"location": ...}`` where the page goes next, or ``{"error": ...}`` with a message to show.
Rules live in security/passkeys.py.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from authserver.accounts.lifecycle import get_user
from authserver.models.types import utcnow
from authserver.security.errors import (
    InvalidName,
    LastWayIn,
    PasskeyRefused,
    RecentSignInNeeded,
    UnknownPasskey,
)
from authserver.security.passkey_ceremonies import registration_options
from authserver.security.passkeys import (
    add_passkey,
    find_passkey_view,
    first_passkey_name,
    is_only_way_in,
    remove_passkey,
    rename_passkey,
)
from authserver.security.recent_sign_in import check_recent_sign_in
from authserver.sessions import BrowserSession
from authserver.web.guards import sign_in_location, signed_in

bp = Blueprint("passkeys", __name__)

ACCOUNT_PATH = "/account"


def json_answer(body: dict[str, Any], status: int = 200) -> ResponseReturnValue:
    return body, status, {"Cache-Control": "no-store"}


def sign_in_again() -> ResponseReturnValue:
    message = gettext("For your security, sign in again to add a passkey.")
    return json_answer({"error": message, "location": sign_in_location(ACCOUNT_PATH)}, 403)


@bp.post("/account/passkeys/options")
@signed_in
def options(session: BrowserSession) -> ResponseReturnValue:
    now = utcnow()
    try:
        check_recent_sign_in(session.auth_time, now=now)
    except RecentSignInNeeded:
        return sign_in_again()
    return (
        registration_options(get_user(session.user_id), now=now),
        200,
        {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
        },
    )


@bp.post("/account/passkeys")
@signed_in
def register(session: BrowserSession) -> ResponseReturnValue:
    credential = request.form.get("credential", "")
    name = first_passkey_name(request.headers.get("User-Agent"))
    try:
        add_passkey(
            get_user(session.user_id),
            credential,
            name=name,
            auth_time=session.auth_time,
            now=utcnow(),
        )
    except RecentSignInNeeded:
        return sign_in_again()
    except (PasskeyRefused, InvalidName):
        return json_answer({"error": gettext("The passkey was not added. Please try again.")}, 400)
    flash(gettext("Your passkey was added. You can sign in with it from now on."))
    return json_answer({"location": url_for("account.account_page")})


@bp.post("/account/passkeys/<int:passkey_id>/name")
@signed_in
def rename(session: BrowserSession, passkey_id: int) -> ResponseReturnValue:
    try:
        rename_passkey(get_user(session.user_id), passkey_id, request.form.get("name", ""))
    except UnknownPasskey:
        flash(gettext("That passkey had already been removed."))
    except InvalidName:
        flash(gettext("A passkey name has at most 64 characters."))
    else:
        flash(gettext("The passkey was renamed."))
    return redirect(url_for("account.account_page"), 303)


@bp.get("/account/passkeys/<int:passkey_id>/remove")
@signed_in
def remove_page(session: BrowserSession, passkey_id: int) -> ResponseReturnValue:
    user = get_user(session.user_id)
    try:
        passkey = find_passkey_view(user, passkey_id)
    except UnknownPasskey:
        flash(gettext("That passkey had already been removed."))
        return redirect(url_for("account.account_page"), 303)
    return render_template(
        "passkey_remove.html",
        passkey=passkey,
        has_password=user.has_password,
        only_way_in=is_only_way_in(user),
    )


@bp.post("/account/passkeys/<int:passkey_id>/remove")
@signed_in
def remove_submit(session: BrowserSession, passkey_id: int) -> ResponseReturnValue:
    try:
        remove_passkey(get_user(session.user_id), passkey_id, via="account")
    except UnknownPasskey:
        flash(gettext("That passkey had already been removed."))
    except LastWayIn:
        flash(
            gettext(
                "The passkey was not removed: it is the only way you can sign in, as your "
                "account has no password. Add a password or another passkey first."
            )
        )
    else:
        flash(gettext("The passkey was removed. It no longer signs you in."))
    return redirect(url_for("account.account_page"), 303)
