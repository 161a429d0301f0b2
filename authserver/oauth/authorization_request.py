"""Validating an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).

The checks run in two phases. Until the client and its redirect URI are established, nothing can
be sent back to the client, so failures raise :class:`UntrustedRedirect` and the user sees an
error page (RFC 6749 §4.1.2.1, RFC 9700 §4.1). Every later failure raises
:class:`RedirectableError`, which is sent to the verified redirect URI with `error` and `state`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from authlib.oauth2.rfc6749.errors import OAuth2Error

from authserver.config import current_settings
from authserver.models.clients import Client
from authserver.oauth.clients import find_client
from authserver.oauth.redirect_uris import matches_registered, request_problem
from authserver.oauth.request_checks import quoted_parameter, repeated_parameter_description
from authserver.oauth.requested_access import requested_resources, requested_scopes
from authserver.oauth.resources import RESOURCE_PARAMETER
from authserver.oauth.scopes import OPENID, parse_scope
from authserver.oidc.id_token_hint import InvalidIdTokenHint, verified_id_token_hint

# Every value of every parameter, as received (a repeated parameter has several).
Params = Mapping[str, Sequence[str]]
MAX_PARAMETER_LENGTH = 2048
PROMPT_VALUES = frozenset({"none", "login", "consent"})
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is always 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # used with fullmatch


class UntrustedRedirect(Exception):
    """The request cannot be answered by redirect; show `description` on an error page."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class RedirectableError(Exception):
    """An RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 error for the client's redirect URI."""

    def __init__(self, error: str, description: str, request: AuthorizationRequest) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.request = request


@dataclass(frozen=True)
class PushedRequestClaim:
    """A pushed request (RFC 9126) that this browser carries: which one, and since when."""

    request_id: int
    browser_hash: str
    claimed_at: datetime


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...] = ()
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None
    # OIDC Core §3.1.2.1: requested authentication context classes, in order of preference.
    acr_values: tuple[str, ...] = ()
    # The `sub` of a verified id_token_hint: the user the client expects to be signed in.
    hinted_subject: str | None = None
    # RFC 8707 §2: the APIs (identifiers) the client wants tokens for; () for the issuer.
    resources: tuple[str, ...] = ()
    # Set when the parameters came from a pushed request (RFC 9126 §4) claimed by this browser.
    pushed: PushedRequestClaim | None = None

    @property
    def is_openid(self) -> bool:
        return OPENID in self.scopes


def parse_authorization_request(
    params: Params, *, pushed: PushedRequestClaim | None = None, is_push: bool = False
) -> AuthorizationRequest:
    """Validate the request's parameters (every value list as received) in the spec's order.

    ``pushed``: the parameters are a pushed request's, brought by this browser (RFC 9126 §4).
    ``is_push``: they are being pushed now, at the PAR endpoint (RFC 9126 §2.1), which
    validates them exactly as this endpoint would.
    """
    client = _establish_client(params)
    redirect_uri = _establish_redirect_uri(params, client)
    base = AuthorizationRequest(client, redirect_uri, state=None, pushed=pushed)
    state = _single(params, "state", base)
    base = AuthorizationRequest(client, redirect_uri, state=state, pushed=pushed)
    if pushed is None and not is_push:
        _check_not_required_to_push(base)
    if is_push:
        _check_nothing_pushed_by_reference(params, base)
    for check in (_check_parameters_are_single, _check_response_type, _check_unsupported_objects):
        check(params, base)
    scopes = _requested_scopes(params, base)
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        state=state,
        scopes=scopes,
        nonce=_nonce(params, base),
        code_challenge=_code_challenge(params, base),
        code_challenge_method="S256" if _single(params, "code_challenge", base) else None,
        prompt=_prompt(params, base),
        max_age=_max_age(params, base),
        login_hint=_single(params, "login_hint", base),
        acr_values=tuple((_single(params, "acr_values", base) or "").split()),
        hinted_subject=_hinted_subject(params, base),
        resources=_resources(params, base, scopes),
        pushed=pushed,
    )


