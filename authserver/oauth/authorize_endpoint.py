"""GET/POST /oauth/authorize and the consent decision (RFC 6749 §4.1.1, OIDC Core §3.1.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from authserver.accounts.lifecycle import get_user
from authserver.edges.csp import allow_form_redirects
from authserver.extensions import csrf_exempt
from authserver.oauth.apis import api_names
from authserver.oauth.authorization import (
    CodeIssued,
    ConsentRequired,
    SecondFactorRequired,
    SignInRequired,
    decide,
    deny_consent,
    error_location,
    final_error_location,
    grant_consent,
    is_second_factor_missing,
    is_someone_else,
    unexpected_failure,
)
from authserver.oauth.authorization_request import (
    AuthorizationRequest,
    Params,
    RedirectableError,
    UntrustedRedirect,
    parse_authorization_request,
    verified_redirect_uri,
)
from authserver.oauth.clients import find_client
from authserver.oauth.pushed_request_cookie import browser_binding_hash, write_browser_binding
from authserver.oauth.pushed_requests import (
    claim_pushed_request,
    is_pushed_request_uri,
    pushed_parameters,
)
from authserver.oauth.scopes import describe_scopes
from authserver.sessions import BrowserSession, current_session

bp = Blueprint("authorize", __name__)
bp.after_request(write_browser_binding)

AUTHORIZE_PATH = "/oauth/authorize"
SIGN_IN_PATH = "/login"
MFA_CHALLENGE_PATH = "/mfa"
MFA_SETUP_PATH = "/account/mfa"


@bp.route(AUTHORIZE_PATH, methods=["GET", "POST"])
@csrf_exempt  # OIDC Core §3.1.2.1: relying parties may POST the request from their own pages
def authorize() -> ResponseReturnValue:
    params = _request_params()
    now = datetime.now(UTC)
    try:
        auth_request = _parsed(params, now=now)
    except UntrustedRedirect as error:
        return _error_page(error)
    except RedirectableError as error:
        return _redirect_error(error, now=now)
    try:
        decision = decide(auth_request, current_session(), now=now)
    except UntrustedRedirect as error:  # the pushed request was spent meanwhile (another tab)
        return _error_page(error)
    except RedirectableError as error:
        return _redirect_error(error, now=now)
    except Exception as exc:
        return redirect(error_location(unexpected_failure(exc, auth_request)), 302)
    if isinstance(decision, SignInRequired):
        return redirect(_sign_in_location(params, auth_request), 302)
    if isinstance(decision, SecondFactorRequired):
        return redirect(_second_factor_location(params, decision), 302)
    if isinstance(decision, ConsentRequired):
        return _consent_page(auth_request, params, current_session())
    assert isinstance(decision, CodeIssued)
    return redirect(decision.location, 302)


@bp.post(AUTHORIZE_PATH + "/consent")
def consent_decision() -> ResponseReturnValue:
    """The consent form posts back here (CSRF-protected) with the original request."""
    params: Params = parse_qs(request.form.get("authorization_request", ""), keep_blank_values=True)
    now = datetime.now(UTC)
    try:
        auth_request = _parsed(params, now=now)
    except UntrustedRedirect as error:
        return _error_page(error)
    except RedirectableError as error:
        return _redirect_error(error, now=now)
    session = current_session()
    if session is None:
        return redirect(_sign_in_location(params, auth_request), 302)
    if is_second_factor_missing(auth_request, session) or is_someone_else(auth_request, session):
        # Consent cannot stand in for the second factor, nor answer for a user the hint does
        # not name: back through the request's checks.
        return redirect(_resume_location(params), 302)
    try:
        if request.form.get("decision") != "allow":
            return redirect(deny_consent(auth_request, now=now), 302)
        return redirect(grant_consent(auth_request, session, now=now), 302)
    except UntrustedRedirect as error:
        return _error_page(error)
    except Exception as exc:
        return redirect(error_location(unexpected_failure(exc, auth_request)), 302)


def requesting_client_name(next_target: str | None) -> str | None:
    """The registered name of the client whose request ``next`` continues, for "Sign in to
    continue to ...". Only a name from the client table, found by a valid client_id and
    redirect URI: never text from the URL, which anyone can write."""
    params = _pending_params(next_target)
    if params is None or verified_redirect_uri(params) is None:
        return None
    client = find_client(params["client_id"][0])
    return client.name if client is not None else None


def client_redirect_uri_after(next_target: str | None) -> str | None:
    """Where a page's form may end up when its ``next`` continues an authorization request.

    Sign-in and the second factor redirect to ``next``; when that is this endpoint, it
    redirects on to the client's redirect URI, and the page's CSP form-action must allow it.
    """
    params = _pending_params(next_target)
    return verified_redirect_uri(params) if params is not None else None


def _pending_params(next_target: str | None) -> Params | None:
    """The parameters of the authorization request a local ``next`` URL resumes, if any."""
    if not next_target:
        return None
    parts = urlsplit(next_target)
    if parts.scheme or parts.netloc or parts.path != AUTHORIZE_PATH:
        return None
    params: Params = parse_qs(parts.query, keep_blank_values=True)
    if is_pushed_request_uri(params):
        try:
            return pushed_parameters(params)
        except UntrustedRedirect:
            return None
    return params


def _parsed(params: Params, *, now: datetime) -> AuthorizationRequest:
    """The request to act on: the pushed parameters when the browser brings a request_uri
    (RFC 9126 §4: the other query parameters are then ignored), else the query's own."""
    if not is_pushed_request_uri(params):
        return parse_authorization_request(params)
    pushed = claim_pushed_request(params, browser_binding_hash(), now=now)
    return parse_authorization_request(pushed.parameters, pushed=pushed.claim)


