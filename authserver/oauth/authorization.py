"""Deciding an authorization request and issuing the authorization code.

The view asks :func:`decide` what to do with a validated request and the browser's session; the
answer is to sign in first, to ask for consent, or a code already issued.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authserver.config import current_settings
from authserver.database_faults import database_unavailability
from authserver.extensions import db
from authserver.models.tokens import AuthorizationCode
from authserver.oauth.authorization_request import AuthorizationRequest, RedirectableError
from authserver.oauth.consents import find_consent, remember_consent
from authserver.oauth.pushed_requests import RequestUriRefused, spend_pushed_request
from authserver.oauth.requested_access import granted_scopes
from authserver.oauth.scopes import format_scope, parse_scope
from authserver.security.mfa.second_factor import is_enrolled
from authserver.sessions import ACR_MFA, ACR_PASSWORD, BrowserSession

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignInRequired:
    """Send the browser to the sign-in page, then back to this request."""


@dataclass(frozen=True)
class SecondFactorRequired:
    """The client demands MFA and the session has none: step up (or enrol first), then resume."""

    is_enrolled: bool


@dataclass(frozen=True)
class ConsentRequired:
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class CodeIssued:
    location: str


Decision = SignInRequired | SecondFactorRequired | ConsentRequired | CodeIssued


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def decide(
    request: AuthorizationRequest, session: BrowserSession | None, *, now: datetime
) -> Decision:
    """OIDC Core §3.1.2.3-4: authenticate (honouring prompt, max_age and a demand for a
    second factor), then consent."""
    if session is not None and is_someone_else(request, session):
        # OIDC Core §3.1.2.1 (id_token_hint) and §3.1.2.6: the client asked about another user
        # than the one signed in here; never answer for the wrong one.
        if "none" in request.prompt:
            raise RedirectableError(
                "login_required", "The signed-in user is not the one id_token_hint names.", request
            )
        return SignInRequired()
    if session is None or _needs_fresh_sign_in(request, session, now=now):
        if "none" in request.prompt:
            raise RedirectableError("login_required", "The user is not signed in.", request)
        return SignInRequired()
    if is_second_factor_missing(request, session):
        if "none" in request.prompt:
            # OIDC Core §3.1.2.6: prompt=none and the user would have to act.
            raise RedirectableError(
                "interaction_required", "This application requires a second factor.", request
            )
        return SecondFactorRequired(is_enrolled=is_enrolled(session.user_id))
    if not _has_consent(request, session):
        if "none" in request.prompt:
            raise RedirectableError("consent_required", "The user has not consented.", request)
        return ConsentRequired(scopes=request.scopes)
    return CodeIssued(location=issue_code(request, session, now=now))


def is_someone_else(request: AuthorizationRequest, session: BrowserSession) -> bool:
    """The request's id_token_hint names another user than the one signed in."""
    return request.hinted_subject is not None and request.hinted_subject != session.user_subject


def _needs_fresh_sign_in(
    request: AuthorizationRequest, session: BrowserSession, *, now: datetime
) -> bool:
    if request.pushed is not None and session.auth_time >= request.pushed.claimed_at:
        # The pushed parameters cannot drop prompt=login or max_age on the way back from the
        # sign-in page as a front-channel request does (authorize_endpoint._sign_in_location):
        # a sign-in since this browser brought the request is the one they asked for.
        return False
    if "login" in request.prompt:
        return True
    if request.max_age is not None:
        # OIDC Core §3.1.2.1: re-authenticate when the last sign-in is older than max_age.
        return now - session.auth_time > timedelta(seconds=request.max_age)
    return False


def is_mfa_demanded(request: AuthorizationRequest) -> bool:
    """The client is registered with require_mfa, or its acr_values accept only the MFA class.

    acr_values is a list of acceptable classes in order of preference (OIDC Core §3.1.2.1):
    a request that also lists the password class is content with a password alone.
    """
    if request.client.require_mfa:
        return True
    return ACR_MFA in request.acr_values and ACR_PASSWORD not in request.acr_values


def is_second_factor_missing(request: AuthorizationRequest, session: BrowserSession) -> bool:
    return is_mfa_demanded(request) and not session.has_second_factor


