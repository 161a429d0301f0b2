"""The landing page: who is signed in on this browser, and a way to sign out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from authserver.accounts.lifecycle import get_user
from authserver.sessions import current_session
from authserver.web.forms import SignOutForm

bp = Blueprint("home", __name__)


@bp.get("/")
def home() -> ResponseReturnValue:
    session = current_session()
    if session is None:
        return redirect(url_for("login.login_page", next="/"), 303)
    user = get_user(session.user_id)
    return render_template("home.html", email=user.email, form=SignOutForm())