def _redirect_error(error: RedirectableError, *, now: datetime) -> ResponseReturnValue:
    try:
        return redirect(final_error_location(error, now=now), 302)
    except UntrustedRedirect as refused:
        return _error_page(refused)


def _request_params() -> Params:
    # OIDC Core §3.1.2.1: GET with a query string, or POST with a form body.
    source = request.form if request.method == "POST" else request.args
    params = {name: source.getlist(name) for name in source}
    if is_pushed_request_uri(params):
        # RFC 9126 §4: beside a pushed request's reference every parameter is ignored, so none
        # is carried on to the sign-in page, the consent form or the resumed request either.
        return {name: params[name] for name in ("client_id", "request_uri") if name in params}
    return params


def _error_page(error: UntrustedRedirect) -> ResponseReturnValue:
    return render_template("authorize_error.html", error=error), 400


def _sign_in_location(params: Params, auth_request: AuthorizationRequest) -> str:
    """Sign in, then come back to this same request.

    prompt=login and max_age are dropped from the resumed request: the sign-in they asked for
    has just happened, and keeping them would send the user round again forever (max_age=0).
    The ID token's auth_time still tells the client when that was (OIDC Core §3.1.2.1).
    """
    resumed = {name: values for name, values in params.items() if name not in ("prompt", "max_age")}
    remaining_prompt = sorted(auth_request.prompt - {"login"})
    if remaining_prompt and auth_request.pushed is None:
        resumed["prompt"] = [" ".join(remaining_prompt)]
    next_url = AUTHORIZE_PATH + "?" + urlencode(resumed, doseq=True)
    sign_in: dict[str, str] = {"next": next_url}
    if auth_request.login_hint:
        sign_in["login_hint"] = auth_request.login_hint
    return SIGN_IN_PATH + "?" + urlencode(sign_in)


def _resume_location(params: Params) -> str:
    return AUTHORIZE_PATH + "?" + urlencode(params, doseq=True)


def _second_factor_location(params: Params, decision: SecondFactorRequired) -> str:
    """The challenge page for an enrolled user, else the set-up page; then this request again."""
    page = MFA_CHALLENGE_PATH if decision.is_enrolled else MFA_SETUP_PATH
    return page + "?" + urlencode({"next": _resume_location(params)})


def _consent_page(
    auth_request: AuthorizationRequest, params: Params, session: BrowserSession | None
) -> ResponseReturnValue:
    # Allow and Deny both end in a redirect to the client.
    allow_form_redirects(auth_request.redirect_uri)
    return render_template(
        "consent.html",
        # "Not you?" signs out and resumes this same request, which then asks for a sign-in.
        account_email=get_user(session.user_id).email if session is not None else None,
        not_you_next=_resume_location(params),
        client_name=auth_request.client.name,
        scopes=describe_scopes(auth_request.scopes),
        api_names=api_names(auth_request.resources),
        form_action=url_for("authorize.consent_decision"),
        hidden_fields=[("authorization_request", urlencode(params, doseq=True))],
    )