def verified_redirect_uri(params: Params) -> str | None:
    """The request's redirect URI once the client and the URI are established, else None.

    From that point on, every outcome of the request (a code or an error) is a redirect there.
    """
    try:
        return _establish_redirect_uri(params, _establish_client(params))
    except UntrustedRedirect:
        return None


def _untrusted_value(params: Params, name: str) -> str:
    values = params.get(name, [])
    if len(values) != 1 or not values[0]:
        raise UntrustedRedirect("invalid_request", f"The request needs exactly one {name}.")
    value = values[0]
    if len(value) > MAX_PARAMETER_LENGTH or "\x00" in value:
        raise UntrustedRedirect("invalid_request", f"The {name} is not valid.")
    return value


def _establish_client(params: Params) -> Client:
    client = find_client(_untrusted_value(params, "client_id"))
    if client is None:
        raise UntrustedRedirect("invalid_client", "This application is not registered here.")
    return client


def _establish_redirect_uri(params: Params, client: Client) -> str:
    """RFC 9700 §4.1.1: exact match against the registered URIs (OIDC Core: REQUIRED)."""
    redirect_uri = _untrusted_value(params, "redirect_uri")
    problem = request_problem(redirect_uri)
    if problem is not None:
        # RFC 9700 §2.1: checked even when an older release registered this very URI.
        raise UntrustedRedirect("invalid_request", f"The redirect URI is refused: {problem}.")
    if not matches_registered(
        redirect_uri, client.redirect_uris, is_public_client=client.is_public
    ):
        raise UntrustedRedirect(
            "invalid_request", "The redirect URI is not registered for this application."
        )
    return redirect_uri


def _single(params: Params, name: str, request: AuthorizationRequest) -> str | None:
    values = params.get(name, [])
    if not values:
        return None
    if len(values) > 1:
        # RFC 6749 §3.1: parameters MUST NOT be included more than once.
        raise RedirectableError("invalid_request", repeated_parameter_description(name), request)
    value = values[0]
    if len(value) > MAX_PARAMETER_LENGTH or "\x00" in value:
        quoted = quoted_parameter(name)
        description = f"Invalid {quoted}." if quoted else "A parameter is malformed."
        raise RedirectableError("invalid_request", description, request)
    return value or None


def _check_parameters_are_single(params: Params, request: AuthorizationRequest) -> None:
    for name in params:
        if name != RESOURCE_PARAMETER:  # RFC 8707 §2: the one parameter that may repeat
            _single(params, name, request)


def _check_response_type(params: Params, request: AuthorizationRequest) -> None:
    response_type = _single(params, "response_type", request)
    if response_type is None:
        raise RedirectableError("invalid_request", "Missing 'response_type'.", request)
    if response_type != "code":
        raise RedirectableError(
            "unsupported_response_type", "Only response_type=code is supported.", request
        )
    if "authorization_code" not in request.client.grant_types:
        raise RedirectableError(
            "unauthorized_client", "This client may not use the authorization code flow.", request
        )
    response_mode = _single(params, "response_mode", request)
    if response_mode not in (None, "query"):
        raise RedirectableError(
            "invalid_request", "Only response_mode=query is supported.", request
        )


def _check_not_required_to_push(request: AuthorizationRequest) -> None:
    """RFC 9126 §5-6: a client (or the whole server) that requires PAR sends request_uri only."""
    if request.client.require_par or current_settings().require_par:
        raise RedirectableError(
            "invalid_request",
            "Authorization requests must be pushed first (PAR, RFC 9126); send request_uri.",
            request,
        )


def _check_nothing_pushed_by_reference(params: Params, request: AuthorizationRequest) -> None:
    """RFC 9126 §2.1: request_uri MUST NOT be pushed; request objects (JAR) are not supported."""
    if "request_uri" in params:
        raise RedirectableError(
            "invalid_request", "request_uri must not be sent to the PAR endpoint.", request
        )
    if "request" in params:
        raise RedirectableError(
            "request_not_supported",
            "Request objects (JAR) are not supported; push the parameters themselves.",
            request,
        )


