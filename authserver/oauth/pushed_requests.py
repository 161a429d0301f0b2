"""Pushed authorization requests (RFC 9126): keeping what a client pushed, and letting exactly
one browser carry it through the authorization endpoint, once.

The request_uri is ``urn:ietf:params:oauth:request_uri:`` followed by 256 random bits; only the
SHA-256 of the random part is stored. It must be brought to /oauth/authorize within
:data:`EXPIRES_IN_SECONDS` (the ``expires_in`` of the push's answer).

Single use, and a browser's round trips. A person's browser comes back to /oauth/authorize with
the very same URL (client_id and request_uri) after the sign-in page, the second factor and the
consent form, so "refuse the second use" would refuse the person's own flow. Instead, the first
use *claims* the request for the browser that brought it: the row keeps the hash of a random
binding held in that browser's cookie (oauth/pushed_request_cookie.py), and every later visit
must show the same binding. A second browser (someone who copied the URL) is refused. The flow
ends, and the request is spent for good, when anything is sent back to the client: a code, or
an error such as access_denied (the ``used_at`` column, set by a conditional UPDATE, so of two
tabs racing to consent exactly one gets a code).

Why a cookie of its own rather than the browser session: the first visit usually comes before
any sign-in (there is no session yet), and signing in or stepping up to a second factor rotates
the session id; the binding cookie lives across both.

Once claimed, the browser has :data:`CLAIMED_FLOW_SECONDS` to finish: the 60 seconds bound how
long an unused request_uri is worth stealing, not how fast a person types a password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update

from authserver.extensions import db
from authserver.models.clients import Client
from authserver.models.pushed_requests import PushedAuthorizationRequest
from authserver.oauth.authorization_request import (
    MAX_PARAMETER_LENGTH,
    Params,
    PushedRequestClaim,
    UntrustedRedirect,
)

REQUEST_URI_PARAMETER = "request_uri"
# RFC 9126 §2.2: a URN in the namespace the RFC registers.
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
EXPIRES_IN_SECONDS = 60
CLAIMED_FLOW_SECONDS = 1800
# Never stored: they authenticated the push and are no part of the authorization request.
CLIENT_CREDENTIAL_PARAMETERS = frozenset(
    {"client_secret", "client_assertion", "client_assertion_type"}
)
INVALID_REQUEST_URI = "invalid_request_uri"  # OIDC Core §3.1.2.6


class RequestUriRefused(UntrustedRedirect):
    """The request_uri cannot be used by this browser: an error page, never a redirect (RFC
    9126 §4: the redirect URI is among the parameters we cannot trust or no longer serve)."""

    def __init__(self, description: str) -> None:
        super().__init__(INVALID_REQUEST_URI, description)


@dataclass(frozen=True)
class PushedParameters:
    claim: PushedRequestClaim
    parameters: Params


_BY_HASH = select(PushedAuthorizationRequest).where(
    PushedAuthorizationRequest.request_hash == bindparam("request_hash")
)


def is_pushed_request_uri(params: Params) -> bool:
    """The front-channel request names a pushed request (any other request_uri is refused by
    the ordinary checks as request_uri_not_supported)."""
    values = params.get(REQUEST_URI_PARAMETER, [])
    return any(value.startswith(REQUEST_URI_PREFIX) for value in values)


def push_request(client: Client, params: Params, *, now: datetime) -> str:
    """Store validated parameters (without the client's credentials); returns the
    request_uri. Commits."""
    random_part = secrets.token_urlsafe(32)  # 256 bits
    db.session.add(
        PushedAuthorizationRequest(
            request_hash=_hash(random_part),
            client_pk=client.id,
            parameters={
                name: list(values)
                for name, values in params.items()
                if name not in CLIENT_CREDENTIAL_PARAMETERS
            },
            created_at=now,
            expires_at=now + timedelta(seconds=EXPIRES_IN_SECONDS),
        )
    )
    db.session.commit()
    return REQUEST_URI_PREFIX + random_part


def claim_pushed_request(params: Params, browser_hash: str, *, now: datetime) -> PushedParameters:
    """The pushed parameters for this browser, claiming the request on its first use.

    RFC 9126 §4: only the pushed parameters count (every other query parameter is ignored), and
    the client_id sent alongside must be the pushing client's. Commits a first claim.
    """
    if _only(params, "client_id") is None or _only(params, REQUEST_URI_PARAMETER) is None:
        raise RequestUriRefused("The request needs exactly one client_id and one request_uri.")
    row = _find(params)
    if row is None:
        raise RequestUriRefused("This request_uri is unknown, or has expired.")
    if row.used_at is not None:
        raise RequestUriRefused("This request_uri has been used already.")
    if row.expires_at <= now:
        raise RequestUriRefused("This request_uri has expired.")
    if row.browser_hash is None:
        row = _claim(row, browser_hash, now=now)
    if row.browser_hash != browser_hash or row.claimed_at is None:
        raise RequestUriRefused("This request_uri is in use in another browser.")
    claim = PushedRequestClaim(row.id, browser_hash, row.claimed_at)
    return PushedParameters(claim=claim, parameters=row.parameters)


def pushed_parameters(params: Params) -> Params | None:
    """A live pushed request's parameters, without claiming it (for pages that only need to
    know where the flow will end, such as the sign-in page's form-action)."""
    row = _find(params)
    return None if row is None or row.used_at is not None else row.parameters


def spend_pushed_request(claim: PushedRequestClaim, *, now: datetime) -> bool:
    """Mark the request used, in the caller's transaction: False when it was spent already
    (another tab of this browser got there first) and nothing may be sent to the client."""
    result = db.session.execute(
        update(PushedAuthorizationRequest)
        .where(
            PushedAuthorizationRequest.id == claim.request_id,
            PushedAuthorizationRequest.browser_hash == claim.browser_hash,
            PushedAuthorizationRequest.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]  # a CursorResult


def _find(params: Params) -> PushedAuthorizationRequest | None:
    request_uri = _only(params, REQUEST_URI_PARAMETER)
    client_id = _only(params, "client_id")
    if request_uri is None or client_id is None or not request_uri.startswith(REQUEST_URI_PREFIX):
        return None
    random_part = request_uri.removeprefix(REQUEST_URI_PREFIX)
    row: PushedAuthorizationRequest | None = db.session.scalar(
        _BY_HASH, {"request_hash": _hash(random_part)}
    )
    if row is None:
        return None
    client = db.session.get(Client, row.client_pk)
    if client is None or client.client_id != client_id:
        # RFC 9126 §4: the client_id MUST be the one the request was pushed by.
        raise RequestUriRefused("This request_uri was not pushed by this application.")
    return row


def _claim(
    row: PushedAuthorizationRequest, browser_hash: str, *, now: datetime
) -> PushedAuthorizationRequest:
    """First use: bind the request to this browser, unless another got there first."""
    db.session.execute(
        update(PushedAuthorizationRequest)
        .where(
            PushedAuthorizationRequest.id == row.id,
            PushedAuthorizationRequest.browser_hash.is_(None),
            PushedAuthorizationRequest.used_at.is_(None),
        )
        .values(
            browser_hash=browser_hash,
            claimed_at=now,
            expires_at=now + timedelta(seconds=CLAIMED_FLOW_SECONDS),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(row)  # whoever won, the row as stored now
    return row


def _only(params: Params, name: str) -> str | None:
    values = params.get(name, [])
    if len(values) != 1 or len(values[0]) > MAX_PARAMETER_LENGTH or "\x00" in values[0]:
        return None
    return values[0]


def _hash(random_part: str) -> str:
    return hashlib.sha256(random_part.encode()).hexdigest()
