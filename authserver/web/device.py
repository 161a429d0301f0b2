"""The verification pages of the device authorization grant (RFC 8628 §3.3).

``/device`` takes the code a device shows (``?user_code=`` fills it in, RFC 8628 §3.3.1, but
the person still presses Continue). A code that can be used leads to ``/device/confirm``
with a signed ticket for the request (never the code itself), through sign-in and any second
factor the client demands, to the consent page; the answer approves or denies the device's
request, and a last page says the device may continue (or not). ``/device/qr`` draws the
complete verification URI as a QR code.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from authserver.accounts.lifecycle import get_user
from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.device_codes import DeviceCode
from authserver.models.types import utcnow
from authserver.oauth.apis import api_names
from authserver.oauth.device_authorization import verification_uri, verification_uri_complete
from authserver.oauth.device_codes import (
    DeviceRequestGone,
    InvalidUserCode,
    decide_device_request,
    find_request_for_ticket,
    find_request_for_user_code,
    verification_ticket,
)
from authserver.oauth.scopes import describe_scopes, parse_scope
from authserver.oauth.user_codes import MAX_INPUT_LENGTH, display, normalise
from authserver.ratelimit.limits import limit_user_code
from authserver.security.mfa.second_factor import is_enrolled
from authserver.sessions import BrowserSession, current_session
from authserver.web.forms import DeviceCodeForm
from authserver.web.guards import current_path, signed_in
from authserver.web.qr import qr_code_svg

bp = Blueprint("device", __name__)

# One message for a code that is wrong, expired or already used: it tells a guesser nothing.
WRONG_CODE = _l(
    "That code is not valid or has expired. Check the code on your device and try again."
)
MFA_CHALLENGE_PATH = "/mfa"
MFA_SETUP_PATH = "/account/mfa"
# The pages' URLs may hold a user code: no Referer may carry it away, no cache keep it.
PRIVATE_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@bp.get("/device")
def code_page() -> ResponseReturnValue:
    entered = request.args.get("user_code", "")[:MAX_INPUT_LENGTH]
    code = normalise(entered)
    form = DeviceCodeForm(user_code=display(code) if code is not None else entered)
    return render_template("device.html", form=form), 200, PRIVATE_PAGE_HEADERS


@bp.post("/device")
@limit_user_code
def code_submit() -> ResponseReturnValue:
    form = DeviceCodeForm()
    if not form.validate_on_submit():
        return render_template("device.html", form=form, error=WRONG_CODE), 400
    session = current_session()
    try:
        row = find_request_for_user_code(
            form.user_code.data,
            now=utcnow(),
            user_subject=session.user_subject if session is not None else None,
        )
    except InvalidUserCode:
        return render_template("device.html", form=form, error=WRONG_CODE), 400
    ticket = verification_ticket(row)
    return redirect(url_for("device.confirm_page", request=ticket), 303)


@bp.get("/device/confirm")
@signed_in
def confirm_page(session: BrowserSession) -> ResponseReturnValue:
    ticket = request.args.get("request", "")
    try:
        row = find_request_for_ticket(ticket, now=utcnow())
    except DeviceRequestGone:
        return render_template("device_done.html", state="gone"), 400
    client = _client_of(row)
    if client.require_mfa and not session.has_second_factor:
        return redirect(_second_factor_location(session, current_path()), 303)
    return render_template(
        "consent.html",
        client_name=client.name,
        scopes=describe_scopes(parse_scope(row.scope)),
        api_names=api_names(tuple(row.resources)),
        form_action=url_for("device.decision"),
        hidden_fields=[("request", ticket)],
        for_device=True,
        # "Not you?" signs out and comes back to this page, which asks for a sign-in first.
        account_email=get_user(session.user_id).email,
        not_you_next=current_path(),
    )


@bp.post("/device/confirm")
@signed_in
def decision(session: BrowserSession) -> ResponseReturnValue:
    ticket = request.form.get("request", "")
    now = utcnow()
    try:
        row = find_request_for_ticket(ticket, now=now)
    except DeviceRequestGone:
        return render_template("device_done.html", state="gone"), 400
    client = _client_of(row)
    confirm_path = url_for("device.confirm_page", request=ticket)
    if client.require_mfa and not session.has_second_factor:
        # The consent form cannot stand in for the second factor the client demands.
        return redirect(_second_factor_location(session, confirm_path), 303)
    approve = request.form.get("decision") == "allow"
    try:
        decide_device_request(row, session, approve=approve, now=now)
    except DeviceRequestGone:
        return render_template("device_done.html", state="gone"), 400
    state = "approved" if approve else "denied"
    return render_template("device_done.html", state=state, client_name=client.name)


@bp.get("/device/qr")
def qr_page() -> ResponseReturnValue:
    """The complete verification URI as a QR code, for a well-formed code.

    The code is not looked up: the page shows whatever well-formed code it is given, so it
    says nothing about which codes exist and cannot be used to guess them. What it shows is
    only what the URL already holds; the person still signs in and confirms on the page the
    code leads to (RFC 8628 §5.4, remote phishing).
    """
    code = normalise(request.args.get("user_code", ""))
    if code is None:
        return render_template("device_done.html", state="gone"), 400, PRIVATE_PAGE_HEADERS
    user_code = display(code)
    uri = verification_uri_complete(user_code)
    page = render_template(
        "device_qr.html",
        user_code=user_code,
        verification_uri=verification_uri(),
        qr=qr_code_svg(uri, label=f"QR code for {uri}"),
    )
    return page, 200, PRIVATE_PAGE_HEADERS


def _client_of(row: DeviceCode) -> Client:
    client = db.session.get(Client, row.client_pk)
    assert client is not None  # the foreign key cascades: no request outlives its client
    return client


def _second_factor_location(session: BrowserSession, next_path: str) -> str:
    """The challenge page for an enrolled user, else the set-up page; then back here."""
    page = MFA_CHALLENGE_PATH if is_enrolled(session.user_id) else MFA_SETUP_PATH
    return page + "?" + urlencode({"next": next_path})