def _check_unsupported_objects(params: Params, request: AuthorizationRequest) -> None:
    """OIDC Core §6: request objects are optional to support; say so with the defined codes."""
    if "request" in params:
        raise RedirectableError(
            "request_not_supported", "Request objects are not supported.", request
        )
    if "request_uri" in params:
        raise RedirectableError(
            "request_uri_not_supported", "request_uri is not supported.", request
        )


def _requested_scopes(params: Params, request: AuthorizationRequest) -> tuple[str, ...]:
    try:
        return requested_scopes(request.client, _single(params, "scope", request))
    except OAuth2Error as error:
        raise RedirectableError(error.error, error.description, request) from None


def _resources(
    params: Params, request: AuthorizationRequest, scopes: tuple[str, ...]
) -> tuple[str, ...]:
    try:
        return requested_resources(request.client, params.get(RESOURCE_PARAMETER, []), scopes)
    except OAuth2Error as error:
        raise RedirectableError(error.error, error.description, request) from None


def _code_challenge(params: Params, request: AuthorizationRequest) -> str | None:
    """RFC 7636 with RFC 9700 §2.1.1: PKCE required by default, and only S256."""
    challenge = _single(params, "code_challenge", request)
    method = _single(params, "code_challenge_method", request)
    if challenge is None:
        if method is not None or _pkce_required(request.client):
            raise RedirectableError(
                "invalid_request", "PKCE is required: send code_challenge with S256.", request
            )
        return None
    if method != "S256":
        # RFC 7636 §4.3: an absent method means "plain", which RFC 9700 §2.1.1 rules out.
        raise RedirectableError(
            "invalid_request", "Only code_challenge_method=S256 is supported.", request
        )
    if not S256_CHALLENGE.fullmatch(challenge):
        raise RedirectableError("invalid_request", "The code_challenge is malformed.", request)
    return challenge


def _pkce_required(client: Client) -> bool:
    settings = current_settings()
    return client.is_public or settings.pkce_required_for_confidential_clients


def _prompt(params: Params, request: AuthorizationRequest) -> frozenset[str]:
    values = frozenset(parse_scope(_single(params, "prompt", request)))
    if not values <= PROMPT_VALUES:
        raise RedirectableError("invalid_request", "Unsupported prompt value.", request)
    if "none" in values and len(values) > 1:
        # OIDC Core §3.1.2.1: prompt=none with any other value is an error.
        raise RedirectableError("invalid_request", "prompt=none cannot be combined.", request)
    return values


MAX_NONCE_LENGTH = 512  # the column's size


def _nonce(params: Params, request: AuthorizationRequest) -> str | None:
    nonce = _single(params, "nonce", request)
    if nonce is not None and len(nonce) > MAX_NONCE_LENGTH:
        raise RedirectableError(
            "invalid_request", f"The nonce is longer than {MAX_NONCE_LENGTH} characters.", request
        )
    return nonce


def _max_age(params: Params, request: AuthorizationRequest) -> int | None:
    raw = _single(params, "max_age", request)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        raise RedirectableError("invalid_request", "max_age must be a number of seconds.", request)
    return int(raw)


def _hinted_subject(params: Params, request: AuthorizationRequest) -> str | None:
    """OIDC Core §3.1.2.1: id_token_hint is an ID token this server issued (expired is fine).

    A hint that is not one (garbage, forged, another issuer's, another kind of token) is a
    malformed request, not something to ignore: the client asked about a particular user.
    """
    hint = _single(params, "id_token_hint", request)
    if hint is None:
        return None
    try:
        claims = verified_id_token_hint(hint)
    except InvalidIdTokenHint:
        raise RedirectableError(
            "invalid_request", "The id_token_hint is not an ID token issued here.", request
        ) from None
    return str(claims["sub"])