def _has_consent(request: AuthorizationRequest, session: BrowserSession) -> bool:
    if "consent" in request.prompt:
        # OIDC Core §3.1.2.1: prompt=consent asks, even for a first-party client.
        return False
    if request.client.skip_consent:
        return True
    consent = find_consent(session.user_id, request.client.id)
    return consent is not None and set(request.scopes) <= set(parse_scope(consent.scope))


def grant_consent(request: AuthorizationRequest, session: BrowserSession, *, now: datetime) -> str:
    """The user pressed Allow: remember it (adding to earlier scopes) and issue the code."""
    remember_consent(session, request.client, request.scopes, now=now)
    return issue_code(request, session, now=now)


def deny_consent(request: AuthorizationRequest, *, now: datetime) -> str:
    return final_error_location(
        RedirectableError("access_denied", "The user denied the request.", request), now=now
    )


def final_error_location(error: RedirectableError, *, now: datetime) -> str:
    """An error that ends the request: a pushed request is spent by it too (commits).

    Raises :class:`RequestUriRefused` when the pushed request had ended already.
    """
    if error.request.pushed is not None:
        spend_pushed_request_of(error.request, now=now)
        db.session.commit()
    return error_location(error)


def issue_code(request: AuthorizationRequest, session: BrowserSession, *, now: datetime) -> str:
    """Store a new single-use code (hashed) and return the redirect carrying it; commits."""
    spend_pushed_request_of(request, now=now)
    code = secrets.token_urlsafe(32)  # 256 bits
    db.session.add(
        AuthorizationCode(
            code_hash=hash_code(code),
            grant_id=str(uuid.uuid4()),
            client_pk=request.client.id,
            user_id=session.user_id,
            redirect_uri=request.redirect_uri,
            scope=format_scope(granted_scopes(request.client, request.scopes)),
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            code_challenge_method=request.code_challenge_method,
            resources=list(request.resources),
            session_id=session.sid,
            auth_time=session.auth_time,
            acr=session.acr,
            amr=list(session.amr),
            created_at=now,
            expires_at=now + timedelta(seconds=current_settings().auth_code_ttl),
        )
    )
    db.session.commit()
    return redirect_location(request.redirect_uri, {"code": code, "state": request.state})


def spend_pushed_request_of(request: AuthorizationRequest, *, now: datetime) -> None:
    """RFC 9126 §4 (single use): one outcome per pushed request, in the caller's transaction.

    Raises :class:`RequestUriRefused` when another tab already ended the flow.
    """
    if request.pushed is not None and not spend_pushed_request(request.pushed, now=now):
        db.session.rollback()
        raise RequestUriRefused("This request_uri has been used already.")


def unexpected_failure(exc: Exception, request: AuthorizationRequest) -> RedirectableError:
    """RFC 6749 §4.1.2.1: once the redirect URI is trusted, even our own failures go back to
    the client: `temporarily_unavailable` when the database is busy or unreachable (worth a
    retry), `server_error` for anything else. The details stay in our log: a traceback for a
    bug; a database outage is logged once, when it starts (authserver/outages.py)."""
    db.session.rollback()
    unavailable = database_unavailability(exc)
    if unavailable is None:
        log.exception("authorization request failed for client %s", request.client.client_id)
        return RedirectableError(
            "server_error", "The server could not complete the request.", request
        )
    if not unavailable.is_outage:
        log.warning("authorization request: database busy: %s", unavailable.reason)
    return RedirectableError(
        "temporarily_unavailable", "The server is busy; try again shortly.", request
    )


def error_location(error: RedirectableError) -> str:
    """RFC 6749 §4.1.2.1: the error goes back to the client with `state` (and `iss`)."""
    return redirect_location(
        error.request.redirect_uri,
        {
            "error": error.error,
            "error_description": error.description,
            "state": error.request.state,
        },
    )


def redirect_location(redirect_uri: str, params: dict[str, str | None]) -> str:
    """Add response parameters to the registered URI, keeping its own query (RFC 6749 §3.1.2).

    RFC 9207 §2: every authorization response names the issuer, so a client talking to several
    servers can tell which one answered (mix-up defence).
    """
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, value) for name, value in params.items() if value is not None]
    query.append(("iss", current_settings().issuer))
    return urlunsplit(parts._replace(query=urlencode(query)))
