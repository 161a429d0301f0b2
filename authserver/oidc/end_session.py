"""GET/POST /oauth/logout: RP-initiated logout, with a confirmation page when unproven."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from authserver.accounts.lifecycle import get_user
from authserver.audit.events import EventTag, record_event
from authserver.edges.csp import allow_form_redirects
from authserver.extensions import csrf_exempt, db
from authserver.oidc.logout_request import LogoutRequest, LogoutRequestError, parse_logout_request
from authserver.sessions import current_session, end_current_session

bp = Blueprint("end_session", __name__)


@bp.route("/oauth/logout", methods=["GET", "POST"])
@csrf_exempt  # §2: relying parties may POST here from their own pages; nothing ends unproven
def end_session() -> ResponseReturnValue:
    source = request.form if request.method == "POST" else request.args
    params = {name: source.getlist(name) for name in source}
    try:
        logout = parse_logout_request(params)
    except LogoutRequestError as error:
        return render_template("logout_error.html", message=str(error)), 400
    session = current_session()
    # A valid id_token_hint naming the signed-in user proves the RP asked; otherwise a page
    # from anywhere could sign people out, so the user confirms (§2, "SHOULD ask").
    if session is not None and logout.hinted_subject != session.user_subject:
        # Confirming ends in a redirect to the verified post_logout_redirect_uri, if any.
        allow_form_redirects(logout.post_logout_redirect_uri)
        return render_template(
            "logout_confirm.html",
            logout_request=urlencode(params, doseq=True),
            client_name=logout.client.name if logout.client is not None else None,
            account_email=get_user(session.user_id).email,
            stay_location=_stay_signed_in_location(logout),
        )
    return _finish(logout)


@bp.post("/oauth/logout/confirm")
def confirm() -> ResponseReturnValue:
    """The confirmation form (CSRF-protected) carries the original request back."""
    params = parse_qs(request.form.get("logout_request", ""), keep_blank_values=True)
    try:
        logout = parse_logout_request(params)
    except LogoutRequestError as error:
        return render_template("logout_error.html", message=str(error)), 400
    return _finish(logout)


def _stay_signed_in_location(logout: LogoutRequest) -> str:
    """Where "Stay signed in" goes: back to the application, or else the account page.

    The post_logout_redirect_uri is used only once verified against the client's registered
    URIs by exact comparison (RP-Initiated Logout §3 "MUST"); an unverified one is never a
    destination (an open redirect). Going back there without signing out is right: the RP
    already ended its own session before sending the browser here and waits at that URI, and
    `state` lets it match the return to its request. Without a verified URI there is no safe
    place in the application to return to, so the person lands on their account page.
    """
    return logout.completion_location() or url_for("account.account_page")


def _finish(logout: LogoutRequest) -> ResponseReturnValue:
    ended = end_current_session()
    if ended is not None:
        record_event(
            EventTag.LOGOUT,
            user_subject=ended.user_subject,
            client_id=logout.client.client_id if logout.client else None,
        )
        db.session.commit()
    location = logout.completion_location()
    if location is not None:
        return redirect(location, 302)
    client_name = logout.client.name if logout.client is not None else None
    return render_template("logged_out.html", client_name=client_name)
